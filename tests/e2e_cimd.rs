//! Client ID Metadata Documents end to end: the TypeScript SDK v2 client
//! (`@modelcontextprotocol/client`) with `clientMetadataUrl` authorizes against the `quickstart`
//! example (the notes server and its development authorization server) without dynamic client
//! registration, and calls a tool.
//!
//! That client accepts only `https` metadata URLs, even on loopback, so the test serves the
//! document over HTTPS on 127.0.0.1 with a certificate from a CA it generates
//! (`support/tls.rs`). The development server trusts that CA through the quickstart's
//! `SCOPEGATE_DEV_AUTH_EXTRA_CA`, Node through `NODE_EXTRA_CA_CERTS`.
//!
//! `tests/e2e/cimd.mjs` is the client; it records every HTTP request it makes. The Node packages
//! come from `tests/e2e/package-lock.json` (`npm ci --prefix tests/e2e`). Every process binds
//! 127.0.0.1 and is killed when its handle drops.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/tls.rs"]
mod tls;

use serde_json::{Value, json};

use e2e::{Node, Process, client_summary, example_binary};
use tls::{DocumentServer, TestCa};

const PATH: &str = "/oauth/client-metadata.json";
/// cimd.mjs's redirect URI (its default).
const REDIRECT: &str = "http://127.0.0.1/e2e-callback";

/// The CA's PEM file, removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn the_typescript_sdk_authorizes_with_a_client_id_metadata_document_and_no_registration() {
    let ca = TestCa::new();
    let ca_file = TempFile(ca.pem_file());
    let docs = DocumentServer::start(&ca).await;
    let client_id = docs.url(PATH);
    docs.json(
        PATH,
        60,
        &json!({
            "client_id": client_id,
            "client_name": "scopegate e2e (CIMD)",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
    );

    let mut command = tokio::process::Command::new(example_binary("quickstart").await);
    command
        .args(["--addr", "127.0.0.1:0", "--auto-approve"])
        .env("SCOPEGATE_DEV_AUTH_EXTRA_CA", &ca_file.0)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let mut server = Process::spawn("quickstart", command);
    let url = server.wait_for("MCP endpoint: ").await;
    assert!(url.starts_with("http://127.0.0.1:"), "endpoint {url}");

    let mut node = Node::get().command("cimd.mjs", &[&url, "--client-metadata-url", &client_id]);
    node.env("NODE_EXTRA_CA_CERTS", &ca_file.0);
    let summary = client_summary("cimd.mjs", Process::spawn("cimd", node), || server.log()).await;

    assert_eq!(summary["clientId"], client_id.as_str());
    assert_eq!(
        summary["tokenClientId"],
        client_id.as_str(),
        "the token names the document's URL"
    );
    assert_eq!(summary["tokenScope"], "notes:read");
    assert_eq!(summary["document"]["client_id"], client_id.as_str());
    let tools = summary["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("list_notes")), "{tools:?}");

    let requests = summary["requests"].as_array().unwrap();
    let paths: Vec<(String, String, i64)> = requests
        .iter()
        .map(|r: &Value| {
            let url = reqwest::Url::parse(r["url"].as_str().unwrap()).unwrap();
            (
                r["method"].as_str().unwrap().to_owned(),
                url.path().to_owned(),
                r["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        !paths.iter().any(|(_, path, _)| path.ends_with("/register")),
        "no dynamic client registration: {paths:?}"
    );
    for (method, path, status) in [
        (
            "GET",
            "/.well-known/oauth-authorization-server/dev-auth",
            200,
        ),
        ("POST", "/dev-auth/token", 200),
    ] {
        assert!(
            paths
                .iter()
                .any(|(m, p, s)| m == method && p == path && *s == status),
            "{method} {path} -> {status} missing from {paths:?}"
        );
    }
    // Once by the script itself, once by the development server: /authorize fetched it, /token
    // found it cached (max-age=60).
    assert_eq!(docs.hits(PATH), 2);
}

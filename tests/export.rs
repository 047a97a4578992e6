//! The scope table exported per provider (`Server::export`), over a small fixed server: each
//! format compared with its committed snapshot in `tests/fixtures/export/`, and each provider's
//! document checked against the fields its API documents and validated against the provider's
//! published schema (`tests/e2e/provider_schemas.mjs`, Ajv, over the JSON Schemas in
//! `tests/fixtures/export/schemas/`); and the quickstart's command line (`--export`, `--doctor`,
//! bad input, `--help`).
//!
//! After an intended change, `SCOPEGATE_SNAPSHOTS=overwrite cargo test --test export` rewrites
//! the snapshots; review the diff before committing it.

#[path = "support/e2e.rs"]
mod e2e;
mod support;

use std::path::{Path, PathBuf};

use e2e::{Node, Process, node_script};
use scopegate::auth::{JwtConfig, JwtVerifier, TokenVerifier};
use scopegate::export::{Format, entra_scope_id, entra_scope_value};
use scopegate::prelude::*;
use serde_json::Value;
use support::{KeyServer, quickstart_binary, run_quickstart};

const RESOURCE: &str = "https://files.example.com/mcp";

/// Anyone may ping.
#[mcp_tool(public, read_only)]
fn ping() -> String {
    "pong".into()
}

/// Reads a file.
#[mcp_tool(scope = "files:read", read_only)]
fn read_file(path: String) -> String {
    path
}

/// Writes a file; overwriting one needs the admin scope as well.
#[mcp_tool(scope = "files:write", when(overwrite => "files:admin"))]
fn write_file(path: String, overwrite: bool) -> String {
    format!("{path} {overwrite}")
}

/// Deletes every file.
#[mcp_tool(scope = "files:admin", destructive)]
fn purge() -> String {
    "purged".into()
}

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "files",
    tools(ping, read_file, write_file, purge),
    scopes("files:read", "files:write", "files:admin"),
    implies("files:admin" => ["files:read", "files:write"])
)]
struct Files;

fn server() -> Server<Files> {
    Files.into_server().expect("the fixture builds")
}

/// Compares `actual` with the snapshot `name`, or writes it when `SCOPEGATE_SNAPSHOTS=overwrite`.
fn snapshot(name: &str, actual: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/export")
        .join(name);
    if std::env::var("SCOPEGATE_SNAPSHOTS").as_deref() == Ok("overwrite") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with SCOPEGATE_SNAPSHOTS=overwrite to write it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from the export (- snapshot, + now); run with \
             SCOPEGATE_SNAPSHOTS=overwrite if the change is intended:\n{}",
            path.display(),
            diff(&expected, actual)
        );
    }
}

/// The lines that differ, with their numbers.
fn diff(expected: &str, actual: &str) -> String {
    let (old, new): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..old.len().max(new.len()) {
        match (old.get(i), new.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                if let Some(a) = a {
                    out.push_str(&format!("{:>4} - {a}\n", i + 1));
                }
                if let Some(b) = b {
                    out.push_str(&format!("{:>4} + {b}\n", i + 1));
                }
            }
        }
    }
    out
}

#[test]
fn every_format_matches_its_snapshot() {
    let server = server();
    for format in Format::ALL {
        let export = server.export(format, RESOURCE);
        assert_eq!(export.format(), format);
        let extension = if format == Format::Markdown {
            "md"
        } else {
            "json"
        };
        assert_eq!(export.json().is_some(), format != Format::Markdown);
        snapshot(&format!("{format}.{extension}"), &export.to_string());
        if !export.notes().is_empty() {
            snapshot(
                &format!("{format}.notes.txt"),
                &(export.notes().join("\n") + "\n"),
            );
        }
    }
}

fn document(format: Format) -> Value {
    server().export(format, RESOURCE).json().unwrap().clone()
}

fn array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is an array: {value}"))
}

const SCOPES: [&str; 3] = ["files:admin", "files:read", "files:write"];

/// What a client scope needs in a realm import: a name, the OpenID Connect protocol, string
/// attributes (Keycloak keeps them as strings) with the scope in the token, and an audience
/// mapper naming the resource; the realm's optional scopes name only scopes defined there.
#[test]
fn keycloak_has_a_client_scope_per_scope_with_the_audience_mapper() {
    let realm = document(Format::Keycloak);
    let scopes = array(&realm, "clientScopes");
    let names: Vec<&str> = scopes.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, SCOPES);
    for scope in scopes {
        assert_eq!(scope["protocol"], "openid-connect", "{scope}");
        let attributes = scope["attributes"].as_object().unwrap();
        assert!(attributes.values().all(Value::is_string), "{scope}");
        assert_eq!(attributes["include.in.token.scope"], "true");
        let mappers = array(scope, "protocolMappers");
        assert_eq!(mappers.len(), 1, "{scope}");
        let mapper = &mappers[0];
        assert_eq!(mapper["protocolMapper"], "oidc-audience-mapper");
        assert_eq!(mapper["protocol"], "openid-connect");
        let config = mapper["config"].as_object().unwrap();
        assert!(config.values().all(Value::is_string), "{mapper}");
        assert_eq!(config["included.custom.audience"], RESOURCE);
        assert_eq!(config["access.token.claim"], "true");
    }
    assert_eq!(array(&realm, "defaultOptionalClientScopes").len(), 3);
    for name in array(&realm, "defaultOptionalClientScopes") {
        assert!(names.contains(&name.as_str().unwrap()), "{name}");
    }
}

/// The Management API's create payload: `identifier` required, scopes with `value` (1 to 280
/// characters) and `description` (at most 500) and nothing else, a documented dialect and
/// signing algorithm, a name without `<` or `>`.
#[test]
fn auth0_is_a_resource_server_payload() {
    let api = document(Format::Auth0);
    assert_eq!(api["identifier"], RESOURCE);
    let keys: Vec<&str> = api
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in &keys {
        assert!(
            [
                "name",
                "identifier",
                "scopes",
                "signing_alg",
                "token_dialect"
            ]
            .contains(key),
            "{key}"
        );
    }
    assert!(!api["name"].as_str().unwrap().contains(['<', '>']));
    assert!(["HS256", "RS256", "PS256"].contains(&api["signing_alg"].as_str().unwrap()));
    assert!(
        [
            "access_token",
            "access_token_authz",
            "rfc9068_profile",
            "rfc9068_profile_authz"
        ]
        .contains(&api["token_dialect"].as_str().unwrap())
    );
    let scopes = array(&api, "scopes");
    let values: Vec<&str> = scopes
        .iter()
        .map(|s| s["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, SCOPES);
    for scope in scopes {
        let object = scope.as_object().unwrap();
        assert!(
            object.keys().all(|k| k == "value" || k == "description"),
            "{scope}"
        );
        let value = object["value"].as_str().unwrap();
        assert!((1..=280).contains(&value.chars().count()));
        assert!(object["description"].as_str().unwrap().chars().count() <= 500);
    }
    let admin = &scopes[0]["description"];
    assert_eq!(
        admin,
        "Unlocks the tools read_file, write_file, purge. Asked for by tool write_file \
         (when(overwrite => \"files:admin\")). Implies files:read, files:write (enforced by the \
         MCP server)."
    );
}

/// Graph's `permissionScope`: a GUID `id` (stable, derived from the scope), `type` User or
/// Admin, `isEnabled`, a value with no `:` or space and not starting with `.`; the manifest's
/// identifier URI is the resource.
#[test]
fn entra_permission_scopes_have_stable_guids_and_no_colons() {
    let manifest = document(Format::Entra);
    assert_eq!(manifest["identifierUris"], serde_json::json!([RESOURCE]));
    assert_eq!(manifest["api"]["requestedAccessTokenVersion"], 2);
    let scopes = array(&manifest["api"], "oauth2PermissionScopes");
    let values: Vec<&str> = scopes
        .iter()
        .map(|s| s["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["files.admin", "files.read", "files.write"]);
    let guid = |id: &str| {
        let groups: Vec<&str> = id.split('-').collect();
        groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    };
    for (scope, name) in scopes.iter().zip(SCOPES) {
        let id = scope["id"].as_str().unwrap();
        assert!(guid(id), "{id}");
        assert_eq!(id, entra_scope_id(name));
        assert_eq!(scope["value"], entra_scope_value(name));
        let value = scope["value"].as_str().unwrap();
        assert!(!value.contains([':', ' ']) && !value.starts_with('.'));
        assert!(["User", "Admin"].contains(&scope["type"].as_str().unwrap()));
        assert_eq!(scope["isEnabled"], true);
        for key in [
            "adminConsentDisplayName",
            "adminConsentDescription",
            "userConsentDisplayName",
            "userConsentDescription",
        ] {
            assert!(!scope[key].as_str().unwrap().is_empty(), "{key}");
        }
    }
    assert_eq!(scopes[0]["type"], "Admin", "files:admin implies others");
    assert_eq!(scopes[1]["type"], "User");
    // Derived from the name alone: the same in every export, whatever the server or resource.
    let other = server().export(Format::Entra, "https://elsewhere.example.com/mcp");
    assert_eq!(
        other.json().unwrap()["api"]["oauth2PermissionScopes"][1]["id"],
        scopes[1]["id"]
    );
    let export = server().export(Format::Entra, RESOURCE);
    let notes = export.notes().join("\n");
    assert!(
        notes.contains(r#".scope_alias("files.read", "files:read")"#),
        "{notes}"
    );
}

/// Okta's scope objects: `name` required, `consent` and `metadataPublish` from their enums; the
/// authorization server's audience is the resource.
#[test]
fn okta_scopes_use_the_documented_values() {
    let okta = document(Format::Okta);
    assert_eq!(
        okta["authorizationServer"]["audiences"],
        serde_json::json!([RESOURCE])
    );
    let scopes = array(&okta, "scopes");
    let names: Vec<&str> = scopes.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, SCOPES);
    for scope in scopes {
        assert!(["FLEXIBLE", "IMPLICIT", "REQUIRED"].contains(&scope["consent"].as_str().unwrap()));
        assert!(
            ["ALL_CLIENTS", "NO_CLIENTS"].contains(&scope["metadataPublish"].as_str().unwrap())
        );
        assert!(scope["default"].is_boolean() && scope["optional"].is_boolean());
    }
}

// ---- the providers' published schemas --------------------------------------------------------

const PROVIDERS: [Format; 4] = [Format::Keycloak, Format::Auth0, Format::Entra, Format::Okta];

/// Each committed provider export (equal to the export, by the snapshot test) is valid against
/// its provider's published schema, as transcribed in `tests/fixtures/export/schemas/`.
#[tokio::test]
async fn every_provider_export_is_valid_against_the_providers_published_schema() {
    let summary = node_script("provider_schemas.mjs", &[], String::new).await;
    let documents = summary["documents"].as_array().unwrap();
    let providers: Vec<&str> = documents
        .iter()
        .map(|d| d["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, PROVIDERS.map(Format::name), "{summary}");
    for document in documents {
        assert_eq!(document["ok"], true, "{document}");
        assert_eq!(document["errors"], serde_json::json!([]), "{document}");
    }
}

/// What a broken export looks like: `edit` applied to the export of `format`, and the
/// error the provider's schema must answer with (where, and which keyword).
struct Broken {
    format: Format,
    what: &'static str,
    edit: fn(&mut Value),
    at: &'static str,
    keyword: &'static str,
}

/// The validator bites: every copy of an export broken in a way the provider's published schema
/// forbids fails it, with the error at the broken place, and the run exits 1.
#[tokio::test]
async fn the_provider_schemas_refuse_broken_exports() {
    let cases = [
        Broken {
            format: Format::Okta,
            what: "a consent outside OAuth2ScopeConsentType",
            edit: |d| d["scopes"][0]["consent"] = "ALWAYS".into(),
            at: "/scopes/0/consent",
            keyword: "enum",
        },
        Broken {
            format: Format::Okta,
            what: "a read-only id in a request body",
            edit: |d| d["authorizationServer"]["id"] = "aus1".into(),
            at: "/authorizationServer/id",
            keyword: "false schema",
        },
        Broken {
            format: Format::Auth0,
            what: "a scope without its required value",
            edit: |d| {
                d["scopes"][1].as_object_mut().unwrap().remove("value");
            },
            at: "/scopes/1",
            keyword: "required",
        },
        Broken {
            format: Format::Auth0,
            what: "a property ResourceServerScope does not have",
            edit: |d| d["scopes"][0]["name"] = "files:admin".into(),
            at: "/scopes/0",
            keyword: "additionalProperties",
        },
        Broken {
            format: Format::Auth0,
            what: "a description over 500 characters",
            edit: |d| d["scopes"][2]["description"] = "x".repeat(501).into(),
            at: "/scopes/2/description",
            keyword: "maxLength",
        },
        Broken {
            format: Format::Keycloak,
            what: "a deprecated protocol mapper property",
            edit: |d| d["clientScopes"][0]["protocolMappers"][0]["consentRequired"] = false.into(),
            at: "/clientScopes/0/protocolMappers/0/consentRequired",
            keyword: "false schema",
        },
        Broken {
            format: Format::Keycloak,
            what: "a non-string attribute (Map<String, String>)",
            edit: |d| d["clientScopes"][1]["attributes"]["include.in.token.scope"] = true.into(),
            at: "/clientScopes/1/attributes/include.in.token.scope",
            keyword: "type",
        },
        Broken {
            format: Format::Entra,
            what: "a permission scope id that is no GUID",
            edit: |d| d["api"]["oauth2PermissionScopes"][0]["id"] = "files-admin".into(),
            at: "/api/oauth2PermissionScopes/0/id",
            keyword: "format",
        },
        Broken {
            format: Format::Entra,
            what: "a property permissionScope does not have",
            edit: |d| d["api"]["oauth2PermissionScopes"][1]["lang"] = "en".into(),
            at: "/api/oauth2PermissionScopes/1",
            keyword: "additionalProperties",
        },
    ];
    let dir =
        std::env::temp_dir().join(format!("scopegate-provider-schemas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut document = document(case.format);
        (case.edit)(&mut document);
        let path = dir.join(format!("{i}-{}.json", case.format));
        std::fs::write(&path, document.to_string()).unwrap();
        args.push(format!("{}={}", case.format, path.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut process = Process::spawn(
        "provider_schemas",
        Node::get().command("provider_schemas.mjs", &args),
    );
    let status = process.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
    let last = process.stdout().last().cloned().unwrap_or_default();
    let summary: Value = serde_json::from_str(&last)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{}", process.log()));
    assert_eq!(status.code(), Some(1), "{}", process.log());
    assert_eq!(summary["ok"], false);
    let documents = summary["documents"].as_array().unwrap();
    assert_eq!(documents.len(), cases.len());
    for (case, result) in cases.iter().zip(documents) {
        assert_eq!(result["provider"], case.format.name());
        assert_eq!(result["ok"], false, "{}: {result}", case.what);
        let errors = result["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["instancePath"] == case.at && e["keyword"] == case.keyword),
            "{}: expected `{}` at {}: {result}",
            case.what,
            case.keyword,
            case.at
        );
    }
}

/// The hierarchy, which no provider expresses, is explained in every provider's notes; the
/// scope table's own formats carry it already.
#[test]
fn the_hierarchy_is_explained_where_the_provider_cannot_express_it() {
    let server = server();
    for format in [Format::Keycloak, Format::Auth0, Format::Entra, Format::Okta] {
        let export = server.export(format, RESOURCE);
        assert!(
            export
                .notes()
                .iter()
                .any(|n| n.contains("`files:admin` implies `files:read`, `files:write`")),
            "{format}: {:?}",
            export.notes()
        );
    }
    let json = server.export(Format::Json, RESOURCE);
    let json = json.json().unwrap();
    assert_eq!(json["resource"], RESOURCE);
    assert_eq!(
        json["scopes"][1]["implied_by"],
        serde_json::json!(["files:admin"])
    );
    let markdown = server.export(Format::Markdown, RESOURCE).to_string();
    assert!(
        markdown.contains("| `files:read` | `files:admin` |"),
        "{markdown}"
    );
}

/// A token as Entra issues it for the exported scopes (`scp` with the `:`-free values, `aud` the
/// application id) is accepted with the aliases the export's notes name, and its scopes are the
/// server's: `files.read` unlocks `read_file`; without the aliases it unlocks nothing.
#[tokio::test]
async fn entra_spelt_scopes_count_as_the_servers_with_the_aliases() {
    const APPLICATION_ID: &str = "00000000-0000-0000-0000-0000000000aa";
    let keys = KeyServer::start().await;
    let token = keys
        .token(APPLICATION_ID, "")
        .scp_string(entra_scope_value("files:read"))
        .build();
    let aliased = SCOPES.iter().fold(
        JwtConfig::new(keys.issuer(), APPLICATION_ID),
        |config, scope| config.scope_alias(entra_scope_value(scope), *scope),
    );
    let principal = JwtVerifier::new(aliased).verify(&token).await.unwrap();
    assert_eq!(principal.scopes().to_string(), "files:read");
    let server = server();
    assert!(server.scopes().satisfies(principal.scopes(), "files:read"));
    let plain = JwtVerifier::new(JwtConfig::new(keys.issuer(), APPLICATION_ID));
    let principal = plain.verify(&token).await.unwrap();
    assert_eq!(principal.scopes().to_string(), "files.read");
    assert!(!server.scopes().satisfies(principal.scopes(), "files:read"));
}

// ---- the quickstart's command line ----------------------------------------------------------

/// `--export FORMAT` prints the document on stdout (JSON that parses, for every format but
/// Markdown) and the notes on stderr, for the resource given with `--resource`.
#[test]
fn the_quickstart_exports_every_format() {
    let resource = "https://notes.example.com/mcp";
    for format in Format::ALL {
        let (code, stdout, stderr) =
            run_quickstart(&["--export", format.name(), "--resource", resource]);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(stdout.contains(resource), "{format}: {stdout}");
        if format == Format::Markdown {
            assert!(stdout.starts_with("# Scopes of `notes`"), "{stdout}");
        } else {
            let document: Value = serde_json::from_str(&stdout).unwrap();
            assert!(document.is_object(), "{format}");
        }
        if matches!(format, Format::Json | Format::Markdown) {
            assert!(stderr.is_empty(), "{format}: {stderr}");
        } else {
            assert!(stderr.lines().all(|l| l.starts_with("note: ")), "{stderr}");
            assert!(stderr.contains("`notes:admin` implies"), "{stderr}");
        }
    }
    // The former spelling still works.
    let (code, stdout, _) = run_quickstart(&["--scope-table", "json"]);
    assert_eq!(code, Some(0));
    let table: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(table["server"], "notes");
}

/// Bad input is one line on stderr naming the problem, exit status 2, nothing on stdout;
/// `--help` answers with the options.
#[test]
fn the_quickstart_refuses_bad_input_in_one_line_and_answers_help() {
    for (args, expected) in [
        (
            &["--export", "yaml"][..],
            "unknown export format `yaml`: use one of keycloak",
        ),
        (
            &["--export"][..],
            "a value is required for '--export <FORMAT>'",
        ),
        (&["--frobnicate"][..], "unexpected argument '--frobnicate'"),
        (
            &["--export", "json", "--scope-table", "json"][..],
            "cannot be used with",
        ),
        (
            &["--addr", "nowhere"][..],
            "invalid value 'nowhere' for '--addr <ADDR>'",
        ),
    ] {
        let (code, stdout, stderr) = run_quickstart(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("quickstart: "), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (code, stdout, _) = run_quickstart(&["--help"]);
    assert_eq!(code, Some(0));
    for option in [
        "--export <FORMAT>",
        "--addr <ADDR>",
        "--issuer <URL>",
        "--resource <URL>",
    ] {
        assert!(stdout.contains(option), "{stdout}");
    }
    assert!(!stdout.contains("--scope-table"), "hidden: {stdout}");
}

/// `--doctor URL` checks a running quickstart (every check passes: exit 0, one line per check
/// and a summary) and names an unreachable one in a failing line (exit 1); `--token` without
/// `--doctor` is refused.
#[test]
fn the_quickstart_runs_the_doctor() {
    use std::io::BufRead as _;
    let mut server = std::process::Command::new(quickstart_binary())
        .args(["--addr", "127.0.0.1:0", "--auto-approve"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the quickstart starts");
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("MCP endpoint: ").map(str::to_owned))
        .expect("the quickstart prints its endpoint");
    // Its log goes on: read it to the end, or its writes would fail on a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let (code, stdout, stderr) = run_quickstart(&["--doctor", &url]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for line in ["pass  issuer match", "pass  S256", "pass  jwks asymmetric"] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(
        stdout.lines().last().unwrap().starts_with("summary: "),
        "{stdout}"
    );

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", dead.local_addr().unwrap());
    drop(dead);
    let (code, stdout, _) = run_quickstart(&["--doctor", &url]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("fail  resource metadata"), "{stdout}");

    let (code, _, stderr) = run_quickstart(&["--token", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--doctor <URL>"), "{stderr}");
}

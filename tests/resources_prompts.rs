//! Resources (static and templated) and prompts, with the same scopes, tables and enforcement as
//! tools; completions for their arguments.

use scopegate::prelude::*;
use scopegate::protocol::error_code;
use scopegate::{Reply, ScopeSet};
use serde_json::{Value, json};

/// The readme.
#[mcp_resource(uri = "docs://readme", mime_type = "text/markdown", public)]
fn readme() -> &'static str {
    "# Readme"
}

/// A document by id.
#[mcp_resource(
    uri = "docs://doc/{id}",
    mime_type = "text/plain",
    scope = "docs:read",
    title = "Document"
)]
fn doc(id: u32) -> Result<String, ResourceError> {
    if id == 404 {
        return Err(ResourceError::not_found());
    }
    if id == 500 {
        return Err(ResourceError::new("the disk is on fire"));
    }
    Ok(format!("document {id}"))
}

/// A file under a path (reserved expansion keeps the slashes).
#[mcp_resource(uri = "files:///{+path}", scope = "files:read")]
async fn file(path: String, who: Principal) -> Vec<u8> {
    format!("{path} for {}", who.subject().unwrap_or("?")).into_bytes()
}

/// The secrets.
#[mcp_resource(uri = "docs://secrets", scopes = ["docs:read", "docs:admin"])]
fn secrets() -> ResourceContents {
    ResourceContents::Text {
        uri: "docs://secrets".into(),
        mime_type: Some("application/json".into()),
        text: "{}".into(),
    }
}

fn languages(prefix: &str) -> Vec<String> {
    ["rust", "ruby", "python"]
        .iter()
        .filter(|l| l.starts_with(prefix))
        .map(|l| (*l).to_owned())
        .collect()
}

/// Reviews code.
#[mcp_prompt(scope = "docs:read", title = "Code review")]
fn review(
    #[arg(description = "The code to review.")] code: String,
    #[arg(complete = languages)] language: Option<String>,
    #[arg(description = "How strict, 1 to 5.")] strictness: Option<u8>,
) -> Vec<PromptMessage> {
    vec![
        PromptMessage::user(format!(
            "Review this {} code (strictness {}):\n{code}",
            language.unwrap_or_else(|| "unknown".into()),
            strictness.unwrap_or(3)
        )),
        PromptMessage::assistant("Let me look."),
    ]
}

/// Says hello.
#[mcp_prompt(public, name = "hello")]
fn hello_prompt() -> String {
    "Hello!".into()
}

/// Fails.
#[mcp_prompt(public)]
fn broken() -> Result<String, PromptError> {
    Err(PromptError::new("no template"))
}

/// An argument whose parsing panics: a bug in the server's own code, reached by a client.
#[derive(schemars::JsonSchema)]
struct Fragile;

impl<'de> serde::Deserialize<'de> for Fragile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        assert_ne!(text, "boom", "internal detail: parser table at 0xdeadbeef");
        Ok(Fragile)
    }
}

/// Takes a fragile argument.
#[mcp_prompt(public)]
fn fragile(input: Fragile) -> String {
    let Fragile = input;
    String::new()
}

#[derive(McpServer)]
#[mcp(
    name = "docs",
    resources(readme, doc, file, secrets),
    prompts(review, hello_prompt, broken, fragile),
    implies("docs:admin" => ["docs:read"]),
)]
struct Docs;

fn principal(scopes: &str) -> Principal {
    Principal::builder()
        .subject("zoe")
        .scopes(ScopeSet::from_space_separated(scopes))
        .build()
}

async fn reply(who: &Principal, method: &str, params: Value) -> Reply {
    let server = Server::new(Docs).unwrap();
    let message = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params});
    server
        .handle_bytes(message.to_string().as_bytes(), who)
        .await
}

async fn respond(who: &Principal, method: &str, params: Value) -> Value {
    match reply(who, method, params).await {
        Reply::Response(r) => serde_json::from_str(&r.to_json()).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn resource_and_prompt_scopes_join_the_scope_table() {
    assert_eq!(Docs::SCOPES, ["docs:admin", "docs:read", "files:read"]);
}

#[tokio::test]
async fn lists_separate_resources_templates_and_prompts() {
    let anyone = Principal::anonymous();
    let r = respond(&anyone, "resources/list", json!({})).await;
    assert_eq!(
        r["result"]["resources"],
        json!([
            {"uri":"docs://readme","name":"readme","description":"The readme.","mimeType":"text/markdown","_meta":{"dev.scopegate/requiredScopes":[]}},
            {"uri":"docs://secrets","name":"secrets","description":"The secrets.","_meta":{"dev.scopegate/requiredScopes":["docs:read","docs:admin"]}},
        ])
    );
    let r = respond(&anyone, "resources/templates/list", json!({})).await;
    let templates = r["result"]["resourceTemplates"].as_array().unwrap();
    assert_eq!(templates.len(), 2);
    assert_eq!(templates[0]["uriTemplate"], "docs://doc/{id}");
    assert_eq!(templates[0]["title"], "Document");
    assert_eq!(templates[1]["uriTemplate"], "files:///{+path}");

    let r = respond(&anyone, "prompts/list", json!({})).await;
    let prompts = r["result"]["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 4);
    assert_eq!(
        prompts[0],
        json!({
            "name": "review", "title": "Code review", "description": "Reviews code.",
            "arguments": [
                {"name":"code","description":"The code to review.","required":true},
                {"name":"language","required":false},
                {"name":"strictness","description":"How strict, 1 to 5.","required":false},
            ],
            "_meta": {"dev.scopegate/requiredScopes": ["docs:read"]},
        })
    );
    assert_eq!(prompts[1]["name"], "hello");

    let r = respond(
        &anyone,
        "initialize",
        json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}),
    )
    .await;
    let capabilities = &r["result"]["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"listChanged": false, "subscribe": true})
    );
    assert_eq!(capabilities["logging"], json!({}));
    assert_eq!(capabilities["prompts"], json!({"listChanged": false}));
    assert_eq!(capabilities["completions"], json!({}));
}

#[tokio::test]
async fn reading_resources_fills_uri_and_mime_type() {
    let reader = principal("docs:read files:read");
    let r = respond(&reader, "resources/read", json!({"uri":"docs://readme"})).await;
    assert_eq!(
        r["result"],
        json!({"contents":[{"uri":"docs://readme","mimeType":"text/markdown","text":"# Readme"}]})
    );
    let r = respond(&reader, "resources/read", json!({"uri":"docs://doc/7"})).await;
    assert_eq!(
        r["result"]["contents"][0],
        json!({"uri":"docs://doc/7","mimeType":"text/plain","text":"document 7"})
    );
    let r = respond(
        &reader,
        "resources/read",
        json!({"uri":"files:///a/b%20c.txt"}),
    )
    .await;
    assert_eq!(r["result"]["contents"][0]["uri"], "files:///a/b%20c.txt");
    // base64 of "a/b c.txt for zoe"
    assert_eq!(
        r["result"]["contents"][0]["blob"],
        "YS9iIGMudHh0IGZvciB6b2U="
    );
}

#[tokio::test]
async fn resource_errors_use_the_mcp_codes() {
    let reader = principal("docs:read");
    for (uri, code) in [
        ("docs://nothing", error_code::RESOURCE_NOT_FOUND),
        ("docs://doc/404", error_code::RESOURCE_NOT_FOUND),
        ("docs://doc/500", error_code::INTERNAL_ERROR),
        ("docs://doc/seven", error_code::INVALID_PARAMS),
    ] {
        let r = respond(&reader, "resources/read", json!({ "uri": uri })).await;
        assert_eq!(r["error"]["code"], code, "{uri}: {r}");
    }
    let r = respond(&reader, "resources/read", json!({"uri":"docs://doc/500"})).await;
    assert_eq!(r["error"]["message"], "the disk is on fire");
    let r = respond(&reader, "resources/read", json!({})).await;
    assert_eq!(r["error"]["code"], error_code::INVALID_PARAMS);
}

#[tokio::test]
async fn resources_and_prompts_are_denied_without_their_scopes() {
    let Reply::Denied(denial) = reply(
        &principal("files:read"),
        "resources/read",
        json!({"uri":"docs://doc/1"}),
    )
    .await
    else {
        panic!("docs:read is required");
    };
    assert_eq!(
        (denial.kind, denial.name.as_str()),
        ("resource", "docs://doc/1")
    );
    assert_eq!(denial.missing, ["docs:read"]);
    let Reply::Denied(denial) = reply(
        &principal("docs:read"),
        "resources/read",
        json!({"uri":"docs://secrets"}),
    )
    .await
    else {
        panic!("docs:admin is required too");
    };
    assert_eq!(denial.missing, ["docs:admin"]);
    // The hierarchy counts: docs:admin implies docs:read.
    let r = respond(
        &principal("docs:admin"),
        "resources/read",
        json!({"uri":"docs://secrets"}),
    )
    .await;
    assert_eq!(r["result"]["contents"][0]["text"], "{}");

    let Reply::Denied(denial) = reply(
        &Principal::anonymous(),
        "prompts/get",
        json!({"name":"review","arguments":{"code":"x"}}),
    )
    .await
    else {
        panic!("prompts need their scopes");
    };
    assert_eq!((denial.kind, denial.name.as_str()), ("prompt", "review"));
    let Reply::Denied(_) = reply(
        &Principal::anonymous(),
        "completion/complete",
        json!({"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"language","value":"r"}}),
    )
    .await
    else {
        panic!("completing a protected prompt's arguments needs its scopes");
    };
}

#[tokio::test]
async fn prompts_render_with_string_arguments() {
    let reader = principal("docs:read");
    let r = respond(
        &reader,
        "prompts/get",
        json!({"name":"review","arguments":{"code":"fn x(){}","language":"rust","strictness":"5"}}),
    )
    .await;
    assert_eq!(
        r["result"]["messages"],
        json!([
            {"role":"user","content":{"type":"text","text":"Review this rust code (strictness 5):\nfn x(){}"}},
            {"role":"assistant","content":{"type":"text","text":"Let me look."}},
        ])
    );
    let r = respond(&reader, "prompts/get", json!({"name":"hello"})).await;
    assert_eq!(r["result"]["messages"][0]["content"]["text"], "Hello!");

    for (params, code) in [
        (
            json!({"name":"review","arguments":{}}),
            error_code::INVALID_PARAMS,
        ),
        (
            json!({"name":"review","arguments":{"code":"x","strictness":"very"}}),
            error_code::INVALID_PARAMS,
        ),
        (
            json!({"name":"review","arguments":{"code":"x","colour":"red"}}),
            error_code::INVALID_PARAMS,
        ),
        (json!({"name":"nope"}), error_code::INVALID_PARAMS),
        (json!({"name":"broken"}), error_code::INTERNAL_ERROR),
    ] {
        let r = respond(&reader, "prompts/get", params.clone()).await;
        assert_eq!(r["error"]["code"], code, "{params}: {r}");
    }
    let r = respond(
        &reader,
        "prompts/get",
        json!({"name":"review","arguments":{}}),
    )
    .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`code`: missing required argument")
    );
}

#[tokio::test]
async fn a_panic_while_reading_arguments_is_an_internal_error_without_its_text() {
    let r = respond(
        &principal(""),
        "prompts/get",
        json!({"name":"fragile","arguments":{"input":"boom"}}),
    )
    .await;
    assert_eq!(r["error"]["code"], error_code::INTERNAL_ERROR, "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert_eq!(message, "prompt `fragile` failed with an internal error");
    assert!(!r.to_string().contains("deadbeef"), "{r}");
}

#[tokio::test]
async fn completions_come_from_the_argument_hook() {
    let reader = principal("docs:read");
    let r = respond(
        &reader,
        "completion/complete",
        json!({"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"language","value":"r"}}),
    )
    .await;
    assert_eq!(
        r["result"],
        json!({"completion":{"values":["rust","ruby"],"total":2,"hasMore":false}})
    );
    let r = respond(
        &reader,
        "completion/complete",
        json!({"ref":{"type":"ref/prompt","name":"review"},"argument":{"name":"code","value":""}}),
    )
    .await;
    assert_eq!(r["result"]["completion"]["values"], json!([]));
    let r = respond(
        &reader,
        "completion/complete",
        json!({"ref":{"type":"ref/prompt","name":"nope"},"argument":{"name":"x","value":""}}),
    )
    .await;
    assert_eq!(r["error"]["code"], error_code::INVALID_PARAMS);
}

/// Anyone's note.
#[mcp_resource(uri = "notes://note/{id}", public)]
fn note(id: String) -> String {
    format!("note {id}")
}

/// The administrator's note, under the same URIs as anyone's.
#[mcp_resource(uri = "notes://note/secret", scope = "notes:admin")]
fn secret_note() -> &'static str {
    "the secret"
}

/// Anything in the vault, to anyone.
#[mcp_resource(uri = "vault://{+path}", public)]
fn vault(path: String) -> String {
    format!("vault {path}")
}

/// The vault's private shelf, which the template above also matches.
#[mcp_resource(uri = "vault://private/{name}", scope = "vault:private")]
fn private_shelf(name: String) -> String {
    format!("private {name}")
}

#[derive(McpServer)]
#[mcp(name = "overlap", resources(note, secret_note, vault, private_shelf))]
struct Overlap;

async fn read_overlap(who: &Principal, uri: &str) -> Reply {
    let server = Server::new(Overlap).unwrap();
    let message = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":uri}});
    server
        .handle_bytes(message.to_string().as_bytes(), who)
        .await
}

fn text_of(reply: Reply) -> String {
    let Reply::Response(r) = reply else {
        panic!("expected a response, got {reply:?}");
    };
    let r: Value = serde_json::from_str(&r.to_json()).unwrap();
    r["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

/// The reply is MCP's "resource not found" (-32002).
fn assert_missing(reply: Reply) {
    let Reply::Response(r) = reply else {
        panic!("expected a not-found response, got {reply:?}");
    };
    let r: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(r["error"]["code"], -32002, "{r}");
}

#[tokio::test]
async fn a_protected_resource_is_not_reached_under_another_spelling_or_template() {
    let anyone = Principal::anonymous();
    // RFC 3986 equivalents of the protected URI: the same resource, the same scopes.
    for uri in [
        "notes://note/secret",
        "notes://note/%73ecret",
        "notes://note/%73%65cret",
        "NOTES://NOTE/secret",
    ] {
        let Reply::Denied(denial) = read_overlap(&anyone, uri).await else {
            panic!("{uri} reached the secret note without its scope");
        };
        assert_eq!(denial.missing, ["notes:admin"], "{uri}");
    }
    let admin = principal("notes:admin");
    assert_eq!(
        text_of(read_overlap(&admin, "notes://note/%73ecret").await),
        "the secret"
    );
    assert_eq!(
        text_of(read_overlap(&anyone, "notes://note/other").await),
        "note other"
    );
    // A simple variable is one segment, even percent-encoded.
    assert_missing(read_overlap(&anyone, "notes://note/..%2Fsecret").await);

    // Two templates over the same URIs: the open one does not serve what the other protects.
    let Reply::Denied(denial) = read_overlap(&anyone, "vault://private/plans").await else {
        panic!("the private shelf was read through the open template");
    };
    assert_eq!(denial.missing, ["vault:private"]);
    assert_eq!(
        text_of(read_overlap(&anyone, "vault://open/plans").await),
        "vault open/plans"
    );
    // An escaped `/` does not carry the private shelf's path past its template's literals.
    assert_missing(read_overlap(&anyone, "vault://private%2Fplans").await);
    assert!(matches!(
        read_overlap(&principal("vault:private"), "vault://private/plans").await,
        Reply::Response(_)
    ));
}

#[tokio::test]
async fn granted_visibility_filters_every_list_by_the_callers_scopes() {
    let server = Server::with_options(
        Docs,
        scopegate::ServerOptions::default().list_visibility(scopegate::ListVisibility::Granted),
    )
    .unwrap();
    let list = async |who: &Principal, method: &str, key: &str| -> Vec<String> {
        let message = json!({"jsonrpc":"2.0","id":1,"method":method,"params":{}});
        let Reply::Response(r) = server
            .handle_bytes(message.to_string().as_bytes(), who)
            .await
        else {
            panic!("{method}: no response");
        };
        let r: Value = serde_json::from_str(&r.to_json()).unwrap();
        r["result"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|e| {
                e.get("name")
                    .or_else(|| e.get("uriTemplate"))
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let anyone = Principal::anonymous();
    assert_eq!(
        list(&anyone, "resources/list", "resources").await,
        ["readme"]
    );
    assert!(
        list(&anyone, "resources/templates/list", "resourceTemplates")
            .await
            .is_empty()
    );
    assert_eq!(
        list(&anyone, "prompts/list", "prompts").await,
        ["hello", "broken", "fragile"]
    );
    let reader = principal("docs:read");
    assert_eq!(
        list(&reader, "resources/templates/list", "resourceTemplates").await,
        ["doc"]
    );
    assert_eq!(
        list(&reader, "prompts/list", "prompts").await,
        ["review", "hello", "broken", "fragile"]
    );
    let admin = principal("docs:admin");
    assert_eq!(
        list(&admin, "resources/list", "resources").await,
        ["readme", "secrets"],
        "docs:admin implies docs:read"
    );
}

#[tokio::test]
async fn updates_reach_a_session_only_while_its_principal_may_read_the_resource() {
    use scopegate::Outbound;
    use scopegate::protocol::Message;
    let server = Server::new(Docs).unwrap();
    let connection = server.connect();
    let (outbound, _to_client) = Outbound::channel();
    connection.set_standalone(outbound);
    let send = async |who: &Principal, method: &str, params: Value| {
        let text = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}).to_string();
        let message = Message::parse(text.as_bytes()).unwrap();
        server.handle_in(message, who, &connection, None).await
    };
    let answered = |reply: Reply| assert!(matches!(reply, Reply::Response(_)), "{reply:?}");
    let reader = principal("docs:read");
    let init = json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}});
    answered(send(&reader, "initialize", init).await);
    answered(
        send(
            &reader,
            "resources/subscribe",
            json!({"uri":"docs://doc/1"}),
        )
        .await,
    );
    assert_eq!(server.notify_resource_updated("docs://doc/1"), 1);

    // The session's next request comes with a token without docs:read: no more updates.
    let narrower = principal("files:read");
    answered(send(&narrower, "ping", json!({})).await);
    assert_eq!(server.notify_resource_updated("docs://doc/1"), 0);
    // With the scope again, they resume.
    answered(send(&reader, "ping", json!({})).await);
    assert_eq!(server.notify_resource_updated("docs://doc/1"), 1);

    // Unsubscribing needs no scope: a client that lost it can still stop listening.
    answered(
        send(
            &narrower,
            "resources/unsubscribe",
            json!({"uri":"docs://doc/1"}),
        )
        .await,
    );
    answered(send(&reader, "ping", json!({})).await);
    assert_eq!(server.notify_resource_updated("docs://doc/1"), 0);
}

/// Declared with an upper-case scheme and host, which no request could match as written.
#[mcp_resource(uri = "Shout://Loud/x", public)]
fn shouted() -> &'static str {
    "x"
}

#[derive(McpServer)]
#[mcp(name = "shout", resources(shouted))]
struct Shout;

#[test]
fn a_resource_uri_is_declared_in_its_normal_form() {
    let Err(error) = Server::new(Shout) else {
        panic!("a URI no request could match was accepted");
    };
    assert!(
        error.to_string().contains("`shout://loud/x`"),
        "the error names the normal form: {error}"
    );
}

// ---- dot segments (RFC 3986 §5.2.4) ----------------------------------------------------------

/// Counts handler runs, so a refusal can prove that no handler ran.
#[derive(Clone, Default)]
struct Runs(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Runs {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn ran(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Anything on the store's shelves, to anyone.
#[mcp_resource(uri = "store://h/{+path}", public)]
fn shelf(runs: State<Runs>, path: String) -> String {
    runs.ran();
    format!("shelf {path}")
}

/// The private plans.
#[mcp_resource(uri = "store://h/private/plans", scope = "store:private")]
fn plans(runs: State<Runs>) -> String {
    runs.ran();
    "the plans".into()
}

/// The vault, by item.
#[mcp_resource(uri = "store://h/vault/{item}", scope = "store:vault")]
fn vault_item(runs: State<Runs>, item: String) -> String {
    runs.ran();
    format!("vault {item}")
}

#[derive(McpServer, Clone, Default)]
#[mcp(name = "store", resources(shelf, plans, vault_item))]
struct Store {
    #[mcp(state)]
    runs: Runs,
}

/// A `resources/read` of `uri`, in the 2026-07-28 era when `modern`.
async fn read_store(server: &Server<Store>, who: &Principal, uri: &str, modern: bool) -> Reply {
    let mut params = json!({ "uri": uri });
    if modern {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "0" },
            "io.modelcontextprotocol/clientCapabilities": {},
        });
    }
    let message = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":params});
    server
        .handle_bytes(message.to_string().as_bytes(), who)
        .await
}

/// The reply is "resource not found": -32002, which 2026-07-28 folds into -32602.
fn assert_not_found(reply: Reply, modern: bool) {
    let Reply::Response(r) = reply else {
        panic!("expected a not-found response, got {reply:?}");
    };
    let r: Value = serde_json::from_str(&r.to_json()).unwrap();
    let code = if modern {
        error_code::INVALID_PARAMS
    } else {
        -32002
    };
    assert_eq!(r["error"]["code"], code, "{r}");
    assert_eq!(r["error"]["message"], "resource not found", "{r}");
}

/// Every spelling of `..` (RFC 3986 §2.3: `%2E` is `.`).
const DOT_DOT: [&str; 6] = ["..", "%2E%2E", "%2e%2e", ".%2E", "%2e.", "%2E."];

#[tokio::test]
async fn dot_segments_are_resolved_before_a_resource_is_looked_up() {
    let runs = Runs::default();
    let server = Server::new(Store { runs: runs.clone() }).unwrap();
    let anyone = Principal::anonymous();
    for modern in [false, true] {
        for dots in DOT_DOT {
            // The public template would take these; what they name is protected.
            for (uri, missing) in [
                (
                    format!("store://h/public/{dots}/private/plans"),
                    "store:private",
                ),
                (
                    format!("store://h/a/b/{dots}/{dots}/private/plans"),
                    "store:private",
                ),
                (
                    format!("store://h/public/./{dots}/vault/gold"),
                    "store:vault",
                ),
            ] {
                let Reply::Denied(denial) = read_store(&server, &anyone, &uri, modern).await else {
                    panic!("{uri} (modern: {modern}) was read without {missing}");
                };
                assert_eq!(denial.missing, [missing], "{uri}");
            }
            // Above the root: nothing, not even the public shelf clamped to `store://h/x`.
            for uri in [
                format!("store://h/{dots}/private/plans"),
                format!("store://h/a/{dots}/{dots}/private/plans"),
                format!("store://h/public/{dots}/{dots}/{dots}/x"),
                format!("store://h/{dots}"),
            ] {
                assert_not_found(read_store(&server, &anyone, &uri, modern).await, modern);
            }
        }
        // A value with a dot segment that the path's resolution cannot see: `%5C` (`\`) is no
        // separator in a URI, but it is one in a Windows path.
        let uri = "store://h/a/..%5C..%5Cx";
        assert_not_found(read_store(&server, &anyone, uri, modern).await, modern);
    }
    assert_eq!(runs.count(), 0, "a handler ran for a refused URI");

    // With the scopes, the resolved URI is read, by its own handler.
    let insider = principal("store:private store:vault");
    let admitted = read_store(
        &server,
        &insider,
        "store://h/public/%2E%2E/private/plans",
        false,
    );
    assert_eq!(text_of(admitted.await), "the plans");
    // (Both templates match `store://h/vault/gold`: the first declared serves it, once the
    // scopes of both are held.)
    let admitted = read_store(&server, &insider, "store://h/x/../vault/gold", true);
    assert_eq!(text_of(admitted.await), "shelf vault/gold");
    // And the public shelf gets the resolved path, never the dots ...
    let read = read_store(&server, &anyone, "store://h/a/./b/%2E%2E/c/./d", false);
    assert_eq!(text_of(read.await), "shelf a/c/d");
    assert_eq!(runs.count(), 3);
    // ... nor the empty segment a final `.` leaves (`a/c/`: a directory to a file system, not
    // the file the template's value would name).
    let read = read_store(&server, &anyone, "store://h/a/./b/%2E%2E/c/.", false);
    assert_not_found(read.await, false);
    assert_eq!(runs.count(), 3);
}

#[tokio::test]
async fn subscriptions_resolve_dot_segments_too() {
    use scopegate::Outbound;
    use scopegate::protocol::Message;
    let runs = Runs::default();
    let server = Server::new(Store { runs: runs.clone() }).unwrap();
    let connection = server.connect();
    let (outbound, _to_client) = Outbound::channel();
    connection.set_standalone(outbound);
    let send = async |who: &Principal, method: &str, uri: &str| {
        let text = json!({"jsonrpc":"2.0","id":1,"method":method,"params":{"uri":uri}});
        let message = Message::parse(text.to_string().as_bytes()).unwrap();
        server.handle_in(message, who, &connection, None).await
    };
    let anyone = Principal::anonymous();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let message = Message::parse(init.to_string().as_bytes()).unwrap();
    assert!(matches!(
        server.handle_in(message, &anyone, &connection, None).await,
        Reply::Response(_)
    ));
    for dots in DOT_DOT {
        let uri = format!("store://h/public/{dots}/private/plans");
        let Reply::Denied(denial) = send(&anyone, "resources/subscribe", &uri).await else {
            panic!("subscribed to {uri} without store:private");
        };
        assert_eq!(denial.missing, ["store:private"]);
        for method in ["resources/subscribe", "resources/unsubscribe"] {
            let uri = format!("store://h/{dots}/private/plans");
            assert_missing(send(&anyone, method, &uri).await);
        }
    }
    assert_eq!(server.notify_resource_updated("store://h/private/plans"), 0);
    assert_eq!(
        server.notify_resource_updated("store://h/../private/plans"),
        0
    );

    // A subscription is kept, and updated, under the URI it resolves to.
    let insider = principal("store:private");
    let subscribe = send(
        &insider,
        "resources/subscribe",
        "store://h/p/%2e./private/plans",
    );
    assert!(matches!(subscribe.await, Reply::Response(_)));
    assert_eq!(server.notify_resource_updated("store://h/private/plans"), 1);
    assert_eq!(
        server.notify_resource_updated("store://h/x/../private/plans"),
        1
    );
    assert_eq!(runs.count(), 0);
}

#[tokio::test]
async fn dot_segments_are_resolved_over_stdio() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let runs = Runs::default();
    let server = Server::new(Store { runs: runs.clone() }).unwrap();
    let (mut client, server_end) = tokio::io::duplex(64 * 1024);
    let (input, output) = tokio::io::split(server_end);
    let serving = tokio::spawn(scopegate::stdio::serve_io(
        server,
        Principal::anonymous(),
        input,
        output,
        64 * 1024,
    ));
    let read = |id: u32, uri: &str| {
        let message =
            json!({"jsonrpc":"2.0","id":id,"method":"resources/read","params":{"uri":uri}});
        format!("{message}\n")
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let mut lines = format!("{init}\n");
    lines.push_str(&read(1, "store://h/public/../private/plans"));
    lines.push_str(&read(2, "store://h/../private/plans"));
    client.write_all(lines.as_bytes()).await.unwrap();
    let (from_server, mut to_server) = tokio::io::split(client);
    to_server.shutdown().await.unwrap();
    let mut answers = std::collections::BTreeMap::new();
    let mut reader = tokio::io::BufReader::new(from_server).lines();
    while let Some(line) = reader.next_line().await.unwrap() {
        let answer: Value = serde_json::from_str(&line).unwrap();
        answers.insert(answer["id"].as_u64().unwrap(), answer);
    }
    serving.await.unwrap().unwrap();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        answers[&1]["error"]["code"],
        error_code::INSUFFICIENT_SCOPE,
        "{}",
        answers[&1]
    );
    assert!(
        answers[&1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("store:private"),
        "{}",
        answers[&1]
    );
    assert_eq!(answers[&2]["error"]["code"], -32002, "{}", answers[&2]);
    assert_eq!(runs.count(), 0);
}

/// Declared with dot segments: the first could never be matched as written, the second names
/// nothing.
#[mcp_resource(uri = "store://h/a/../b", public)]
fn unresolved() -> &'static str {
    "b"
}

#[mcp_resource(uri = "store://h/../b", public)]
fn above_the_root() -> &'static str {
    "b"
}

#[derive(McpServer)]
#[mcp(name = "unresolved", resources(unresolved))]
struct Unresolved;

#[derive(McpServer)]
#[mcp(name = "above", resources(above_the_root))]
struct AboveTheRoot;

#[test]
fn a_resource_uri_is_declared_without_dot_segments() {
    let Err(error) = Server::new(Unresolved) else {
        panic!("a URI with dot segments was accepted");
    };
    assert!(error.to_string().contains("`store://h/b`"), "{error}");
    let Err(error) = Server::new(AboveTheRoot) else {
        panic!("a URI climbing above its root was accepted");
    };
    assert!(
        matches!(error, scopegate::BuildError::UriDotSegments { uri } if uri == "store://h/../b"),
        "{error}"
    );
}

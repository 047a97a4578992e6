//! The transport-free dispatcher: JSON-RPC framing, lifecycle, tools/list, tools/call and scope
//! enforcement, driven through `Server::handle_bytes` as every transport does.

use schemars::JsonSchema;
use scopegate::prelude::*;
use scopegate::protocol::error_code;
use scopegate::{Denial, Reply, ScopeSet, ServerOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, JsonSchema)]
struct Sum {
    total: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

/// Adds two numbers.
#[mcp_tool(scope = "math:use", read_only)]
fn add(#[arg(description = "The first term.")] a: i64, b: i64, note: Option<String>) -> Json<Sum> {
    let _ = note;
    Json(Sum { total: a + b })
}

/// Distance of a point from the origin, squared.
#[mcp_tool(scope = "math:use")]
async fn norm2(p: Point) -> String {
    (i64::from(p.x).pow(2) + i64::from(p.y).pow(2)).to_string()
}

/// Fails on purpose.
#[mcp_tool(public)]
fn fail(reason: String) -> Result<String, ToolError> {
    Err(ToolError::new(format!("failed: {reason}")))
}

/// Panics on purpose.
#[mcp_tool(public, name = "panic.now")]
async fn panics() -> String {
    panic!("boom")
}

/// Panics before its first await, synchronously.
#[mcp_tool(public)]
fn panics_sync(n: u8) -> String {
    assert!(n > 200, "n too small");
    n.to_string()
}

/// Says who called and which request this is.
#[mcp_tool(public)]
fn whoami(who: Principal, ctx: RequestContext) -> String {
    format!(
        "{}|{}|{}",
        who.subject().unwrap_or("-"),
        ctx.tool_name(),
        ctx.request_id()
    )
}

/// Reads the counter from the server's state.
#[mcp_tool(scopes = ["admin:read", "math:use"])]
fn counter(state: State<Counter>) -> String {
    state.0.0.to_string()
}

/// Returns a picture.
#[mcp_tool(scope = "files:read")]
fn picture() -> Vec<Content> {
    vec![
        Content::image([0x89, b'P', b'N', b'G'], "image/png"),
        Content::embedded_text("file:///a.txt", Some("text/plain".into()), "hello"),
    ]
}

/// Writes nothing.
#[mcp_tool(
    scope = "files:write",
    destructive = false,
    idempotent,
    open_world = false
)]
fn noop() {}

#[derive(Debug, Clone, Copy)]
struct Counter(u32);

#[derive(McpServer, Clone)]
#[mcp(
    name = "test-server",
    version = "9.9.9",
    title = "Test",
    tools(add, norm2, fail, panics, panics_sync, whoami, counter, picture, noop),
    implies("files:admin" => ["files:write"], "files:write" => ["files:read"]),
)]
struct TestServer {
    #[mcp(state)]
    counter: Counter,
}

fn server() -> Server<TestServer> {
    Server::new(TestServer {
        counter: Counter(41),
    })
    .expect("the test server builds")
}

fn principal(scopes: &str) -> Principal {
    Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated(scopes))
        .build()
}

async fn reply(server: &Server<TestServer>, who: &Principal, message: Value) -> Reply {
    server
        .handle_bytes(message.to_string().as_bytes(), who)
        .await
}

/// The JSON of the response to `message`; panics on a denial or on no response.
async fn respond(server: &Server<TestServer>, who: &Principal, message: Value) -> Value {
    match reply(server, who, message).await {
        Reply::Response(response) => serde_json::from_str(&response.to_json()).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

async fn call(server: &Server<TestServer>, who: &Principal, name: &str, args: Value) -> Value {
    let response = respond(
        server,
        who,
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name,"arguments":args}}),
    )
    .await;
    response["result"].clone()
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {response}"))
}

#[test]
fn scope_table_is_sorted_deduplicated_and_includes_the_hierarchy() {
    assert_eq!(
        TestServer::SCOPES,
        [
            "admin:read",
            "files:admin",
            "files:read",
            "files:write",
            "math:use"
        ]
    );
    let server = server();
    let admin = ScopeSet::from_space_separated("files:admin");
    // The hierarchy is transitive: admin -> write -> read.
    assert!(server.scopes().satisfies(&admin, "files:read"));
    assert!(server.scopes().satisfies(&admin, "files:write"));
    assert!(!server.scopes().satisfies(&admin, "math:use"));
}

#[tokio::test]
async fn initialize_echoes_supported_versions_and_answers_latest_otherwise() {
    let server = server();
    let anyone = Principal::anonymous();
    for (asked, answered) in [
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let r = respond(
            &server,
            &anyone,
            json!({"jsonrpc":"2.0","id":"i","method":"initialize","params":{
                "protocolVersion": asked, "capabilities": {}, "clientInfo": {"name":"t","version":"1"}}}),
        )
        .await;
        assert_eq!(r["id"], "i");
        assert_eq!(r["result"]["protocolVersion"], answered, "asked {asked}");
        assert_eq!(
            r["result"]["serverInfo"],
            json!({"name":"test-server","version":"9.9.9","title":"Test"})
        );
        assert_eq!(
            r["result"]["capabilities"]["tools"],
            json!({"listChanged": false})
        );
    }
    let r = respond(
        &server,
        &anyone,
        json!({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"capabilities":{}}}),
    )
    .await;
    assert_eq!(error_code(&r), i64::from(error_code::INVALID_PARAMS));
    // A session keeps the client's capabilities as long as it lives: bounded (64 KiB).
    let r = respond(
        &server,
        &anyone,
        json!({"jsonrpc":"2.0","id":3,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","clientInfo":{"name":"t","version":"1"},
            "capabilities":{"experimental":{"padding":"x".repeat(70_000)}}}}),
    )
    .await;
    assert_eq!(error_code(&r), i64::from(error_code::INVALID_PARAMS), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("capabilities")
    );
}

#[tokio::test]
async fn ping_unknown_methods_notifications_and_malformed_input() {
    let server = server();
    let anyone = Principal::anonymous();
    let r = respond(
        &server,
        &anyone,
        json!({"jsonrpc":"2.0","id":5,"method":"ping"}),
    )
    .await;
    assert_eq!(r, json!({"jsonrpc":"2.0","id":5,"result":{}}));
    let r = respond(
        &server,
        &anyone,
        json!({"jsonrpc":"2.0","id":6,"method":"nope/nope"}),
    )
    .await;
    assert_eq!(error_code(&r), i64::from(error_code::METHOD_NOT_FOUND));
    assert!(matches!(
        reply(
            &server,
            &anyone,
            json!({"jsonrpc":"2.0","method":"notifications/initialized"})
        )
        .await,
        Reply::Nothing
    ));
    assert!(matches!(
        reply(&server, &anyone, json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"fail","arguments":{"reason":"x"}}})).await,
        Reply::Nothing
    ));
    for (bytes, code) in [
        (&b"{\"jsonrpc\":"[..], error_code::PARSE_ERROR),
        (b"[]", error_code::INVALID_REQUEST),
        (
            b"{\"id\":1,\"method\":\"ping\"}",
            error_code::INVALID_REQUEST,
        ),
    ] {
        let Reply::Response(response) = server.handle_bytes(bytes, &anyone).await else {
            panic!("malformed input must get a response");
        };
        assert_eq!(response.error_object().map(|e| e.code), Some(code));
    }
}

#[tokio::test]
async fn tools_list_describes_schemas_hints_and_required_scopes() {
    let server = server();
    let r = respond(
        &server,
        &Principal::anonymous(),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    )
    .await;
    let tools = r["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 9);
    assert!(r["result"].get("nextCursor").is_none());
    let add = &tools[0];
    assert_eq!(add["name"], "add");
    assert_eq!(add["description"], "Adds two numbers.");
    assert_eq!(add["annotations"], json!({"readOnlyHint": true}));
    assert_eq!(
        add["_meta"]["dev.scopegate/requiredScopes"],
        json!(["math:use"])
    );
    let input = &add["inputSchema"];
    assert_eq!(input["type"], "object");
    assert_eq!(input["required"], json!(["a", "b"]));
    assert_eq!(input["additionalProperties"], false);
    assert_eq!(input["properties"]["a"]["description"], "The first term.");
    assert!(
        input["properties"]["a"].get("format").is_none(),
        "no non-standard `int64` format: {input}"
    );
    assert_eq!(
        input["properties"]["note"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(add["outputSchema"]["type"], "object");
    assert_eq!(
        add["outputSchema"]["properties"]["total"]["type"],
        "integer"
    );

    let norm2 = &tools[1];
    assert_eq!(
        norm2["inputSchema"]["properties"]["p"]["$ref"],
        "#/$defs/Point"
    );
    assert_eq!(norm2["inputSchema"]["$defs"]["Point"]["type"], "object");
    assert!(norm2.get("outputSchema").is_none());

    let by_name = |n: &str| tools.iter().find(|t| t["name"] == n).unwrap().clone();
    // Tools whose parameters are all extractors, or none, take no arguments at all.
    for name in ["panic.now", "whoami", "counter", "picture", "noop"] {
        assert_eq!(
            by_name(name)["inputSchema"],
            json!({"type":"object","additionalProperties":false}),
            "{name}"
        );
    }
    assert_eq!(
        by_name("fail")["_meta"]["dev.scopegate/requiredScopes"],
        json!([])
    );
    assert_eq!(
        by_name("counter")["_meta"]["dev.scopegate/requiredScopes"],
        json!(["admin:read", "math:use"])
    );
    assert_eq!(
        by_name("noop")["annotations"],
        json!({"destructiveHint": false, "idempotentHint": true, "openWorldHint": false})
    );
}

#[tokio::test]
async fn tools_list_pages_with_opaque_cursors() {
    let server = Server::with_options(
        TestServer {
            counter: Counter(0),
        },
        ServerOptions::default().page_size(4),
    )
    .unwrap();
    let anyone = Principal::anonymous();
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = cursor
            .as_ref()
            .map_or(json!({}), |c| json!({ "cursor": c }));
        let r = respond(
            &server,
            &anyone,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":params}),
        )
        .await;
        pages += 1;
        for tool in r["result"]["tools"].as_array().unwrap() {
            names.push(tool["name"].as_str().unwrap().to_owned());
        }
        match r["result"].get("nextCursor") {
            Some(next) => cursor = Some(next.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 9);
    assert_eq!(names[0], "add");
    assert_eq!(names[8], "noop");
    for bad in ["", "nonsense", "sgpage-99", "sgpage--1", "sgpage-1x"] {
        let r = respond(
            &server,
            &anyone,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":bad}}),
        )
        .await;
        assert_eq!(
            error_code(&r),
            i64::from(error_code::INVALID_PARAMS),
            "cursor {bad:?}"
        );
    }
}

#[tokio::test]
async fn granted_visibility_lists_only_callable_tools() {
    let options = ServerOptions::default()
        .page_size(2)
        .list_visibility(scopegate::ListVisibility::Granted);
    let server = Server::with_options(
        TestServer {
            counter: Counter(0),
        },
        options,
    )
    .unwrap();
    let list = |who: Principal, cursor: Option<&str>| {
        let server = server.clone();
        let params = cursor.map_or(json!({}), |c| json!({ "cursor": c }));
        async move {
            respond(
                &server,
                &who,
                json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":params}),
            )
            .await
        }
    };
    let names = |r: &Value| -> Vec<String> {
        r["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Anonymous callers see the four public tools, two per page.
    let first = list(Principal::anonymous(), None).await;
    assert_eq!(names(&first), ["fail", "panic.now"]);
    let next = first["result"]["nextCursor"].as_str().unwrap().to_owned();
    let second = list(Principal::anonymous(), Some(&next)).await;
    assert_eq!(names(&second), ["panics_sync", "whoami"]);
    assert!(second["result"].get("nextCursor").is_none());
    // A write scope shows the tools it (and the scopes it implies) unlock.
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let r = list(principal("files:write"), cursor.as_deref()).await;
        all.extend(names(&r));
        match r["result"].get("nextCursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(
        all,
        [
            "fail",
            "panic.now",
            "panics_sync",
            "whoami",
            "picture",
            "noop"
        ]
    );
    let r = list(Principal::anonymous(), Some("sgpage-2")).await;
    assert_eq!(error_code(&r), i64::from(error_code::INVALID_PARAMS));
}

#[tokio::test]
async fn calls_return_structured_text_and_content_results() {
    let server = server();
    let user = principal("math:use admin:read files:read");
    let r = call(&server, &user, "add", json!({"a": 2, "b": 40})).await;
    assert_eq!(r["structuredContent"], json!({"total": 42}));
    assert_eq!(
        r["content"],
        json!([{"type":"text","text":"{\"total\":42}"}])
    );
    assert!(r.get("isError").is_none());

    let r = call(&server, &user, "norm2", json!({"p": {"x": 3, "y": 4}})).await;
    assert_eq!(r, json!({"content":[{"type":"text","text":"25"}]}));

    let r = call(&server, &user, "counter", json!({})).await;
    assert_eq!(r["content"][0]["text"], "41");

    let r = call(&server, &user, "picture", json!({})).await;
    assert_eq!(
        r["content"][0],
        json!({"type":"image","data":"iVBORw==","mimeType":"image/png"})
    );
    assert_eq!(
        r["content"][1],
        json!({"type":"resource","resource":{"uri":"file:///a.txt","mimeType":"text/plain","text":"hello"}})
    );

    let r = respond(
        &server,
        &user,
        json!({"jsonrpc":"2.0","id":"req-9","method":"tools/call","params":{"name":"whoami"}}),
    )
    .await;
    assert_eq!(r["result"]["content"][0]["text"], "alice|whoami|\"req-9\"");
}

#[tokio::test]
async fn tool_errors_and_panics_become_error_results_and_the_server_lives_on() {
    let server = server();
    let anyone = Principal::anonymous();
    let r = call(&server, &anyone, "fail", json!({"reason": "disk full"})).await;
    assert_eq!(
        r,
        json!({"content":[{"type":"text","text":"failed: disk full"}],"isError":true})
    );

    let r = call(&server, &anyone, "panic.now", json!({})).await;
    assert_eq!(r["isError"], true);
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("panic.now") && !text.contains("boom"),
        "{text}"
    );

    let r = call(&server, &anyone, "panics_sync", json!({"n": 1})).await;
    assert_eq!(r["isError"], true);
    let r = call(&server, &anyone, "panics_sync", json!({"n": 201})).await;
    assert_eq!(r["content"][0]["text"], "201");
}

#[tokio::test]
async fn bad_arguments_are_an_error_result_listing_every_problem() {
    let server = server();
    let user = principal("math:use");
    let r = call(&server, &user, "add", json!({"a": "two", "c": 1})).await;
    assert_eq!(r["isError"], true);
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("invalid arguments for tool `add`"),
        "{text}"
    );
    assert!(text.contains("`a`: invalid type"), "{text}");
    assert!(text.contains("`b`: missing required argument"), "{text}");
    assert!(text.contains("`c`: unknown argument"), "{text}");
    assert!(
        !text.contains("`note`"),
        "optional arguments may be absent: {text}"
    );

    let r = call(&server, &user, "norm2", json!({"p": {"x": 1}})).await;
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("`p`: missing field `y`")
    );

    // Arguments that are not an object at all are malformed params, not a tool failure.
    let r = respond(
        &server,
        &user,
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":[1,2]}}),
    )
    .await;
    assert_eq!(error_code(&r), i64::from(error_code::INVALID_PARAMS));
}

#[tokio::test]
async fn unknown_tools_and_malformed_params_are_invalid_params() {
    let server = server();
    let anyone = Principal::anonymous();
    for params in [json!({"name": "nope"}), json!({}), json!({"name": 3})] {
        let r = respond(
            &server,
            &anyone,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":params}),
        )
        .await;
        assert_eq!(
            error_code(&r),
            i64::from(error_code::INVALID_PARAMS),
            "{params}"
        );
    }
}

#[tokio::test]
async fn calls_without_the_tools_scopes_are_denied_before_the_tool_runs() {
    let server = server();
    let message = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"counter","arguments":{}}});
    let Reply::Denied(denial) = reply(&server, &principal("math:use"), message.clone()).await
    else {
        panic!("a call missing admin:read must be denied");
    };
    assert_eq!(
        *denial,
        Denial {
            id: scopegate::protocol::RequestId::Number(3.into()),
            kind: "tool",
            name: "counter".into(),
            required: vec!["admin:read", "math:use"],
            missing: vec!["admin:read"],
            rule: scopegate::DenialRule::Scopes,
            in_band: false,
        }
    );
    let Reply::Denied(denial) = reply(&server, &Principal::anonymous(), message).await else {
        panic!("anonymous callers hold no scope");
    };
    assert_eq!(denial.missing, ["admin:read", "math:use"]);

    // Denied even when the arguments are wrong too: the scope check comes first.
    let bad_args = json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"zzz":1}}});
    assert!(matches!(
        reply(&server, &principal("files:read"), bad_args).await,
        Reply::Denied(_)
    ));

    // A denial's JSON-RPC form names the tool and the missing scopes.
    let response: Value =
        serde_json::from_str(&denial.to_response(Some("ask for them")).to_json()).unwrap();
    assert_eq!(
        error_code(&response),
        i64::from(error_code::INSUFFICIENT_SCOPE)
    );
    assert_eq!(
        response["error"]["data"]["missingScopes"],
        json!(["admin:read", "math:use"])
    );
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("ask for them")
    );
}

#[tokio::test]
async fn broader_scopes_satisfy_narrower_ones_through_the_hierarchy() {
    let server = server();
    for scopes in ["files:read", "files:write", "files:admin"] {
        let r = call(&server, &principal(scopes), "picture", json!({})).await;
        assert_eq!(
            r["content"][0]["type"], "image",
            "{scopes} satisfies files:read"
        );
    }
    let r = reply(
        &server,
        &principal("files:read"),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"noop"}}),
    )
    .await;
    assert!(matches!(r, Reply::Denied(ref d) if d.missing == ["files:write"]));
}

#[test]
fn the_scope_table_exports_as_json_and_markdown() {
    let server = server();
    let table = server.scope_table_json();
    assert_eq!(table["server"], "test-server");
    let files_read = table["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "files:read")
        .unwrap();
    assert_eq!(
        files_read["implied_by"],
        json!(["files:admin", "files:write"])
    );
    assert_eq!(files_read["tools"], json!(["picture"]));
    let files_admin = table["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "files:admin")
        .unwrap();
    assert_eq!(files_admin["tools"], json!(["picture", "noop"]));
    let counter = table["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "counter")
        .unwrap();
    assert_eq!(counter["scopes"], json!(["admin:read", "math:use"]));
    assert_eq!(
        table["tools"][2],
        json!({"tool":"fail","scopes":[],"public":true})
    );

    let markdown = server.scope_table_markdown();
    assert!(
        markdown.contains("| `files:read` | `files:admin`, `files:write` | `picture` |"),
        "{markdown}"
    );
    assert!(markdown.contains("| `fail` | public |"), "{markdown}");
    assert!(
        markdown.contains("| `counter` | `admin:read`, `math:use` |"),
        "{markdown}"
    );
}

//! What a tool can ask of the client through `RequestContext` — sampling, elicitation, progress,
//! log messages — and cancellation, driven through the transport-free dispatcher as a transport
//! drives it: one connection, one outbound channel per request.

use std::sync::Arc;
use std::time::Duration;

use scopegate::prelude::*;
use scopegate::protocol::Message;
use scopegate::{Connection, LogLevel, Outbound, Reply};
use serde_json::{Value, json};

/// Asks the client's model.
#[mcp_tool(public)]
async fn ask(ctx: RequestContext, question: String) -> String {
    let request = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": question } }],
        "maxTokens": 10,
    });
    match ctx.create_message(request).await {
        Ok(answer) => format!(
            "model says: {}",
            answer["content"]["text"].as_str().unwrap_or("?")
        ),
        Err(error) => format!("no sampling: {error}"),
    }
}

/// Asks the user.
#[mcp_tool(public)]
async fn confirm(ctx: RequestContext) -> String {
    let schema = json!({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]});
    match ctx.elicit("Proceed?", schema).await {
        Ok(answer) => format!("{}: {}", answer["action"], answer["content"]["ok"]),
        Err(error) => format!("no elicitation: {error}"),
    }
}

/// Works slowly, reporting progress and logging.
#[mcp_tool(public)]
async fn work(ctx: RequestContext) -> String {
    ctx.log(LogLevel::Debug, Some("work"), "debug detail");
    ctx.log(LogLevel::Warning, Some("work"), json!({"careful": true}));
    let sent = ctx.progress(0.5, Some(1.0), Some("halfway"));
    format!("progress sent: {sent}")
}

/// The tags of the `forever` calls whose handler was dropped.
static STOPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn stopped(tag: &str) -> bool {
    STOPPED.lock().unwrap().iter().any(|t| t == tag)
}

/// Records its tag when dropped: proves the handler was stopped, not left running.
struct DropFlag(String);

impl Drop for DropFlag {
    fn drop(&mut self) {
        STOPPED.lock().unwrap().push(std::mem::take(&mut self.0));
    }
}

/// Never finishes on its own.
#[mcp_tool(public)]
async fn forever(tag: String) -> String {
    let _flag = DropFlag(tag);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "unreachable".into()
}

#[derive(McpServer)]
#[mcp(name = "features", tools(ask, confirm, work, forever))]
struct Features;

fn message(value: Value) -> Message {
    Message::parse(value.to_string().as_bytes()).unwrap()
}

fn call(id: u64, tool: &str, arguments: Value, meta: Option<Value>) -> Message {
    let mut params = json!({"name": tool, "arguments": arguments});
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    message(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params}))
}

async fn initialized(server: &Server<Features>, capabilities: Value) -> Arc<Connection> {
    let connection = server.connect();
    let init = message(
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":capabilities,"clientInfo":{"name":"t","version":"0"}}}),
    );
    let reply = server
        .handle_in(init, &Principal::anonymous(), &connection, None)
        .await;
    assert!(matches!(reply, Reply::Response(_)));
    connection
}

fn text_of(reply: Reply) -> String {
    let Reply::Response(response) = reply else {
        panic!("expected a response, got {reply:?}");
    };
    let value: Value = serde_json::from_str(&response.to_json()).unwrap();
    value["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sampling_round_trips_through_the_client() {
    let server = Server::new(Features).unwrap();
    let connection = initialized(&server, json!({"sampling": {}})).await;
    let (outbound, mut to_client) = Outbound::channel();
    let anyone = Principal::anonymous();
    let calling = server.handle_in(
        call(1, "ask", json!({"question":"2+2?"}), None),
        &anyone,
        &connection,
        Some(outbound),
    );
    let client = async {
        let request: Value = serde_json::from_str(&to_client.recv().await.unwrap()).unwrap();
        assert_eq!(request["method"], "sampling/createMessage");
        assert_eq!(request["params"]["messages"][0]["content"]["text"], "2+2?");
        let answer = json!({"jsonrpc":"2.0","id":request["id"],"result":{"role":"assistant","content":{"type":"text","text":"4"},"model":"m"}});
        let reply = server
            .handle_in(message(answer), &anyone, &connection, None)
            .await;
        assert!(matches!(reply, Reply::Nothing), "answers get no response");
    };
    let (reply, ()) = tokio::join!(calling, client);
    assert_eq!(text_of(reply), "model says: 4");
}

#[tokio::test]
async fn requests_need_the_clients_capability_and_a_channel() {
    let server = Server::new(Features).unwrap();
    let anyone = Principal::anonymous();
    // Declared elicitation only: sampling is refused without asking.
    let connection = initialized(&server, json!({"elicitation": {}})).await;
    let (outbound, mut to_client) = Outbound::channel();
    let reply = server
        .handle_in(
            call(1, "ask", json!({"question":"?"}), None),
            &anyone,
            &connection,
            Some(outbound),
        )
        .await;
    assert_eq!(
        text_of(reply),
        "no sampling: the client does not support `sampling`"
    );
    assert!(
        to_client.try_recv().is_none(),
        "nothing was sent to the client"
    );
    // No channel back (a JSON-only HTTP client): the request cannot be sent.
    let reply = server
        .handle_in(
            call(2, "confirm", json!({}), None),
            &anyone,
            &connection,
            None,
        )
        .await;
    assert_eq!(
        text_of(reply),
        "no elicitation: the client cannot be reached from this request"
    );
    // The client refuses.
    let (outbound, mut to_client) = Outbound::channel();
    let calling = server.handle_in(
        call(3, "confirm", json!({}), None),
        &anyone,
        &connection,
        Some(outbound),
    );
    let client = async {
        let request: Value = serde_json::from_str(&to_client.recv().await.unwrap()).unwrap();
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["mode"], "form");
        let refusal = json!({"jsonrpc":"2.0","id":request["id"],"error":{"code":-32602,"message":"bad schema"}});
        let _ = server
            .handle_in(message(refusal), &anyone, &connection, None)
            .await;
    };
    let (reply, ()) = tokio::join!(calling, client);
    assert_eq!(
        text_of(reply),
        "no elicitation: the client refused: bad schema"
    );
}

#[tokio::test]
async fn progress_needs_a_token_and_logs_follow_the_level() {
    let server = Server::new(Features).unwrap();
    let anyone = Principal::anonymous();
    let connection = initialized(&server, json!({})).await;

    let (outbound, mut to_client) = Outbound::channel();
    let reply = server
        .handle_in(
            call(1, "work", json!({}), None),
            &anyone,
            &connection,
            Some(outbound),
        )
        .await;
    assert_eq!(text_of(reply), "progress sent: false");
    // Default level info: the warning goes, the debug detail does not.
    let sent: Vec<Value> = std::iter::from_fn(|| to_client.try_recv())
        .map(|m| serde_json::from_str(&m).unwrap())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["method"], "notifications/message");
    assert_eq!(
        sent[0]["params"],
        json!({"level":"warning","logger":"work","data":{"careful":true}})
    );

    let set = message(
        json!({"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"debug"}}),
    );
    let Reply::Response(response) = server.handle_in(set, &anyone, &connection, None).await else {
        panic!("setLevel answers");
    };
    assert_eq!(
        response.to_json(),
        r#"{"jsonrpc":"2.0","id":2,"result":{}}"#
    );
    let (outbound, mut to_client) = Outbound::channel();
    let reply = server
        .handle_in(
            call(3, "work", json!({}), Some(json!({"progressToken": 7}))),
            &anyone,
            &connection,
            Some(outbound),
        )
        .await;
    assert_eq!(text_of(reply), "progress sent: true");
    let sent: Vec<Value> = std::iter::from_fn(|| to_client.try_recv())
        .map(|m| serde_json::from_str(&m).unwrap())
        .collect();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0]["params"]["level"], "debug");
    assert_eq!(
        sent[2],
        json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":0.5,"total":1.0,"message":"halfway"}})
    );

    let bad = message(
        json!({"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"loud"}}),
    );
    let Reply::Response(response) = server.handle_in(bad, &anyone, &connection, None).await else {
        panic!("a bad level is an error response");
    };
    assert_eq!(response.error_object().unwrap().code, -32602);
}

#[tokio::test]
async fn cancelled_requests_stop_and_get_no_response() {
    let server = Server::new(Features).unwrap();
    let anyone = Principal::anonymous();
    let connection = initialized(&server, json!({})).await;
    let calling = tokio::spawn({
        let (server, connection, anyone) =
            (server.clone(), Arc::clone(&connection), anyone.clone());
        async move {
            server
                .handle_in(
                    call(9, "forever", json!({"tag": "legacy"}), None),
                    &anyone,
                    &connection,
                    None,
                )
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!stopped("legacy"));
    // Cancelling an id nobody uses changes nothing.
    let other = message(
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}}),
    );
    assert!(matches!(
        server.handle_in(other, &anyone, &connection, None).await,
        Reply::Nothing
    ));
    // A notification's future that is never polled does nothing, like any future.
    let unpolled = message(
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}),
    );
    drop(server.handle_in(unpolled, &anyone, &connection, None));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!stopped("legacy"), "an unpolled cancellation took effect");
    let cancel = message(
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,"reason":"user"}}),
    );
    assert!(matches!(
        server.handle_in(cancel, &anyone, &connection, None).await,
        Reply::Nothing
    ));
    let reply = tokio::time::timeout(Duration::from_secs(5), calling)
        .await
        .expect("cancellation ends the call")
        .unwrap();
    assert!(
        matches!(reply, Reply::Nothing),
        "no response to a cancelled request: {reply:?}"
    );
    assert!(stopped("legacy"), "the handler was dropped");
}

#[tokio::test]
async fn a_2026_request_on_a_connection_is_cancelled_by_notification_too() {
    let server = Server::new(Features).unwrap();
    let anyone = Principal::anonymous();
    let connection = server.connect();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let calling = tokio::spawn({
        let (server, connection, anyone) =
            (server.clone(), Arc::clone(&connection), anyone.clone());
        async move {
            server
                .handle_in(
                    call(21, "forever", json!({"tag": "modern"}), Some(meta)),
                    &anyone,
                    &connection,
                    None,
                )
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cancel = message(
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":21}}),
    );
    assert!(matches!(
        server.handle_in(cancel, &anyone, &connection, None).await,
        Reply::Nothing
    ));
    let reply = tokio::time::timeout(Duration::from_secs(5), calling)
        .await
        .expect("cancellation ends the call")
        .unwrap();
    assert!(matches!(reply, Reply::Nothing), "{reply:?}");
    assert!(stopped("modern"), "the handler was dropped");
}

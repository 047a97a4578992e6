//! 2026-07-28 input requests (SEP-2322) through the dispatcher: a handler that asks the client
//! for something answers `input_required`, runs again from its start with the answers, and
//! completes; the state it hands the client is sealed, bound, single-use and expiring.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet, ServerOptions, StateKeys};
use serde_json::{Value, json};

fn name_schema() -> Value {
    json!({ "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] })
}

/// Greets whoever the user says they are.
#[mcp_tool(public)]
async fn greet(ctx: RequestContext) -> Result<String, ToolError> {
    let answer = ctx.elicit("What is your name?", name_schema()).await?;
    Ok(format!(
        "Hello, {}!",
        answer["content"]["name"].as_str().unwrap_or("?")
    ))
}

/// Places an order after the user confirms it.
#[mcp_tool(scope = "shop:order")]
async fn order(
    item: String,
    ctx: RequestContext,
    shop: State<ShopServer>,
) -> Result<String, ToolError> {
    shop.0.runs.fetch_add(1, Ordering::SeqCst);
    let confirm = ctx
        .input("confirm")
        .elicit(
            &format!("Order {item}?"),
            json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } }),
        )
        .await?;
    if confirm["action"] != "accept" {
        return Ok("not ordered".into());
    }
    // The side effect after the last input: it runs once, in the round that completes.
    shop.0.placed.fetch_add(1, Ordering::SeqCst);
    Ok(format!("ordered {item}"))
}

/// Asks for three things at once.
#[mcp_tool(public)]
async fn survey(ctx: RequestContext) -> Result<String, ToolError> {
    let (name, model, roots) = tokio::join!(
        ctx.input("name").elicit("Name?", name_schema()),
        ctx.input("model").create_message(json!({
            "messages": [{ "role": "user", "content": { "type": "text", "text": "Hi" } }],
            "maxTokens": 10
        })),
        ctx.input("roots").list_roots(),
    );
    let (name, model, roots) = (name?, model?, roots?);
    Ok(format!(
        "{} / {} / {}",
        name["content"]["name"].as_str().unwrap_or("?"),
        model["content"]["text"].as_str().unwrap_or("?"),
        roots["roots"][0]["uri"].as_str().unwrap_or("?"),
    ))
}

/// Asks twice, one after the other.
#[mcp_tool(public)]
async fn two_steps(ctx: RequestContext) -> Result<String, ToolError> {
    let first = ctx.elicit("Step 1", name_schema()).await?;
    let second = ctx.elicit("Step 2", name_schema()).await?;
    Ok(format!(
        "{} then {}",
        first["content"]["name"].as_str().unwrap_or("?"),
        second["content"]["name"].as_str().unwrap_or("?")
    ))
}

/// Elicits when the client can, else does without.
#[mcp_tool(public)]
async fn capable(ctx: RequestContext) -> Result<String, ToolError> {
    if !ctx.client_supports("elicitation") {
        return Ok("did without elicitation".into());
    }
    let answer = ctx.elicit("Name?", name_schema()).await?;
    Ok(format!("asked: {}", answer["action"]))
}

/// A briefing on a topic the user names.
#[mcp_prompt(public)]
async fn briefing(ctx: RequestContext) -> Result<String, PromptError> {
    let answer = ctx
        .input("topic")
        .elicit(
            "Topic?",
            json!({ "type": "object", "properties": { "topic": { "type": "string" } } }),
        )
        .await
        .map_err(|e| PromptError::Failed(e.to_string()))?;
    Ok(format!(
        "Brief me on {}",
        answer["content"]["topic"].as_str().unwrap_or("?")
    ))
}

/// A note read after the user names its owner.
#[mcp_resource(uri = "shop://note", mime_type = "text/plain", public)]
async fn note(ctx: RequestContext) -> Result<String, ResourceError> {
    let answer = ctx
        .elicit("Whose note?", name_schema())
        .await
        .map_err(|e| ResourceError::Failed(e.to_string()))?;
    Ok(format!(
        "note of {}",
        answer["content"]["name"].as_str().unwrap_or("?")
    ))
}

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "shop",
    version = "1.0.0",
    tools(greet, order, survey, two_steps, capable),
    prompts(briefing),
    resources(note)
)]
struct ShopServer {
    /// Orders placed: the side effect that must happen once, after the inputs.
    placed: Arc<AtomicUsize>,
    /// How many times `order`'s body started.
    runs: Arc<AtomicUsize>,
}

fn server(options: ServerOptions) -> Server<ShopServer> {
    Server::with_options(ShopServer::default(), options).unwrap()
}

fn alice() -> Principal {
    who("alice", "shop:order")
}

fn who(subject: &str, scopes: &str) -> Principal {
    Principal::builder()
        .issuer("https://as.example")
        .subject(subject)
        .scopes(ScopeSet::from_space_separated(scopes))
        .build()
}

fn capabilities() -> Value {
    json!({ "elicitation": {}, "sampling": {}, "roots": {} })
}

/// A 2026-07-28 request's JSON-RPC result (or error object, under `"error"`).
async fn call(
    server: &Server<ShopServer>,
    principal: &Principal,
    method: &str,
    mut params: Value,
) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "0" },
        "io.modelcontextprotocol/clientCapabilities": params
            .get("caps").cloned().unwrap_or_else(capabilities),
    });
    if let Some(p) = params.as_object_mut() {
        p.remove("caps");
    }
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params });
    match server
        .handle_bytes(body.to_string().as_bytes(), principal)
        .await
    {
        Reply::Response(response) => {
            let value: Value = serde_json::to_value(&response).unwrap();
            if value.get("error").is_some() {
                json!({ "error": value["error"] })
            } else {
                value["result"].clone()
            }
        }
        Reply::Denied(denial) => json!({ "denied": denial.missing }),
        Reply::Refused(response, refusal) => {
            let value: Value = serde_json::to_value(&response).unwrap();
            json!({ "error": value["error"], "refusal": format!("{refusal:?}") })
        }
        other => panic!("unexpected reply {other:?}"),
    }
}

fn accept(content: Value) -> Value {
    json!({ "action": "accept", "content": content })
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_tool_asks_then_completes_with_the_answer() {
    let server = server(ServerOptions::default());
    let first = call(&server, &alice(), "tools/call", json!({ "name": "greet" })).await;
    assert_eq!(first["resultType"], "input_required");
    let request = &first["inputRequests"]["input-1"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "What is your name?");
    assert!(first.get("ttlMs").is_none() && first.get("content").is_none());
    let state = first["requestState"].as_str().unwrap();
    let done = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "greet", "requestState": state,
                "inputResponses": { "input-1": accept(json!({ "name": "Ada" })) } }),
    )
    .await;
    assert_eq!(done["resultType"], "complete");
    assert_eq!(text(&done), "Hello, Ada!");
}

#[tokio::test]
async fn side_effects_after_the_inputs_happen_once() {
    let server = server(ServerOptions::default());
    let shop = server.state().clone();
    let args = json!({ "item": "tea" });
    let first = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args }),
    )
    .await;
    assert_eq!(first["resultType"], "input_required");
    assert!(first["inputRequests"]["confirm"].is_object());
    assert_eq!(shop.placed.load(Ordering::SeqCst), 0);
    let done = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args,
                "requestState": first["requestState"],
                "inputResponses": { "confirm": accept(json!({ "ok": true })) } }),
    )
    .await;
    assert_eq!(text(&done), "ordered tea");
    assert_eq!(shop.placed.load(Ordering::SeqCst), 1);
    assert_eq!(
        shop.runs.load(Ordering::SeqCst),
        2,
        "the handler ran again from its start"
    );
}

#[tokio::test]
async fn a_state_is_accepted_once_and_bound_to_caller_request_and_arguments() {
    let server = server(ServerOptions::default());
    let args = json!({ "item": "tea" });
    let first = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args }),
    )
    .await;
    let state = first["requestState"].clone();
    let answer = json!({ "confirm": accept(json!({ "ok": true })) });
    let retry = |principal: Principal, name: &'static str, arguments: Value| {
        let server = &server;
        let state = state.clone();
        let answer = answer.clone();
        async move {
            call(
                server,
                &principal,
                "tools/call",
                json!({ "name": name, "arguments": arguments, "requestState": state,
                        "inputResponses": answer }),
            )
            .await
        }
    };
    // Another caller, other arguments, another tool: refused, and nothing ran.
    let foreign = retry(who("mallory", "shop:order"), "order", args.clone()).await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");
    assert!(
        foreign["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another caller")
    );
    let other_args = retry(alice(), "order", json!({ "item": "gold" })).await;
    assert_eq!(other_args["error"]["code"], -32602);
    let other_issuer = Principal::builder()
        .issuer("https://evil.example")
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("shop:order"))
        .build();
    assert_eq!(
        retry(other_issuer, "order", args.clone()).await["error"]["code"],
        -32602
    );
    assert_eq!(
        retry(alice(), "greet", json!({})).await["error"]["code"],
        -32602
    );
    // The owner, once.
    assert_eq!(
        text(&retry(alice(), "order", args.clone()).await),
        "ordered tea"
    );
    let replay = retry(alice(), "order", args.clone()).await;
    assert_eq!(replay["error"]["code"], -32602);
    assert!(
        replay["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tampered_or_malformed_state_runs_no_handler() {
    let server = server(ServerOptions::default());
    let args = json!({ "item": "tea" });
    let first = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args }),
    )
    .await;
    let state = first["requestState"].as_str().unwrap().to_owned();
    let runs = server.state().runs.load(Ordering::SeqCst);
    let mut flipped = state.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    for bad in [
        json!(format!("{state}-TAMPERED")),
        json!(String::from_utf8(flipped).unwrap()),
        json!(""),
        json!("x".repeat(70_000)),
        json!(42),
        json!({ "answers": {} }),
    ] {
        let r = call(
            &server,
            &alice(),
            "tools/call",
            json!({ "name": "order", "arguments": args, "requestState": bad,
                    "inputResponses": { "confirm": accept(json!({ "ok": true })) } }),
        )
        .await;
        assert_eq!(r["error"]["code"], -32602, "{bad}: {r}");
    }
    // Results that are not results: a protocol error, not a complete call.
    for bad in [json!(null), json!({ "confirm": 12345 }), json!([1])] {
        let r = call(
            &server,
            &alice(),
            "tools/call",
            json!({ "name": "order", "arguments": args, "inputResponses": bad }),
        )
        .await;
        assert_eq!(r["error"]["code"], -32602, "{bad}: {r}");
    }
    assert_eq!(
        server.state().runs.load(Ordering::SeqCst),
        runs,
        "no handler ran"
    );
    // An answer of the wrong kind for what the handler asked is refused when read.
    let r = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args,
                "inputResponses": { "confirm": { "roots": [] } } }),
    )
    .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let options = ServerOptions::default().request_state_ttl(Duration::from_secs(1));
    let server = server(options);
    let first = call(&server, &alice(), "tools/call", json!({ "name": "greet" })).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "greet", "requestState": first["requestState"],
                "inputResponses": { "input-1": accept(json!({ "name": "Ada" })) } }),
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"].as_str().unwrap().contains("expired"),
        "{r}"
    );
}

#[tokio::test]
async fn requests_made_together_are_asked_together_and_rounds_chain() {
    let server = server(ServerOptions::default());
    let first = call(&server, &alice(), "tools/call", json!({ "name": "survey" })).await;
    let asked = first["inputRequests"].as_object().unwrap();
    assert_eq!(asked.len(), 3, "{first}");
    assert_eq!(asked["model"]["method"], "sampling/createMessage");
    assert_eq!(asked["roots"]["method"], "roots/list");
    // Two of three answered (and one the server never asked): asked again for the third.
    let partial = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "survey", "requestState": first["requestState"], "inputResponses": {
            "name": accept(json!({ "name": "Ada" })),
            "model": { "role": "assistant", "content": { "type": "text", "text": "Hello" }, "model": "m" },
            "unasked": { "action": "accept" },
        } }),
    )
    .await;
    assert_eq!(partial["resultType"], "input_required");
    let again: Vec<&String> = partial["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(again, ["roots"]);
    // The earlier answers travel in the new state; this round answers only the missing one.
    let done = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "survey", "requestState": partial["requestState"], "inputResponses": {
            "roots": { "roots": [{ "uri": "file:///work", "name": "w" }] },
        } }),
    )
    .await;
    assert_eq!(text(&done), "Ada / Hello / file:///work");

    // Sequential requests: one round each.
    let r1 = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "two_steps" }),
    )
    .await;
    assert!(r1["inputRequests"]["input-1"].is_object());
    let r2 = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "two_steps", "requestState": r1["requestState"],
                "inputResponses": { "input-1": accept(json!({ "name": "a" })) } }),
    )
    .await;
    assert_eq!(
        r2["inputRequests"]["input-2"]["params"]["message"],
        "Step 2"
    );
    assert!(r2["inputRequests"].get("input-1").is_none());
    let r3 = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "two_steps", "requestState": r2["requestState"],
                "inputResponses": { "input-2": accept(json!({ "name": "b" })) } }),
    )
    .await;
    assert_eq!(text(&r3), "a then b");
}

#[tokio::test]
async fn the_scope_check_runs_every_round_and_a_step_up_keeps_the_state() {
    let server = server(ServerOptions::default());
    let args = json!({ "item": "tea" });
    let first = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "order", "arguments": args }),
    )
    .await;
    let retry = json!({ "name": "order", "arguments": args, "requestState": first["requestState"],
                        "inputResponses": { "confirm": accept(json!({ "ok": true })) } });
    // The same user, with a token that lost the scope: denied before the state is spent.
    let weaker = who("alice", "");
    let denied = call(&server, &weaker, "tools/call", retry.clone()).await;
    assert_eq!(denied["denied"], json!(["shop:order"]));
    // After a step-up the same retry goes through.
    assert_eq!(
        text(&call(&server, &alice(), "tools/call", retry).await),
        "ordered tea"
    );
}

#[tokio::test]
async fn only_declared_capabilities_are_asked_for() {
    let server = server(ServerOptions::default());
    let r = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "capable", "caps": { "sampling": {} } }),
    )
    .await;
    assert_eq!(r["resultType"], "complete");
    assert_eq!(text(&r), "did without elicitation");
    let r = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "capable" }),
    )
    .await;
    assert_eq!(
        r["inputRequests"]["input-1"]["method"], "elicitation/create",
        "{r}"
    );
    // A handler that needs what the client did not declare: -32021, HTTP 400, nothing asked.
    let r = call(
        &server,
        &alice(),
        "tools/call",
        json!({ "name": "greet", "caps": { "sampling": {} } }),
    )
    .await;
    assert_eq!(r["error"]["code"], -32021, "{r}");
    assert_eq!(
        r["error"]["data"]["requiredCapabilities"],
        json!({ "elicitation": {} })
    );
    assert_eq!(r["refusal"], "BadRequest");
}

#[tokio::test]
async fn prompts_and_resources_ask_too() {
    let server = server(ServerOptions::default());
    let first = call(
        &server,
        &alice(),
        "prompts/get",
        json!({ "name": "briefing" }),
    )
    .await;
    assert_eq!(first["resultType"], "input_required");
    let done = call(
        &server,
        &alice(),
        "prompts/get",
        json!({ "name": "briefing", "requestState": first["requestState"],
                "inputResponses": { "topic": accept(json!({ "topic": "tea" })) } }),
    )
    .await;
    assert_eq!(done["resultType"], "complete");
    assert_eq!(done["messages"][0]["content"]["text"], "Brief me on tea");

    let prompt_round = call(
        &server,
        &alice(),
        "prompts/get",
        json!({ "name": "briefing" }),
    )
    .await;
    let first = call(
        &server,
        &alice(),
        "resources/read",
        json!({ "uri": "shop://note" }),
    )
    .await;
    assert_eq!(first["resultType"], "input_required");
    assert!(first.get("ttlMs").is_none());
    // A state of the prompt does not open the resource.
    let crossed = call(
        &server,
        &alice(),
        "resources/read",
        json!({ "uri": "shop://note", "requestState": prompt_round["requestState"],
                "inputResponses": { "input-1": accept(json!({ "name": "Ada" })) } }),
    )
    .await;
    assert_eq!(crossed["error"]["code"], -32602, "{crossed}");
    let done = call(
        &server,
        &alice(),
        "resources/read",
        json!({ "uri": "shop://note", "requestState": first["requestState"],
                "inputResponses": { "input-1": accept(json!({ "name": "Ada" })) } }),
    )
    .await;
    assert_eq!(done["contents"][0]["text"], "note of Ada");
    assert_eq!(done["cacheScope"], "private");
}

#[tokio::test]
async fn keys_shared_by_replicas_open_each_others_states_and_rotate() {
    let old = [3_u8; 32];
    let new = [4_u8; 32];
    let a = server(ServerOptions::default().state_keys(StateKeys::new(old)));
    let b = server(ServerOptions::default().state_keys(StateKeys::new(new).with_previous(old)));
    let c = server(ServerOptions::default());
    let first = call(&a, &alice(), "tools/call", json!({ "name": "greet" })).await;
    let retry = json!({ "name": "greet", "requestState": first["requestState"],
                        "inputResponses": { "input-1": accept(json!({ "name": "Ada" })) } });
    // A replica with a key of its own cannot open it.
    assert_eq!(
        call(&c, &alice(), "tools/call", retry.clone()).await["error"]["code"],
        -32602
    );
    assert_eq!(
        text(&call(&b, &alice(), "tools/call", retry).await),
        "Hello, Ada!"
    );
}

#[tokio::test]
async fn the_legacy_era_is_untouched_by_input_fields() {
    // A 2025 request has no rounds: its `requestState` and `inputResponses` are unknown params,
    // and a handler that elicits without a session stream fails as before.
    let server = server(ServerOptions::default());
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": "greet", "requestState": "x", "inputResponses": {} } });
    let Reply::Response(response) = server
        .handle_bytes(body.to_string().as_bytes(), &alice())
        .await
    else {
        panic!("a response");
    };
    let value = serde_json::to_value(&response).unwrap();
    assert_eq!(value["result"]["isError"], true, "{value}");
    assert!(value["result"].get("resultType").is_none());
}

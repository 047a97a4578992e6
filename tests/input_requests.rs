//! 2026-07-28 input requests (SEP-2322) through the dispatcher: a handler that asks the client
//! for something answers `input_required`, runs again from its start with the answers, and
//! completes; the state it hands the client is sealed, bound, single-use and expiring.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet, ServerOptions, StateKeys};
use serde_json::{Value, json};
use support::who;

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

/// What the client declares, unless a test says otherwise: everything a handler may ask for.
fn capabilities() -> Value {
    json!({ "elicitation": {}, "sampling": {}, "roots": {} })
}

/// One 2026-07-28 request from a client that declares [`capabilities`], sent as it is or again
/// with the answers to what a round asked.
struct Asking<'a> {
    server: &'a Server<ShopServer>,
    principal: Principal,
    method: &'static str,
    params: Value,
}

/// `method` with `params`, as alice.
fn asking<'a>(server: &'a Server<ShopServer>, method: &'static str, params: Value) -> Asking<'a> {
    Asking {
        server,
        principal: alice(),
        method,
        params,
    }
}

/// `tools/call` with `params`, as alice.
fn tool(server: &Server<ShopServer>, params: Value) -> Asking<'_> {
    asking(server, "tools/call", params)
}

impl Asking<'_> {
    /// The same request from `principal`.
    fn by(&self, principal: Principal) -> Self {
        Asking {
            principal,
            params: self.params.clone(),
            ..*self
        }
    }

    /// Sends the request as it is: its result, or `{"error": …}`, `{"refused": …}` or
    /// `{"denied": …}` (see [`support::modern_dispatch`]).
    async fn send(&self) -> Value {
        self.with(json!({})).await
    }

    /// Sends the request with the params in `extra` added (a `requestState`, `inputResponses`).
    async fn with(&self, extra: Value) -> Value {
        let mut params = self.params.clone();
        for (key, value) in extra.as_object().expect("params") {
            params[key] = value.clone();
        }
        let (server, principal) = (self.server, &self.principal);
        support::modern_dispatch(server, principal, self.method, params, capabilities()).await
    }

    /// Sends the request again after `round` asked for input: with the `requestState` that
    /// `round` sealed, and `answers` as its `inputResponses`.
    async fn answer(&self, round: &Value, answers: Value) -> Value {
        self.with(json!({ "requestState": round["requestState"], "inputResponses": answers }))
            .await
    }
}

fn accept(content: Value) -> Value {
    json!({ "action": "accept", "content": content })
}

/// The answer to the first question of `greet` (and of `note`): Ada.
fn ada() -> Value {
    json!({ "input-1": accept(json!({ "name": "Ada" })) })
}

/// The answer to `order`'s question: yes.
fn confirmed() -> Value {
    json!({ "confirm": accept(json!({ "ok": true })) })
}

/// `order` of one tea.
fn tea() -> Value {
    json!({ "name": "order", "arguments": { "item": "tea" } })
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_tool_asks_then_completes_with_the_answer() {
    let server = server(ServerOptions::default());
    let greet = tool(&server, json!({ "name": "greet" }));
    let first = greet.send().await;
    assert_eq!(first["resultType"], "input_required");
    let request = &first["inputRequests"]["input-1"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "What is your name?");
    assert!(first.get("ttlMs").is_none() && first.get("content").is_none());
    assert!(first["requestState"].is_string(), "{first}");
    let done = greet.answer(&first, ada()).await;
    assert_eq!(done["resultType"], "complete");
    assert_eq!(text(&done), "Hello, Ada!");
}

#[tokio::test]
async fn side_effects_after_the_inputs_happen_once() {
    let server = server(ServerOptions::default());
    let shop = server.state().clone();
    let order = tool(&server, tea());
    let first = order.send().await;
    assert_eq!(first["resultType"], "input_required");
    assert!(first["inputRequests"]["confirm"].is_object());
    assert_eq!(shop.placed.load(Ordering::SeqCst), 0);
    let done = order.answer(&first, confirmed()).await;
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
    let order = tool(&server, tea());
    let first = order.send().await;
    // Another caller, other arguments, another tool: refused, and nothing ran.
    let foreign = order
        .by(who("mallory", "shop:order"))
        .answer(&first, confirmed())
        .await;
    support::assert_error(&foreign, -32602, "another caller");
    let gold = json!({ "name": "order", "arguments": { "item": "gold" } });
    let other_args = tool(&server, gold).answer(&first, confirmed()).await;
    assert_eq!(other_args["error"]["code"], -32602);
    let other_issuer = Principal::builder()
        .issuer("https://evil.example")
        .subject("alice")
        .scopes(ScopeSet::from_space_separated("shop:order"))
        .build();
    assert_eq!(
        order.by(other_issuer).answer(&first, confirmed()).await["error"]["code"],
        -32602
    );
    let greet = json!({ "name": "greet", "arguments": {} });
    assert_eq!(
        tool(&server, greet).answer(&first, confirmed()).await["error"]["code"],
        -32602
    );
    // The owner, once.
    assert_eq!(
        text(&order.answer(&first, confirmed()).await),
        "ordered tea"
    );
    let replay = order.answer(&first, confirmed()).await;
    support::assert_error(&replay, -32602, "already used");
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tampered_or_malformed_state_runs_no_handler() {
    let server = server(ServerOptions::default());
    let order = tool(&server, tea());
    let first = order.send().await;
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
        let r = order
            .with(json!({ "requestState": bad, "inputResponses": confirmed() }))
            .await;
        assert_eq!(r["error"]["code"], -32602, "{bad}: {r}");
    }
    // Results that are not results: a protocol error, not a complete call.
    for bad in [json!(null), json!({ "confirm": 12345 }), json!([1])] {
        let r = order.with(json!({ "inputResponses": bad })).await;
        assert_eq!(r["error"]["code"], -32602, "{bad}: {r}");
    }
    assert_eq!(
        server.state().runs.load(Ordering::SeqCst),
        runs,
        "no handler ran"
    );
    // An answer of the wrong kind for what the handler asked is refused when read.
    let r = order
        .answer(&order.send().await, json!({ "confirm": { "roots": [] } }))
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn answers_count_only_for_questions_asked() {
    let server = server(ServerOptions::default());
    let order = tool(&server, tea());
    // Answered before it was asked (no state): ignored, and asked.
    let pre = order.with(json!({ "inputResponses": confirmed() })).await;
    assert_eq!(pre["resultType"], "input_required", "{pre}");
    assert!(pre["inputRequests"]["confirm"].is_object());
    // Answers to keys the last round did not ask are ignored too; the asked one is asked again.
    let again = order
        .answer(
            &pre,
            json!({ "other": { "action": "accept", "content": {} } }),
        )
        .await;
    assert_eq!(again["resultType"], "input_required", "{again}");
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 0);
    assert_eq!(
        text(&order.answer(&again, confirmed()).await),
        "ordered tea"
    );
    assert_eq!(server.state().placed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let options = ServerOptions::default().request_state_ttl(Duration::from_secs(1));
    let server = server(options);
    let greet = tool(&server, json!({ "name": "greet" }));
    let first = greet.send().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = greet.answer(&first, ada()).await;
    support::assert_error(&r, -32602, "expired");
}

#[tokio::test]
async fn requests_made_together_are_asked_together_and_rounds_chain() {
    let server = server(ServerOptions::default());
    let survey = tool(&server, json!({ "name": "survey" }));
    let first = survey.send().await;
    let asked = first["inputRequests"].as_object().unwrap();
    assert_eq!(asked.len(), 3, "{first}");
    assert_eq!(asked["model"]["method"], "sampling/createMessage");
    assert_eq!(asked["roots"]["method"], "roots/list");
    // Two of three answered (and one the server never asked): asked again for the third.
    let partial = survey
        .answer(
            &first,
            json!({
                "name": accept(json!({ "name": "Ada" })),
                "model": { "role": "assistant", "content": { "type": "text", "text": "Hello" }, "model": "m" },
                "unasked": { "action": "accept" },
            }),
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
    let roots = json!({ "roots": { "roots": [{ "uri": "file:///work", "name": "w" }] } });
    let done = survey.answer(&partial, roots).await;
    assert_eq!(text(&done), "Ada / Hello / file:///work");

    // Sequential requests: one round each.
    let two_steps = tool(&server, json!({ "name": "two_steps" }));
    let r1 = two_steps.send().await;
    assert!(r1["inputRequests"]["input-1"].is_object());
    let a = json!({ "input-1": accept(json!({ "name": "a" })) });
    let r2 = two_steps.answer(&r1, a).await;
    assert_eq!(
        r2["inputRequests"]["input-2"]["params"]["message"],
        "Step 2"
    );
    assert!(r2["inputRequests"].get("input-1").is_none());
    let b = json!({ "input-2": accept(json!({ "name": "b" })) });
    let r3 = two_steps.answer(&r2, b).await;
    assert_eq!(text(&r3), "a then b");
}

#[tokio::test]
async fn the_scope_check_runs_every_round_and_a_step_up_keeps_the_state() {
    let server = server(ServerOptions::default());
    let order = tool(&server, tea());
    let first = order.send().await;
    // The same user, with a token that lost the scope: denied before the state is spent.
    let weaker = order.by(who("alice", ""));
    let denied = weaker.answer(&first, confirmed()).await;
    assert_eq!(denied["denied"], json!(["shop:order"]));
    // After a step-up the same retry goes through.
    assert_eq!(
        text(&order.answer(&first, confirmed()).await),
        "ordered tea"
    );
}

#[tokio::test]
async fn only_declared_capabilities_are_asked_for() {
    let server = server(ServerOptions::default());
    let alice = alice();
    // A client that declares sampling only.
    let sampling_only = |tool: &str| {
        let params = json!({ "name": tool });
        let capabilities = json!({ "sampling": {} });
        support::modern_dispatch(&server, &alice, "tools/call", params, capabilities)
    };
    let r = sampling_only("capable").await;
    assert_eq!(r["resultType"], "complete");
    assert_eq!(text(&r), "did without elicitation");
    let r = tool(&server, json!({ "name": "capable" })).send().await;
    assert_eq!(
        r["inputRequests"]["input-1"]["method"], "elicitation/create",
        "{r}"
    );
    // A handler that needs what the client did not declare: -32021, HTTP 400, nothing asked.
    let r = sampling_only("greet").await;
    assert_eq!(r["refused"]["code"], -32021, "{r}");
    assert_eq!(
        r["refused"]["data"]["requiredCapabilities"],
        json!({ "elicitation": {} })
    );
    assert_eq!(r["refusal"], "BadRequest");
}

#[tokio::test]
async fn prompts_and_resources_ask_too() {
    let server = server(ServerOptions::default());
    let briefing = asking(&server, "prompts/get", json!({ "name": "briefing" }));
    let first = briefing.send().await;
    assert_eq!(first["resultType"], "input_required");
    let tea = json!({ "topic": accept(json!({ "topic": "tea" })) });
    let done = briefing.answer(&first, tea).await;
    assert_eq!(done["resultType"], "complete");
    assert_eq!(done["messages"][0]["content"]["text"], "Brief me on tea");

    let prompt_round = briefing.send().await;
    let note = asking(&server, "resources/read", json!({ "uri": "shop://note" }));
    let first = note.send().await;
    assert_eq!(first["resultType"], "input_required");
    assert!(first.get("ttlMs").is_none());
    // A state of the prompt does not open the resource.
    let crossed = note.answer(&prompt_round, ada()).await;
    assert_eq!(crossed["error"]["code"], -32602, "{crossed}");
    let done = note.answer(&first, ada()).await;
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
    let greet = json!({ "name": "greet" });
    let first = tool(&a, greet.clone()).send().await;
    // A replica with a key of its own cannot open it.
    assert_eq!(
        tool(&c, greet.clone()).answer(&first, ada()).await["error"]["code"],
        -32602
    );
    assert_eq!(
        text(&tool(&b, greet).answer(&first, ada()).await),
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

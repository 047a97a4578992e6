//! Scope rules beyond one fixed scope, through the transport-free dispatcher: any-of, scopes that
//! depend on the arguments (`when`), scopes a handler demands while it runs (`may_require`),
//! per-tool quotas, and what lists, `_meta` and the scope table say of them.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use schemars::JsonSchema;
use scopegate::prelude::*;
use scopegate::protocol::error_code;
use scopegate::{BuildError, DenialRule, ListVisibility, Refusal, Reply, ScopeSet, ServerOptions};
use serde::Deserialize;
use serde_json::{Value, json};

/// Counts the runs of the tools that must not run when denied.
#[derive(Debug, Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Visibility {
    Public,
    #[serde(alias = "hidden")]
    Private,
}

/// Searches the docs: readers and admins alike.
#[mcp_tool(any_scope = ["docs:read", "docs:admin"])]
fn search(query: String) -> String {
    format!("results for {query}")
}

/// Creates a repository; a private one needs `repo:private` too.
#[mcp_tool(scope = "repo:write", when(private => "repo:private"))]
fn create_repo(runs: State<Runs>, name: String, private: bool) -> String {
    runs.0.0.fetch_add(1, Ordering::SeqCst);
    format!("created {name} (private: {private})")
}

/// Lists repositories by visibility; archived ones need `repo:admin`. The clauses add up.
#[mcp_tool(
    scope = "repo:read",
    when(visibility == "private" => "repo:private"),
    when(archived == true => "repo:admin"),
    when(limit == 1000 => "repo:admin")
)]
fn list_repos(
    runs: State<Runs>,
    visibility: Option<Visibility>,
    archived: Option<bool>,
    limit: Option<u32>,
) -> String {
    runs.0.0.fetch_add(1, Ordering::SeqCst);
    format!("{visibility:?} {archived:?} {limit:?}")
}

/// Reads a repository; only the repository knows whether it is private.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
fn get_repo(name: String, ctx: RequestContext) -> Result<String, ToolError> {
    if name.starts_with("secret") {
        ctx.require_scopes(["repo:private"])?;
    }
    Ok(format!("repo {name}"))
}

/// Demands a scope it never declared, and ignores the error.
#[mcp_tool(scope = "repo:read")]
fn sneaky(ctx: RequestContext) -> String {
    let _ = ctx.require_scopes(["repo:admin"]);
    "ran on regardless".into()
}

/// Ignores a refused demand and returns what it found anyway.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
fn careless(ctx: RequestContext) -> String {
    let _ = ctx.require_scopes(["repo:private"]);
    "the private data".into()
}

fn yes_schema() -> Value {
    json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } })
}

/// Asks the user first, then finds that the repository is private.
#[mcp_tool(scope = "repo:read", may_require = ["repo:private"])]
async fn confirm_secret(ctx: RequestContext) -> Result<String, ToolError> {
    ctx.elicit("Open the secret repository?", yes_schema())
        .await?;
    ctx.require_scopes(["repo:private"])?;
    Ok("opened".into())
}

/// Asks the user before creating a repository that may be private.
#[mcp_tool(scope = "repo:write", when(private => "repo:private"))]
async fn confirm_create(private: bool, ctx: RequestContext) -> Result<String, ToolError> {
    ctx.elicit("Create it?", yes_schema()).await?;
    Ok(format!("created (private: {private})"))
}

/// Wipes everything, three times a minute at most per caller.
#[mcp_tool(scope = "repo:admin", destructive, quota = "3/min")]
fn wipe(runs: State<Runs>) -> String {
    runs.0.0.fetch_add(1, Ordering::SeqCst);
    "wiped".into()
}

/// A repository's README; the secret one needs `repo:private`.
#[mcp_resource(
    uri = "repo://{name}/readme",
    scope = "repo:read",
    when(name == "secret" => "repo:private")
)]
fn readme(name: String) -> String {
    format!("# {name}")
}

/// Docs for readers or admins.
#[mcp_resource(uri = "docs://index", any_scope = ["docs:read", "docs:admin"])]
fn docs_index() -> String {
    "index".into()
}

/// A review prompt for readers or admins.
#[mcp_prompt(any_scope = ["docs:read", "docs:admin"])]
fn review(topic: String) -> Vec<PromptMessage> {
    vec![PromptMessage::user(format!("review {topic}"))]
}

#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "repos",
    tools(
        search,
        create_repo,
        list_repos,
        get_repo,
        sneaky,
        careless,
        wipe,
        confirm_secret,
        confirm_create
    ),
    resources(readme, docs_index),
    prompts(review),
    implies("repo:admin" => ["repo:private"]),
)]
struct Repos {
    #[mcp(state)]
    runs: Runs,
}

fn principal(scopes: &str) -> Principal {
    Principal::builder()
        .subject("alice")
        .scopes(ScopeSet::from_space_separated(scopes))
        .build()
}

fn server(options: ServerOptions) -> (Server<Repos>, Runs) {
    let repos = Repos::default();
    let runs = repos.runs.clone();
    (Server::with_options(repos, options).unwrap(), runs)
}

async fn reply(server: &Server<Repos>, who: &Principal, method: &str, params: Value) -> Reply {
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    server
        .handle_bytes(message.to_string().as_bytes(), who)
        .await
}

async fn call(server: &Server<Repos>, who: &Principal, tool: &str, arguments: Value) -> Reply {
    reply(
        server,
        who,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
    .await
}

fn result(reply: Reply) -> Value {
    match reply {
        Reply::Response(response) => serde_json::from_str(&response.to_json()).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Whether the tool ran and succeeded.
fn succeeded(reply: Reply) -> bool {
    let r = result(reply);
    r["result"]["content"].is_array() && r["result"]["isError"] != true
}

fn denial(reply: Reply) -> scopegate::Denial {
    match reply {
        Reply::Denied(denial) => *denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn one_scope_of_an_any_of_rule_suffices_and_a_denial_asks_for_the_first() {
    let (server, _) = server(ServerOptions::default());
    for held in ["docs:read", "docs:admin", "docs:read docs:admin"] {
        let r = result(call(&server, &principal(held), "search", json!({"query": "x"})).await);
        assert_eq!(r["result"]["content"][0]["text"], "results for x", "{held}");
    }
    let d = denial(
        call(
            &server,
            &principal("repo:read"),
            "search",
            json!({"query": "x"}),
        )
        .await,
    );
    assert_eq!(
        (d.required.clone(), d.missing.clone(), d.rule.clone()),
        (vec!["docs:read"], vec!["docs:read"], DenialRule::AnyScope)
    );
    // Resources and prompts alike.
    let who = principal("docs:admin");
    let read = result(
        reply(
            &server,
            &who,
            "resources/read",
            json!({"uri": "docs://index"}),
        )
        .await,
    );
    assert_eq!(read["result"]["contents"][0]["text"], "index");
    let got = result(
        reply(
            &server,
            &who,
            "prompts/get",
            json!({"name": "review", "arguments": {"topic": "t"}}),
        )
        .await,
    );
    assert!(got["result"]["messages"].is_array(), "{got}");
    let nobody = principal("repo:read");
    let d = denial(
        reply(
            &server,
            &nobody,
            "resources/read",
            json!({"uri": "docs://index"}),
        )
        .await,
    );
    assert_eq!((d.kind, d.missing), ("resource", vec!["docs:read"]));
    let d = denial(
        reply(
            &server,
            &nobody,
            "prompts/get",
            json!({"name": "review", "arguments": {"topic": "t"}}),
        )
        .await,
    );
    assert_eq!((d.kind, d.rule), ("prompt", DenialRule::AnyScope));
}

#[tokio::test]
async fn an_argument_dependent_scope_is_asked_only_when_the_argument_matches() {
    let (server, runs) = server(ServerOptions::default());
    let writer = principal("repo:write");
    let open = call(
        &server,
        &writer,
        "create_repo",
        json!({"name": "a", "private": false}),
    )
    .await;
    assert!(succeeded(open));
    let d = denial(
        call(
            &server,
            &writer,
            "create_repo",
            json!({"name": "b", "private": true}),
        )
        .await,
    );
    assert_eq!(
        d.required,
        ["repo:write", "repo:private"],
        "every scope this call needs"
    );
    assert_eq!(d.missing, ["repo:private"]);
    assert_eq!(
        d.rule,
        DenialRule::When(vec![r#"when(private => "repo:private")"#.into()])
    );
    assert_eq!(runs.count(), 1, "the denied call did not run");
    // A broader scope satisfies it through the hierarchy.
    let admin = principal("repo:write repo:admin");
    let private = call(
        &server,
        &admin,
        "create_repo",
        json!({"name": "b", "private": true}),
    )
    .await;
    assert!(succeeded(private));
    assert_eq!(runs.count(), 2);
}

#[tokio::test]
async fn literals_are_compared_as_the_arguments_type_and_clauses_add_up() {
    let (server, runs) = server(ServerOptions::default());
    let reader = principal("repo:read");
    let list = |args: Value| call(&server, &reader, "list_repos", args);
    // An absent optional argument never matches; another value does not either.
    for args in [
        json!({}),
        json!({"visibility": "public", "archived": false, "limit": 10}),
    ] {
        assert!(succeeded(list(args).await));
    }
    // A serde alias of the enum variant is the same value: no spelling slips past the rule.
    for spelling in ["private", "hidden"] {
        let d = denial(list(json!({ "visibility": spelling })).await);
        assert_eq!(d.missing, ["repo:private"], "{spelling}");
    }
    // Several clauses: both scopes are named, each once, in the order declared.
    let d = denial(list(json!({"visibility": "private", "archived": true, "limit": 1000})).await);
    assert_eq!(d.required, ["repo:read", "repo:private", "repo:admin"]);
    assert_eq!(d.missing, ["repo:private", "repo:admin"]);
    assert_eq!(runs.count(), 2, "no denied call ran");
    // A bad argument is an argument error, not a way around the rule.
    let bad = result(list(json!({"visibility": "secret"})).await);
    assert_eq!(bad["result"]["isError"], true, "{bad}");
    assert_eq!(runs.count(), 2);
}

#[tokio::test]
async fn a_template_variable_can_decide_a_resources_scope() {
    let (server, _) = server(ServerOptions::default());
    let reader = principal("repo:read");
    let read = |uri: &str| reply(&server, &reader, "resources/read", json!({ "uri": uri }));
    assert_eq!(
        result(read("repo://open/readme").await)["result"]["contents"][0]["text"],
        "# open"
    );
    let d = denial(read("repo://secret/readme").await);
    assert_eq!((d.kind, d.missing), ("resource", vec!["repo:private"]));
}

#[tokio::test]
async fn a_scope_demanded_at_run_time_is_a_step_up_denial_whatever_the_handler_returns() {
    let (server, _) = server(ServerOptions::default());
    let reader = principal("repo:read");
    let open = result(call(&server, &reader, "get_repo", json!({"name": "docs"})).await);
    assert_eq!(open["result"]["content"][0]["text"], "repo docs");
    let d = denial(
        call(
            &server,
            &reader,
            "get_repo",
            json!({"name": "secret-plans"}),
        )
        .await,
    );
    assert_eq!(
        (d.required, d.missing, d.rule, d.in_band),
        (
            vec!["repo:read", "repo:private"],
            vec!["repo:private"],
            DenialRule::MayRequire,
            false
        )
    );
    let holder = principal("repo:read repo:private");
    let r = result(
        call(
            &server,
            &holder,
            "get_repo",
            json!({"name": "secret-plans"}),
        )
        .await,
    );
    assert_eq!(r["result"]["content"][0]["text"], "repo secret-plans");
    // A handler that ignores the refusal still answers with the denial, never its output.
    let d = denial(call(&server, &reader, "careless", json!({})).await);
    assert_eq!(d.missing, ["repo:private"]);
}

/// A 2026-07-28 `tools/call` of `tool` from a client that can answer elicitations, with
/// `extra` params (a round's `requestState` and `inputResponses`).
async fn modern_call(
    server: &Server<Repos>,
    who: &Principal,
    tool: &str,
    arguments: Value,
    extra: Value,
) -> Reply {
    let capabilities = json!({ "elicitation": {} });
    let params = support::modern_call_params(tool, arguments, capabilities, extra);
    reply(server, who, "tools/call", params).await
}

/// The answer to the one question of `confirm_secret` and `confirm_create`.
fn confirmed(round: &Value) -> Value {
    json!({
        "requestState": round["result"]["requestState"],
        "inputResponses": { "input-1": { "action": "accept", "content": { "ok": true } } },
    })
}

#[tokio::test]
async fn a_run_time_denial_after_a_rounds_state_was_spent_is_answered_in_band() {
    let (server, _) = server(ServerOptions::default());
    let reader = principal("repo:read");
    let first = result(modern_call(&server, &reader, "confirm_secret", json!({}), json!({})).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let d = denial(
        modern_call(
            &server,
            &reader,
            "confirm_secret",
            json!({}),
            confirmed(&first),
        )
        .await,
    );
    assert_eq!(d.missing, ["repo:private"]);
    assert!(
        d.in_band,
        "the state is spent: a 403 could not be answered by repeating the call"
    );
    let body: Value =
        serde_json::from_str(&d.to_response_with_challenge("Bearer x").to_json()).unwrap();
    assert_eq!(body["error"]["code"], error_code::INSUFFICIENT_SCOPE);
    assert_eq!(body["error"]["data"]["wwwAuthenticate"], "Bearer x");
    assert_eq!(body["error"]["data"]["rule"], "may_require");
}

#[tokio::test]
async fn an_argument_dependent_denial_leaves_a_rounds_state_for_the_retry() {
    let (server, _) = server(ServerOptions::default());
    let args = json!({ "private": true });
    let holder = principal("repo:write repo:private");
    let first =
        result(modern_call(&server, &holder, "confirm_create", args.clone(), json!({})).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    // The same caller without the scope now (a token with fewer scopes): denied before the
    // state is spent, with a 403 the client can step up from.
    let writer = principal("repo:write");
    let d = denial(
        modern_call(
            &server,
            &writer,
            "confirm_create",
            args.clone(),
            confirmed(&first),
        )
        .await,
    );
    assert_eq!((d.missing, d.in_band), (vec!["repo:private"], false));
    // After the step-up, the same state completes the call.
    let done =
        result(modern_call(&server, &holder, "confirm_create", args, confirmed(&first)).await);
    assert_eq!(
        done["result"]["content"][0]["text"], "created (private: true)",
        "{done}"
    );
}

#[tokio::test]
async fn demanding_an_undeclared_scope_fails_closed() {
    let (server, _) = server(ServerOptions::default());
    // Even a caller holding the scope: the handler's demand is a bug, not a step-up.
    for held in ["repo:read", "repo:read repo:admin"] {
        let r = result(call(&server, &principal(held), "sneaky", json!({})).await);
        assert_eq!(r["error"]["code"], error_code::INTERNAL_ERROR, "{r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("may_require") && message.contains("repo:admin"),
            "{message}"
        );
        assert!(
            r.get("result").is_none(),
            "the handler's output is not sent: {r}"
        );
    }
}

#[tokio::test]
async fn a_quota_counts_each_callers_calls_before_the_tool_runs() {
    let (server, runs) = server(ServerOptions::default());
    let alice = principal("repo:admin");
    for _ in 0..3 {
        assert!(succeeded(call(&server, &alice, "wipe", json!({})).await));
    }
    let Reply::Refused(response, Refusal::TooManyRequests(wait)) =
        call(&server, &alice, "wipe", json!({})).await
    else {
        panic!("the fourth call in a minute is over the quota");
    };
    assert!(wait.as_secs() >= 1 && wait.as_secs() <= 20, "{wait:?}");
    let body: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(body["error"]["code"], error_code::QUOTA_EXCEEDED);
    assert_eq!(body["error"]["data"]["quota"], "3/min");
    assert_eq!(runs.count(), 3, "the refused call did not run");
    // Per principal: another caller has a quota of its own.
    let bob = Principal::builder()
        .subject("bob")
        .scopes(ScopeSet::from_space_separated("repo:admin"))
        .build();
    assert!(succeeded(call(&server, &bob, "wipe", json!({})).await));
    // A caller denied by scope does not use up its quota.
    let d = denial(call(&server, &principal("repo:read"), "wipe", json!({})).await);
    assert_eq!(d.missing, ["repo:admin"]);
}

#[tokio::test]
async fn lists_and_meta_tell_clients_every_rule_up_front() {
    let options = ServerOptions::default().list_visibility(ListVisibility::Granted);
    let (server, _) = server(options);
    let names = |r: Value| -> Vec<String> {
        r["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let docs_admin =
        result(reply(&server, &principal("docs:admin"), "tools/list", json!({})).await);
    assert_eq!(
        names(docs_admin.clone()),
        ["search"],
        "an any-of scope makes it visible"
    );
    let reader = result(reply(&server, &principal("repo:read"), "tools/list", json!({})).await);
    assert_eq!(
        names(reader.clone()),
        [
            "list_repos",
            "get_repo",
            "sneaky",
            "careless",
            "confirm_secret"
        ],
        "conditional scopes do not hide a tool"
    );
    let meta = |list: &Value, tool: &str| -> Value {
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .map(|t| t["_meta"].clone())
            .unwrap()
    };
    assert_eq!(
        meta(&docs_admin, "search"),
        json!({
            "dev.scopegate/requiredScopes": [],
            "dev.scopegate/anyScopes": ["docs:read", "docs:admin"],
        })
    );
    assert_eq!(
        meta(&reader, "list_repos")["dev.scopegate/conditionalScopes"],
        json!([
            {"argument": "visibility", "equals": "private", "scope": "repo:private"},
            {"argument": "archived", "equals": true, "scope": "repo:admin"},
            {"argument": "limit", "equals": 1000, "scope": "repo:admin"},
        ])
    );
    assert_eq!(
        meta(&reader, "get_repo")["dev.scopegate/mayRequireScopes"],
        json!(["repo:private"])
    );
    let admin = result(reply(&server, &principal("repo:admin"), "tools/list", json!({})).await);
    assert_eq!(
        meta(&admin, "wipe"),
        json!({
            "dev.scopegate/requiredScopes": ["repo:admin"],
            "dev.scopegate/quota": {"calls": 3, "perSeconds": 60},
        })
    );
}

#[test]
fn every_scope_a_rule_names_is_in_the_table_with_its_rule() {
    let (server, _) = server(ServerOptions::default());
    assert_eq!(
        server.scopes().supported(),
        [
            "docs:admin",
            "docs:read",
            "repo:admin",
            "repo:private",
            "repo:read",
            "repo:write"
        ]
    );
    let table = server.scope_table_json();
    let row = |scope: &str| -> Value {
        table["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["scope"] == scope)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("docs:admin")["tools"], json!(["search"]));
    assert_eq!(
        row("repo:private")["rules"],
        json!([
            {"tool": "create_repo", "rule": r#"when(private => "repo:private")"#},
            {"tool": "list_repos", "rule": r#"when(visibility == "private" => "repo:private")"#},
            {"tool": "get_repo", "rule": "may_require"},
            {"tool": "careless", "rule": "may_require"},
            {"tool": "confirm_secret", "rule": "may_require"},
            {"tool": "confirm_create", "rule": r#"when(private => "repo:private")"#},
            {"resource": "repo://{name}/readme", "rule": r#"when(name == "secret" => "repo:private")"#},
        ])
    );
    let wipe = table["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "wipe")
        .unwrap();
    assert_eq!(wipe["quota"], "3/min");
    let markdown = server.scope_table_markdown();
    assert!(!markdown.contains("| `search` | public |"), "{markdown}");
    assert!(
        markdown
            .contains(r#"| `create_repo` | `repo:write` | `when(private => "repo:private")` |"#),
        "{markdown}"
    );
}

/// A literal no value of the argument's type equals (a misspelt variant) would make its clause
/// never match: the server refuses to build.
#[test]
fn a_literal_the_argument_can_never_equal_fails_the_build() {
    #[mcp_tool(scope = "repo:read", when(visibility == "privat" => "repo:private"))]
    fn misspelt(visibility: Visibility) -> String {
        format!("{visibility:?}")
    }

    #[derive(McpServer, Clone)]
    #[mcp(name = "misspelt", tools(misspelt))]
    struct Misspelt;

    let Err(error) = Server::new(Misspelt) else {
        panic!("the build fails");
    };
    assert_eq!(
        error,
        BuildError::WhenLiteral {
            item: "misspelt",
            clause: r#"when(visibility == "privat" => "repo:private")"#.into()
        }
    );
}

#[tokio::test]
async fn over_stdio_every_denial_names_the_variable_that_grants_scopes() {
    let (server, _) = server(ServerOptions::default());
    let mut peer = support::StdioPeer::start(server, principal("repo:read repo:write"));
    let calls = [
        (
            json!({"name": "create_repo", "arguments": {"name": "a", "private": true}}),
            "repo:private",
        ),
        (
            json!({"name": "get_repo", "arguments": {"name": "secret"}}),
            "repo:private",
        ),
    ];
    for (id, (params, missing)) in calls.into_iter().enumerate() {
        peer.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
            .await;
        let answer = peer.next().await;
        assert_eq!(
            answer["error"]["code"],
            error_code::INSUFFICIENT_SCOPE,
            "{answer}"
        );
        assert_eq!(answer["error"]["data"]["missingScopes"], json!([missing]));
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("SCOPEGATE_SCOPES"), "{message}");
    }
}

#[tokio::test]
async fn over_stdio_a_used_up_quota_is_a_json_rpc_error() {
    let (server, _) = server(ServerOptions::default());
    let mut peer = support::StdioPeer::start(server, principal("repo:admin"));
    let mut codes = Vec::new();
    for id in 0..4 {
        peer.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "wipe"}}))
            .await;
        let answer = peer.next().await;
        codes.push(answer["error"]["code"].clone());
        if id == 3 {
            assert!(
                answer["error"]["data"]["retryAfterSeconds"]
                    .as_u64()
                    .unwrap()
                    >= 1,
                "{answer}"
            );
        }
    }
    assert_eq!(
        codes,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            json!(error_code::QUOTA_EXCEEDED)
        ]
    );
}

#[tokio::test]
async fn updates_of_a_resource_with_rules_reach_only_who_holds_every_scope_they_ask() {
    use scopegate::Outbound;
    use scopegate::protocol::Message;
    let (server, _) = server(ServerOptions::default());
    let subscribed = async |who: &Principal| {
        let connection = server.connect();
        let (outbound, _to_client) = Outbound::channel();
        connection.set_standalone(outbound);
        for (method, params) in [
            (
                "initialize",
                json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}),
            ),
            ("resources/subscribe", json!({"uri": "repo://open/readme"})),
        ] {
            let text = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}).to_string();
            let reply = server
                .handle_in(
                    Message::parse(text.as_bytes()).unwrap(),
                    who,
                    &connection,
                    None,
                )
                .await;
            assert!(matches!(reply, Reply::Response(_)), "{reply:?}");
        }
        (connection, _to_client)
    };
    // A reader may read `repo://open/readme`, but whether a readme needs `repo:private` is the
    // rule's to say per URI: updates go to who holds every scope the rules can ask for.
    let reader = subscribed(&principal("repo:read")).await;
    assert_eq!(server.notify_resource_updated("repo://open/readme"), 0);
    let holder = subscribed(&principal("repo:read repo:private")).await;
    assert_eq!(server.notify_resource_updated("repo://open/readme"), 1);
    drop((reader, holder));
}

/// A rate-limit store shared by "replicas": it counts takes per key against the burst, and can
/// be made to fail.
#[derive(Debug, Clone, Default)]
struct SharedCounts {
    taken: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl scopegate::server::RateLimitStore for SharedCounts {
    fn take<'a>(
        &'a self,
        key: &'a str,
        quota: scopegate::server::Quota,
    ) -> scopegate::StoreFuture<'a, Option<std::time::Duration>> {
        let answer = if self.failing.load(Ordering::SeqCst) {
            Err(scopegate::StoreError::new("down"))
        } else {
            let mut taken = self.taken.lock().unwrap();
            let count = taken.entry(key.to_owned()).or_default();
            *count += 1;
            Ok((*count > quota.burst).then(|| std::time::Duration::from_secs(60)))
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn replicas_sharing_a_rate_limit_store_share_each_callers_quota() {
    let store = SharedCounts::default();
    let options = || ServerOptions::default().rate_limit_store(store.clone());
    let (one, _) = server(options());
    let (two, _) = server(options());
    let alice = principal("repo:admin");
    assert!(succeeded(call(&one, &alice, "wipe", json!({})).await));
    assert!(succeeded(call(&two, &alice, "wipe", json!({})).await));
    assert!(succeeded(call(&one, &alice, "wipe", json!({})).await));
    // The fourth call in the minute, on either replica, is over the shared quota of 3.
    assert!(matches!(
        call(&two, &alice, "wipe", json!({})).await,
        Reply::Refused(_, Refusal::TooManyRequests(_))
    ));
    let keys: Vec<String> = store.taken.lock().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 1, "one key per principal and tool: {keys:?}");
    assert!(keys[0].starts_with("tool:wipe:"), "{keys:?}");
    // While the store does not answer, each replica counts on its own: the quota still holds.
    store.failing.store(true, Ordering::SeqCst);
    let (three, _) = server(options());
    for _ in 0..3 {
        assert!(succeeded(call(&three, &alice, "wipe", json!({})).await));
    }
    assert!(matches!(
        call(&three, &alice, "wipe", json!({})).await,
        Reply::Refused(_, Refusal::TooManyRequests(_))
    ));
}

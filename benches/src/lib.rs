//! The servers the benchmarks measure: a one-tool `echo` server (the load comparison's subject)
//! and a 100-tool server (listing and construction), plus the test suite's key server and token
//! minter, reused as they are.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scopegate::prelude::*;
use serde_json::{Value, json};

// The test suite's support module, as it is (its builder methods read like the claims they set).
#[allow(clippy::should_implement_trait)]
#[path = "../../tests/support/mod.rs"]
pub mod support;

/// Echoes `text`.
#[mcp_tool(scope = "echo")]
pub async fn echo(text: String) -> String {
    text
}

/// One tool, `echo`, behind the `echo` scope.
#[derive(McpServer)]
#[mcp(name = "bench-echo", version = "0.0.0", tools(echo))]
pub struct Echo;

/// Echoes `text` to a reader or an admin (any-of).
#[mcp_tool(name = "any_of", any_scope = ["echo", "echo:admin"])]
pub async fn echo_any_of(text: String) -> String {
    text
}

/// Echoes `text`; a loud echo needs `echo:loud` (argument-dependent; not loud here).
#[mcp_tool(name = "when", scope = "echo", when(loud => "echo:loud"))]
pub async fn echo_when(text: String, loud: Option<bool>) -> String {
    if loud == Some(true) {
        text.to_uppercase()
    } else {
        text
    }
}

/// Echoes `text`, having demanded `echo` at run time (held).
#[mcp_tool(name = "may_require", scope = "echo", may_require = ["echo"])]
pub async fn echo_may_require(text: String, ctx: RequestContext) -> Result<String, ToolError> {
    ctx.require_scopes(["echo"])?;
    Ok(text)
}

/// Echoes `text`, a million times a second per caller at most (a quota never reached).
#[mcp_tool(name = "quota", scope = "echo", quota = "1000000/s")]
pub async fn echo_quota(text: String) -> String {
    text
}

/// The `echo` tool beside one tool per scope rule, each called as `echo` is: what using a rule
/// costs a call.
#[derive(McpServer)]
#[mcp(
    name = "bench-rules",
    version = "0.0.0",
    tools(echo, echo_any_of, echo_when, echo_may_require, echo_quota)
)]
pub struct EchoRules;

/// A `tools/call` of `tool` with the load comparison's arguments.
#[must_use]
pub fn call_of(tool: &str) -> String {
    CALL.replacen(r#""name":"echo""#, &format!(r#""name":"{tool}""#), 1)
}

/// The load comparison's second baseline: a bare handler that reads the request into a
/// `serde_json::Value` and builds its answer as one (the ceiling, [`typed`], is faster).
async fn bare(body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let text = request["params"]["arguments"]["text"]
        .as_str()
        .unwrap_or_default();
    axum::Json(json!({
        "jsonrpc": "2.0",
        "id": request["id"],
        "result": { "content": [{ "type": "text", "text": text }] },
    }))
    .into_response()
}

/// `POST /mcp` answered by [`bare`] (the `Value`-based baseline).
pub fn bare_router() -> axum::Router {
    axum::Router::new().route("/mcp", axum::routing::post(bare))
}

/// `POST /mcp` answered by [`typed`]: the ceiling.
pub fn typed_router() -> axum::Router {
    axum::Router::new().route("/mcp", axum::routing::post(typed))
}

/// A JSON-RPC `tools/call` request as the ceiling reads it: typed, borrowing from the body.
#[derive(serde::Deserialize)]
struct TypedRequest<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: TypedParams<'a>,
}

#[derive(serde::Deserialize)]
struct TypedParams<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    arguments: Option<TypedArguments<'a>>,
}

#[derive(serde::Deserialize)]
struct TypedArguments<'a> {
    #[serde(default, borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
}

/// A JSON-RPC response with `result`.
#[derive(serde::Serialize)]
struct TypedResponse<'a, R> {
    jsonrpc: &'static str,
    id: &'a serde_json::value::RawValue,
    result: R,
}

/// A `tools/call` result of one text item (and, for [`rows`], structured content).
#[derive(serde::Serialize)]
struct TypedResult<'a, S> {
    content: [TypedText<'a>; 1],
    #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
    structured: Option<S>,
}

#[derive(serde::Serialize)]
struct TypedText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

/// The ceiling of the load comparison: the fastest honest JSON-RPC handler over axum. It
/// parses the request into typed structs borrowing from the body (checking the version, the
/// method and the tool), and writes a typed response: `echo` answers its text, `rows` the
/// same 100 KiB result scopegate's [`rows`] tool gives (structured, and as text).
async fn typed(body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<TypedRequest<'_>>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if request.jsonrpc != "2.0" || request.method != "tools/call" {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let written = match &*request.params.name {
        "echo" => {
            let Some(text) = request
                .params
                .arguments
                .as_ref()
                .and_then(|a| a.text.as_ref())
            else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let result = TypedResult::<()> {
                content: [TypedText { kind: "text", text }],
                structured: None,
            };
            serde_json::to_vec(&TypedResponse {
                jsonrpc: "2.0",
                id: request.id,
                result,
            })
        }
        "rows" => {
            let rows = rows_of(ROWS);
            let Ok(text) = serde_json::to_string(&rows) else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let result = TypedResult {
                content: [TypedText {
                    kind: "text",
                    text: &text,
                }],
                structured: Some(&rows),
            };
            serde_json::to_vec(&TypedResponse {
                jsonrpc: "2.0",
                id: request.id,
                result,
            })
        }
        _ => return StatusCode::BAD_REQUEST.into_response(),
    };
    match written {
        Ok(bytes) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// How many rows make the large result's `structuredContent` 100 KiB (and a little more).
pub const ROWS: usize = 1_310;

/// One row of a large result.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Row {
    /// Its number.
    pub id: u32,
    /// A name.
    pub name: String,
    /// A team.
    pub team: String,
    /// Whether it is in use.
    pub active: bool,
    /// A score.
    pub score: u32,
}

/// A large structured result: `count` rows.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Rows {
    /// The rows.
    pub rows: Vec<Row>,
}

/// The large result, as a tool would compute it each time.
#[must_use]
pub fn rows_of(count: usize) -> Rows {
    Rows {
        rows: (0..count)
            .map(|i| {
                let id = u32::try_from(i).unwrap_or(u32::MAX);
                Row {
                    id,
                    name: format!("member-{id:05}"),
                    team: format!("team-{:02}", id % 17),
                    active: id % 3 != 0,
                    score: id.wrapping_mul(2_654_435_761) % 100_000,
                }
            })
            .collect(),
    }
}

/// Returns a 100 KiB structured result (1 310 rows).
#[mcp_tool(scope = "echo")]
pub async fn rows() -> Json<Rows> {
    Json(rows_of(ROWS))
}

/// Echoes `text` after reporting progress three times (when the client asked for progress,
/// the answer is an event stream: three notifications, then the result).
#[mcp_tool(scope = "echo")]
pub async fn steps(text: String, ctx: RequestContext) -> String {
    for step in 1..=3 {
        ctx.progress(f64::from(step), Some(3.0), None);
    }
    text
}

/// `echo` beside the tools of the load comparison's other rows: a streamed answer with
/// progress ([`steps`]) and a 100 KiB result ([`rows`]).
#[derive(McpServer)]
#[mcp(name = "bench-suite", version = "0.0.0", tools(echo, steps, rows))]
pub struct Suite;

/// Echoes `text`, to anyone: the same tool for a server without authorization (where a scoped
/// tool is, rightly, out of everyone's reach).
#[mcp_tool(public, name = "echo")]
pub async fn echo_public(text: String) -> String {
    text
}

/// One public tool, `echo`.
#[derive(McpServer)]
#[mcp(name = "bench-echo", version = "0.0.0", tools(echo_public))]
pub struct OpenEcho;

/// The request of every benchmark: a `tools/call` of `echo`.
pub const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#;

/// The same call as a 2026-07-28 request: the revision, the client and its capabilities in
/// `_meta` (as `scripts/bench`'s `era-2026` row sends it).
pub const MODERN_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// HTTP requests through a router without a socket, for the micro-benchmarks.
pub mod in_process {
    use axum::body::Body;
    use axum::http::Request;
    use scopegate::http::HttpConfig;
    use tower::ServiceExt as _;

    /// The issuer of the benchmarks' tokens (never contacted: the keys are given).
    pub const ISSUER: &str = "http://127.0.0.1:1";
    /// The resource the routers serve.
    pub const RESOURCE: &str = "http://127.0.0.1:2/mcp";

    /// Stateless, rate limits off (the benchmark is the flood they exist to refuse).
    pub fn config() -> HttpConfig {
        HttpConfig::new(RESOURCE)
            .stateless(true)
            .rate_per_address(None)
            .rate_per_principal(None)
    }

    /// [`super::CALL`] as an HTTP request, with `token` as its bearer token.
    pub fn request(token: Option<&str>) -> Request<Body> {
        let mut request = Request::post(RESOURCE)
            .header("host", "127.0.0.1:2")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::from(super::CALL)).expect("a request")
    }

    /// [`super::MODERN_CALL`] as an HTTP request of the 2026-07-28 revision (its routing
    /// headers mirroring the body), with `token` as its bearer token.
    pub fn modern_request(token: &str) -> Request<Body> {
        Request::post(RESOURCE)
            .header("host", "127.0.0.1:2")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(super::MODERN_CALL))
            .expect("a request")
    }

    /// [`super::CALL`] as a DPoP request: `token` in the `DPoP` scheme, with `proof`.
    pub fn dpop_request(token: &str, proof: &str) -> Request<Body> {
        let mut request = request(None);
        let headers = request.headers_mut();
        headers.insert(
            "authorization",
            format!("DPoP {token}").parse().expect("a header value"),
        );
        headers.insert("dpop", proof.parse().expect("a header value"));
        request
    }

    /// Sends [`request`] through `router`; checks the answer is the echo, body read to the end.
    pub async fn call(router: &axum::Router, token: Option<&str>) {
        send(router, request(token)).await;
    }

    /// Sends `request` through `router`; checks the answer is the echo, body read to the end.
    pub async fn send(router: &axum::Router, request: Request<Body>) {
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        assert!(body.windows(5).any(|w| w == b"hello"), "{body:?}");
    }
}

macro_rules! hundred_tools {
    ($($name:ident)*) => {
        /// Generated tools, each an echo behind the `echo` scope.
        pub mod hundred {
            use scopegate::prelude::*;
            $(
                /// Echoes `text`, one of a hundred.
                #[mcp_tool(scope = "echo")]
                pub async fn $name(text: String, times: Option<u32>) -> String {
                    text.repeat(times.unwrap_or(1) as usize)
                }
            )*
            /// A hundred tools.
            #[derive(McpServer)]
            #[mcp(name = "bench-hundred", version = "0.0.0", tools($($name),*))]
            pub struct Hundred;
        }
    };
}

hundred_tools!(t00 t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12 t13 t14 t15 t16 t17 t18 t19 t20 t21 t22 t23 t24 t25 t26 t27 t28 t29 t30 t31 t32 t33 t34 t35 t36 t37 t38 t39 t40 t41 t42 t43 t44 t45 t46 t47 t48 t49 t50 t51 t52 t53 t54 t55 t56 t57 t58 t59 t60 t61 t62 t63 t64 t65 t66 t67 t68 t69 t70 t71 t72 t73 t74 t75 t76 t77 t78 t79 t80 t81 t82 t83 t84 t85 t86 t87 t88 t89 t90 t91 t92 t93 t94 t95 t96 t97 t98 t99);

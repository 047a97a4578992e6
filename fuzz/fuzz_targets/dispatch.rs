//! `Server::handle_bytes` on arbitrary bytes, as every transport calls it: every input gets a
//! reply without panicking, whatever comes back serializes to a valid JSON-RPC response, and an
//! anonymous caller never gets the output of a scoped tool, resource or prompt.
//!
//! Each input is dispatched twice: as `Principal::anonymous()` and as a caller holding every
//! scope (so the tools themselves, their argument parsing and their results are reached too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use schemars::JsonSchema;
use scopegate::prelude::*;
use scopegate::{LogLevel, Reply, ScopeSet};
use scopegate_fuzz::{assert_jsonrpc_response, block_on, trace, tracing};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Put in every result of a scoped handler: an anonymous reply must never contain it.
const SECRET: &str = "zq-granted-7f3a9c";

#[derive(Debug, Serialize, JsonSchema)]
struct Sum {
    total: i64,
    note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Point {
    x: i32,
    y: i32,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Shape {
    Circle { r: f64 },
    Square { side: f64 },
    Dot,
}

/// Adds two numbers (wrapping: the fuzzer picks them).
#[mcp_tool(scope = "math:use", read_only)]
fn add(a: i64, b: i64, note: Option<String>) -> Json<Sum> {
    Json(Sum {
        total: a.wrapping_add(b),
        note: Some(format!("{SECRET} {}", note.map_or(0, |n| n.len()))),
    })
}

/// Squared norm of a point.
#[mcp_tool(scope = "math:use")]
async fn norm2(p: Point, points: Vec<Point>) -> String {
    let n = |p: &Point| (i64::from(p.x).pow(2)).wrapping_add(i64::from(p.y).pow(2));
    let rest: i64 = points.iter().map(n).fold(0, i64::wrapping_add);
    format!(
        "{SECRET} {} {} {}",
        n(&p),
        rest,
        p.label.map_or(0, |l| l.len())
    )
}

/// Area of a shape.
#[mcp_tool(scope = "geo:read")]
fn area(shape: Shape, scale: Option<f32>, exact: bool) -> Result<String, ToolError> {
    let area = match shape {
        Shape::Circle { r } => std::f64::consts::PI * r * r,
        Shape::Square { side } => side * side,
        Shape::Dot => return Err(ToolError::new("a dot has no area")),
    };
    Ok(format!(
        "{SECRET} {}",
        area * f64::from(scale.unwrap_or(1.0)) + f64::from(u8::from(exact))
    ))
}

/// Echoes its input's length (public: runs for everyone).
#[mcp_tool(public, read_only)]
fn echo(text: String, times: Option<u8>, tags: Vec<String>) -> String {
    format!("{} {} {}", text.len(), times.unwrap_or(1), tags.len())
}

/// Fails (public).
#[mcp_tool(public, name = "fail.now")]
fn fail(reason: String) -> Result<String, ToolError> {
    Err(ToolError::new(format!("failed: {} bytes", reason.len())))
}

/// Says who called.
#[mcp_tool(public)]
fn whoami(who: Principal, ctx: RequestContext) -> String {
    format!(
        "{}|{}|{}|{}",
        who.subject().unwrap_or("-"),
        ctx.tool_name(),
        ctx.request_id(),
        ctx.meta().map_or(0, |m| m.len())
    )
}

/// Reports progress and logs (dropped: no outbound channel), then asks the client, which fails.
#[mcp_tool(scope = "admin:write", destructive)]
async fn work(ctx: RequestContext, question: Option<String>) -> String {
    let sent = ctx.progress(0.5, Some(1.0), Some("halfway"));
    ctx.log(LogLevel::Warning, Some("work"), "careful");
    let answer = match question {
        Some(q) => {
            let request = serde_json::json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": q } }],
                "maxTokens": 10,
            });
            ctx.create_message(request).await.is_ok()
        }
        None => false,
    };
    format!("{SECRET} {sent} {answer} {}", ctx.is_cancelled())
}

/// Reads the server's state.
#[mcp_tool(scopes = ["admin:read", "math:use"])]
fn counter(state: State<Counter>) -> String {
    format!("{SECRET} {}", state.0.0)
}

/// Returns blocks of every kind.
#[mcp_tool(scope = "files:read")]
fn picture() -> Vec<Content> {
    vec![
        Content::text(SECRET),
        Content::image([0x89, b'P', b'N', b'G'], "image/png"),
        Content::embedded_text("file:///a.txt", Some("text/plain".into()), SECRET),
    ]
}

/// Does nothing.
#[mcp_tool(
    scope = "files:write",
    destructive = false,
    idempotent,
    open_world = false
)]
fn noop() {}

/// The readme.
#[mcp_resource(uri = "docs://readme", mime_type = "text/markdown", public)]
fn readme() -> &'static str {
    "# Readme"
}

/// A document by id.
#[mcp_resource(uri = "docs://doc/{id}", mime_type = "text/plain", scope = "docs:read")]
fn doc(id: u32) -> Result<String, ResourceError> {
    match id {
        404 => Err(ResourceError::not_found()),
        500 => Err(ResourceError::new("the disk is on fire")),
        _ => Ok(format!("{SECRET} document {id}")),
    }
}

/// A file under a path (reserved expansion keeps the slashes).
#[mcp_resource(uri = "files:///{+path}", scope = "files:read")]
async fn file(path: String) -> Vec<u8> {
    format!("{SECRET} {}", path.len()).into_bytes()
}

/// A user's item.
#[mcp_resource(uri = "users://{user}/items/{item}", scope = "docs:read")]
fn item(user: String, item: u64) -> String {
    format!("{SECRET} {} {item}", user.len())
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
    code: String,
    #[arg(complete = languages)] language: Option<String>,
    strictness: Option<u8>,
) -> Vec<PromptMessage> {
    vec![
        PromptMessage::user(format!(
            "{SECRET} {} {} {}",
            code.len(),
            language.map_or(0, |l| l.len()),
            strictness.unwrap_or(3)
        )),
        PromptMessage::assistant("Let me look."),
    ]
}

/// Says hello.
#[mcp_prompt(public, name = "hello")]
fn hello_prompt(#[arg(complete = languages)] language: Option<String>) -> String {
    format!("Hello {}", language.map_or(0, |l| l.len()))
}

/// Fails.
#[mcp_prompt(public)]
fn broken() -> Result<String, PromptError> {
    Err(PromptError::new("no template"))
}

#[derive(Debug, Clone, Copy)]
struct Counter(u32);

#[derive(McpServer, Clone)]
#[mcp(
    name = "fuzz-server",
    version = "1.0.0",
    tools(add, norm2, area, echo, fail, whoami, work, counter, picture, noop),
    resources(readme, doc, file, item),
    prompts(review, hello_prompt, broken),
    implies("files:admin" => ["files:write"], "files:write" => ["files:read"]),
)]
struct FuzzServer {
    #[mcp(state)]
    counter: Counter,
}

struct World {
    server: Server<FuzzServer>,
    anonymous: Principal,
    everything: Principal,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let server = Server::new(FuzzServer {
            counter: Counter(41),
        })
        .expect("the fuzz server builds");
        let everything = Principal::builder()
            .subject("fuzzer")
            .scopes(ScopeSet::from_space_separated(
                &FuzzServer::SCOPES.join(" "),
            ))
            .build();
        World {
            server,
            anonymous: Principal::anonymous(),
            everything,
        }
    })
}

/// Checks a reply; returns its JSON text (empty for `Reply::Nothing`).
fn check(reply: Reply) -> String {
    if tracing() {
        trace(match &reply {
            Reply::Response(r) => match r.error_object() {
                Some(e) => format!("error {}", e.code),
                None => "result".to_owned(),
            },
            Reply::Denied(d) => format!("denied ({})", d.kind),
            Reply::Refused(..) => "refused".to_owned(),
            Reply::Nothing => "nothing".to_owned(),
        });
    }
    match reply {
        Reply::Response(response) | Reply::Refused(response, _) => {
            let text = response.to_json();
            assert_jsonrpc_response(&text);
            text
        }
        Reply::Denied(denial) => {
            assert!(!denial.missing.is_empty(), "a denial names what is missing");
            assert!(
                denial.missing.iter().all(|s| denial.required.contains(s)),
                "missing scopes are required ones: {denial:?}"
            );
            let text = denial.to_response(Some("ask for more")).to_json();
            assert_jsonrpc_response(&text);
            assert_jsonrpc_response(&denial.to_tool_error().to_json());
            text
        }
        Reply::Nothing => String::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let anonymous = check(block_on(world.server.handle_bytes(data, &world.anonymous)));
    // The input may spell the marker itself (plainly or with escapes), and errors echo input.
    let input_may_carry_it =
        data.contains(&b'\\') || data.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    assert!(
        input_may_carry_it || !anonymous.contains(SECRET),
        "an anonymous caller got a scoped handler's output: {anonymous}"
    );
    check(block_on(world.server.handle_bytes(data, &world.everything)));
});

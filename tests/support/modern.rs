//! 2026-07-28 requests straight to a [`Server`], with no HTTP in between: one request through the
//! dispatcher from a principal ([`who`]), read back as the JSON a test asserts on
//! ([`modern_dispatch`], [`assert_error`]), and a client of the stdio transport over an in-memory
//! pipe ([`StdioPeer`]) for the streams a single reply cannot carry (`subscriptions/listen`).

use std::time::Duration;

use scopegate::prelude::*;
use scopegate::{Reply, ScopeSet, StdioError};
use serde_json::{Value, json};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::task::JoinHandle;

/// Where a 2026-07-28 request's `_meta` declares the client's capabilities.
const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// How long a test waits for a message or for the transport to return.
const PATIENCE: Duration = Duration::from_secs(10);

/// The `_meta` a 2026-07-28 request carries: its revision, the client's identity and (empty)
/// capabilities.
pub fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "0" },
        CLIENT_CAPABILITIES: {},
    })
}

/// The params of a 2026-07-28 `tools/call` of `tool` from a client declaring `capabilities`,
/// with the params of `extra` added (a round's `requestState` and `inputResponses`).
pub fn modern_call_params(
    tool: &str,
    arguments: Value,
    capabilities: Value,
    extra: Value,
) -> Value {
    let mut params = json!({ "name": tool, "arguments": arguments, "_meta": modern_meta() });
    params["_meta"][CLIENT_CAPABILITIES] = capabilities;
    for (key, value) in extra.as_object().expect("params") {
        params[key] = value.clone();
    }
    params
}

/// A principal whose token `https://as.example` issued to `subject`, granting `scopes`
/// (space-separated).
pub fn who(subject: &str, scopes: &str) -> Principal {
    Principal::builder()
        .issuer("https://as.example")
        .subject(subject)
        .scopes(ScopeSet::from_space_separated(scopes))
        .build()
}

/// `reply` (as [`modern_dispatch`] reads it) is the JSON-RPC error `code`, its message saying
/// `words`.
pub fn assert_error(reply: &Value, code: i64, words: &str) {
    assert_eq!(reply["error"]["code"], code, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "not about {words:?}: {reply}");
}

/// Sends `method` with `params` to `server`'s dispatcher as `principal`, as a 2026-07-28 request
/// from a client that declares `capabilities`, and reads the reply back:
///
/// - a response: its `result`, or `{"error": …}` for an error;
/// - a request refused before dispatch: `{"refused": error, "refusal": "BadRequest" | "NotFound"}`
///   (the error object and the HTTP status class it is answered with);
/// - missing scopes: `{"denied": [the scopes]}`.
///
/// A request always has a reply, so no reply fails the test.
pub async fn modern_dispatch<S: McpServer>(
    server: &Server<S>,
    principal: &Principal,
    method: &str,
    mut params: Value,
    capabilities: Value,
) -> Value {
    params["_meta"] = modern_meta();
    params["_meta"][CLIENT_CAPABILITIES] = capabilities;
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let body = |response| serde_json::to_value(response).expect("a response serializes");
    match server
        .handle_bytes(request.to_string().as_bytes(), principal)
        .await
    {
        Reply::Response(response) => {
            let mut response = body(&response);
            match response.get("error") {
                Some(error) => json!({ "error": error }),
                None => response["result"].take(),
            }
        }
        Reply::Refused(response, refusal) => {
            json!({ "refused": body(&response)["error"], "refusal": format!("{refusal:?}") })
        }
        Reply::Denied(denial) => json!({ "denied": denial.missing }),
        Reply::Nothing => panic!("no reply to the {method} request {request}"),
    }
}

/// A client of the stdio transport: `server` serves `principal` over an in-memory pipe, one JSON
/// message a line each way, as it would over a process's stdin and stdout.
pub struct StdioPeer {
    from_server: Lines<BufReader<ReadHalf<DuplexStream>>>,
    to_server: WriteHalf<DuplexStream>,
    serving: JoinHandle<Result<(), StdioError>>,
}

impl StdioPeer {
    /// Starts serving (64 KiB messages at most).
    pub fn start<S: McpServer>(server: Server<S>, principal: Principal) -> Self {
        const MAX_MESSAGE: usize = 64 * 1024;
        let (client, server_end) = tokio::io::duplex(MAX_MESSAGE);
        let (input, output) = tokio::io::split(server_end);
        let serving = tokio::spawn(scopegate::stdio::serve_io(
            server,
            principal,
            input,
            output,
            MAX_MESSAGE,
        ));
        let (from_server, to_server) = tokio::io::split(client);
        Self {
            from_server: BufReader::new(from_server).lines(),
            to_server,
            serving,
        }
    }

    /// Writes `message` as one line of the server's input.
    pub async fn send(&mut self, message: &Value) {
        self.to_server
            .write_all(format!("{message}\n").as_bytes())
            .await
            .expect("the server reads its input");
    }

    /// The next message the server wrote, or `None` once its output ended; fails the test when
    /// nothing comes in time.
    pub async fn read(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(PATIENCE, self.from_server.next_line())
            .await
            .unwrap_or_else(|_| panic!("the server wrote nothing within {PATIENCE:?}"))
            .expect("the server's output reads")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    }

    /// The next message the server wrote, which must come.
    pub async fn next(&mut self) -> Value {
        self.read().await.expect("the server's output ended")
    }

    /// Ends the server's input, as a client closing stdin.
    pub async fn close_input(&mut self) {
        self.to_server.shutdown().await.expect("the input closes");
    }

    /// What the transport returned, which it must in time (once its input has ended).
    pub async fn finished(self) -> Result<(), StdioError> {
        tokio::time::timeout(PATIENCE, self.serving)
            .await
            .unwrap_or_else(|_| panic!("the transport did not return within {PATIENCE:?}"))
            .expect("the transport did not panic")
    }
}

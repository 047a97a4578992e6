//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, credentials from the
//! environment.
//!
//! There is no token on stdio, so the environment says who the caller is, and it fails closed:
//! with nothing set the caller holds no scope and may call only `public` tools. stdout carries
//! protocol messages only; logs belong on stderr.
//!
//! A server whose tools call downstream APIs exchanges the caller's token for theirs (RFC
//! 8693): on stdio that token is [`TOKEN_VAR`]'s, which the server does not verify (the
//! authorization server does, when it exchanges it) and which grants nothing here: the scopes
//! are still [`SCOPES_VAR`]'s.

use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::connection::Outbound;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, Message, Method, Response, error_code};
use crate::scope::{ScopeSet, is_scope_token};
use crate::server::{BuildError, Core, McpServer, Reply, Server};

/// The environment variable holding the scopes granted to the stdio caller, space-separated.
pub const SCOPES_VAR: &str = "SCOPEGATE_SCOPES";
/// The environment variable naming the stdio caller (the principal's subject).
pub const SUBJECT_VAR: &str = "SCOPEGATE_SUBJECT";
/// The environment variable holding the stdio caller's access token, exchanged for downstream
/// APIs' tokens (token exchange) and for nothing else.
pub const TOKEN_VAR: &str = "SCOPEGATE_TOKEN";

/// The longest line (one JSON-RPC message) the stdio transport accepts by default: 4 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Why the stdio transport stopped or would not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdioError {
    /// An environment variable holds something unusable; the server refuses to guess.
    #[error("{var}: {reason}")]
    Credentials {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The server's tables could not be built.
    #[error(transparent)]
    Build(#[from] crate::server::BuildError),
    /// Reading stdin or writing stdout failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the stdio caller's identity from [`SCOPES_VAR`] and [`SUBJECT_VAR`], and the token
/// to exchange for downstream APIs' from [`TOKEN_VAR`].
///
/// Unset or empty: an anonymous caller with no scopes. A value that is not a list of RFC 6749
/// scope tokens is an error, not a silently smaller grant; so is a token that no header could
/// carry.
pub fn principal_from_env() -> Result<Principal, StdioError> {
    principal_from_vars(
        std::env::var(SCOPES_VAR).ok().as_deref(),
        std::env::var(SUBJECT_VAR).ok().as_deref(),
        std::env::var(TOKEN_VAR).ok().as_deref(),
    )
}

fn principal_from_vars(
    scopes: Option<&str>,
    subject: Option<&str>,
    token: Option<&str>,
) -> Result<Principal, StdioError> {
    let mut builder = Principal::builder();
    if let Some(scopes) = scopes {
        if let Some(bad) = scopes.split_ascii_whitespace().find(|s| !is_scope_token(s)) {
            return Err(StdioError::Credentials {
                var: SCOPES_VAR,
                reason: format!("`{bad}` is not a valid OAuth scope"),
            });
        }
        builder = builder.scopes(scopes.split_ascii_whitespace().collect::<ScopeSet>());
    }
    if let Some(subject) = subject.filter(|s| !s.is_empty()) {
        builder = builder.subject(subject);
    }
    let principal = builder.build();
    match token.filter(|t| !t.is_empty()) {
        // Never echoed: the reason says what is wrong, not what was there.
        Some(token) if !token.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(StdioError::Credentials {
                var: TOKEN_VAR,
                reason: "not a token: it holds spaces, control or non-ASCII characters".into(),
            })
        }
        Some(token) => Ok(principal.with_subject_token(token)),
        None => Ok(principal),
    }
}

/// Serves `server` on this process's stdin and stdout until stdin closes, with the caller's
/// identity from the environment.
pub fn serve<S: McpServer>(
    server: Server<S>,
) -> impl Future<Output = Result<(), StdioError>> + Send {
    serve_core(Ok(server.core))
}

/// [`serve`] for a server already stripped of its type (or that failed to build), so that none
/// of this is compiled again in the server's crate.
pub(crate) async fn serve_core(server: Result<Core, BuildError>) -> Result<(), StdioError> {
    let server = server?;
    let principal = principal_from_env()?;
    let unknown: Vec<&str> = principal
        .scopes()
        .iter()
        .filter(|s| !server.scopes().supported().contains(s))
        .collect();
    if !unknown.is_empty() {
        tracing::warn!(target: "scopegate::stdio", scopes = %unknown.join(" "), "{SCOPES_VAR} grants scopes no tool of this server uses");
    }
    tracing::info!(target: "scopegate::stdio", scopes = %principal.scopes(), "serving MCP on stdio");
    serve_io_core(
        server,
        principal,
        tokio::io::stdin(),
        tokio::io::stdout(),
        DEFAULT_MAX_MESSAGE_BYTES,
    )
    .await
}

/// Serves `server` over any byte streams, one JSON-RPC message per line, as `principal`.
///
/// Requests are handled concurrently; responses are written whole, one per line, in the order
/// they complete. Returns when `input` ends and every request already read has been answered.
pub fn serve_io<S, R, W>(
    server: Server<S>,
    principal: Principal,
    input: R,
    output: W,
    max_message_bytes: usize,
) -> impl Future<Output = Result<(), StdioError>>
where
    S: McpServer,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_io_core(server.core, principal, input, output, max_message_bytes)
}

async fn serve_io_core<R, W>(
    server: Core,
    principal: Principal,
    input: R,
    output: W,
    max_message_bytes: usize,
) -> Result<(), StdioError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Unbounded: a client that writes its requests before it reads must not find the server
    // stopped reading stdin because stdout is full (each would wait on the other).
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });

    let principal = Arc::new(principal);
    // One connection for the whole process; every request's messages to the client (progress,
    // logs, sampling and elicitation requests) go to stdout like the responses.
    let connection = server.connect();
    let (outbound, mut events) = Outbound::channel();
    connection.set_standalone(outbound.clone());
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if tx.send(event).is_err() {
                    break;
                }
            }
        })
    };
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut in_flight = JoinSet::new();
    loop {
        // Reap finished requests so the set does not grow with the session.
        while in_flight.try_join_next().is_some() {}
        match read_line(&mut input, &mut line, max_message_bytes).await? {
            Line::Eof => break,
            Line::TooLong => {
                let error = ErrorObject::new(
                    error_code::INVALID_REQUEST,
                    format!("message larger than {max_message_bytes} bytes"),
                );
                let _ = tx.send(Response::error(None, error).to_json());
            }
            Line::Complete => {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                let message = match Message::read(&line) {
                    Ok(message) => message,
                    Err(response) => {
                        let _ = tx.send(response.to_json());
                        continue;
                    }
                };
                // Notifications (a cancellation), answers to the server's requests and
                // `initialize` take effect before the next line is read: spawned, they could
                // be overtaken by the requests that follow them.
                let in_order = match &message {
                    Message::Request(request) => request.method == Method::Initialize,
                    Message::Notification(_) | Message::Response { .. } => true,
                };
                if in_order {
                    let reply = Core::handle_in(
                        &server,
                        message,
                        &*principal,
                        &connection,
                        Some(outbound.clone()),
                    )
                    .await;
                    if let Some(response) = stdio_response(reply) {
                        let _ = tx.send(response.to_json());
                    }
                    continue;
                }
                // At the cap, a request is refused at once: the reading goes on (the answers
                // and cancellations the running requests wait for come this way).
                if let Message::Request(request) = &message
                    && in_flight.len() >= MAX_IN_FLIGHT
                {
                    let busy = ErrorObject::new(
                        SERVER_BUSY,
                        format!("server busy: {MAX_IN_FLIGHT} requests are running"),
                    );
                    let _ = tx.send(Response::error(Some(request.id.clone()), busy).to_json());
                    continue;
                }
                let (server, principal, tx) = (server.clone(), Arc::clone(&principal), tx.clone());
                let (connection, outbound) = (Arc::clone(&connection), outbound.clone());
                in_flight.spawn(async move {
                    let reply =
                        Core::handle_in(&server, message, &*principal, &connection, Some(outbound))
                            .await;
                    if let Some(response) = stdio_response(reply) {
                        let _ = tx.send(response.to_json());
                    }
                });
            }
        }
    }
    // stdin closed. Requests still running finish (a client that only closed its writing end,
    // like `printf … | server`, still reads their answers); requests waiting for the client's
    // answer fail, since none can come.
    connection.hang_up();
    while in_flight.join_next().await.is_some() {}
    drop(outbound);
    let _ = forward.await;
    drop(tx);
    writer
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok(())
}

/// Most requests handled at once on stdio; more are refused with [`SERVER_BUSY`].
const MAX_IN_FLIGHT: usize = 1024;
/// JSON-RPC 2.0 reserves -32000 to -32099 for server errors: this one means "try again".
const SERVER_BUSY: i32 = -32000;

/// What a reply sends back on stdout (a denial names the variable that grants scopes).
fn stdio_response(reply: Reply) -> Option<Response> {
    Some(match reply {
        Reply::Response(response) => response,
        Reply::Denied(denial) => denial.to_response(Some(&format!(
            "Set {SCOPES_VAR}=\"{}\" (space-separated) in the server's environment to grant them",
            denial.required.join(" ")
        ))),
        Reply::Refused(response, _) => response,
        Reply::Nothing => return None,
    })
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads up to the next `\n` into `line` (without it). A line over `max` bytes is consumed and
/// dropped, so one oversized message costs bounded memory and the stream stays in sync.
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    line.clear();
    let mut too_long = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => (&buf[..end], Some(end + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = done.unwrap_or(buf.len());
        input.consume(consumed);
        if done.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_grants_fail_closed() {
        let p = principal_from_vars(None, None, None).unwrap();
        assert!(p.scopes().is_empty() && p.subject().is_none());
        let p = principal_from_vars(Some("b:read  a:write"), Some("alice"), None).unwrap();
        assert_eq!(p.scopes().to_string(), "a:write b:read");
        assert_eq!(p.subject(), Some("alice"));
        let err = principal_from_vars(Some("ok bad\"scope"), None, None).unwrap_err();
        assert!(err.to_string().contains(SCOPES_VAR) && err.to_string().contains("bad\"scope"));
    }

    #[test]
    fn the_environment_token_is_carried_for_exchange_and_never_echoed() {
        let p = principal_from_vars(Some("a:read"), None, Some("eyJ.abc.def")).unwrap();
        assert_eq!(p.subject_token().map(|t| &**t), Some("eyJ.abc.def"));
        assert_eq!(
            p.scopes().to_string(),
            "a:read",
            "the token grants nothing here"
        );
        assert!(!format!("{p:?}").contains("eyJ.abc.def"));
        let p = principal_from_vars(None, None, Some("")).unwrap();
        assert!(p.subject_token().is_none());
        let err = principal_from_vars(None, None, Some("secret with space")).unwrap_err();
        assert!(err.to_string().contains(TOKEN_VAR), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn oversized_lines_are_dropped_and_the_stream_resyncs() {
        let data = b"0123456789\nabc\n\nxyz".to_vec();
        let mut input = BufReader::with_capacity(4, &data[..]);
        let mut line = Vec::new();
        assert!(matches!(
            read_line(&mut input, &mut line, 5).await.unwrap(),
            Line::TooLong
        ));
        assert!(matches!(
            read_line(&mut input, &mut line, 5).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(line, b"abc");
        assert!(matches!(
            read_line(&mut input, &mut line, 5).await.unwrap(),
            Line::Complete
        ));
        assert!(line.is_empty());
        assert!(matches!(
            read_line(&mut input, &mut line, 5).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(line, b"xyz");
        assert!(matches!(
            read_line(&mut input, &mut line, 5).await.unwrap(),
            Line::Eof
        ));
    }
}

//! A notes server with tools behind three scopes and a hierarchy, served over stdio or HTTP.
//!
//! ```sh
//! cargo run --example notes                                  # stdio, public tools only
//! SCOPEGATE_SCOPES="notes:read notes:write" cargo run --example notes
//! cargo run --example notes -- --http 127.0.0.1:8080 --issuer https://as.example.com
//! cargo run --example notes -- --http 127.0.0.1:8080 --no-auth   # HTTP, public tools only
//! ```
//!
//! Every tool states its scope (or `public`); the server's scope table, the enforcement and the
//! `_meta` each tool advertises all come from these attributes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use scopegate::prelude::*;
use serde::Serialize;

/// A note.
#[derive(Debug, Clone, Serialize, JsonSchema)]
struct Note {
    id: u64,
    title: String,
    body: String,
    /// Who wrote it (the caller's subject).
    author: Option<String>,
}

/// Several notes.
#[derive(Debug, Serialize, JsonSchema)]
struct NoteList {
    notes: Vec<Note>,
}

/// The notes, shared by every call.
#[derive(Debug, Clone, Default)]
struct Store(Arc<Mutex<BTreeMap<u64, Note>>>);

impl Store {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<u64, Note>) -> R) -> R {
        // A poisoned lock only means another call panicked mid-update; the map is still usable.
        let mut notes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut notes)
    }
}

/// Tells the caller who the server thinks they are and what they may do.
#[mcp_tool(public, read_only, title = "Who am I?")]
fn whoami(who: Principal) -> String {
    format!(
        "subject: {}; scopes: [{}]",
        who.subject().unwrap_or("anonymous"),
        who.scopes()
    )
}

/// Lists every note.
#[mcp_tool(scope = "notes:read", read_only)]
fn list_notes(store: State<Store>) -> Json<NoteList> {
    Json(NoteList {
        notes: store.with(|notes| notes.values().cloned().collect()),
    })
}

/// Reads one note.
#[mcp_tool(scope = "notes:read", read_only)]
async fn get_note(
    store: State<Store>,
    #[arg(description = "The note's id, as returned by add_note or list_notes.")] id: u64,
) -> Result<Json<Note>, ToolError> {
    store
        .with(|notes| notes.get(&id).cloned())
        .map(Json)
        .ok_or_else(|| ToolError::new(format!("no note with id {id}")))
}

/// Adds a note and returns it with its id.
#[mcp_tool(scope = "notes:write", idempotent = false)]
async fn add_note(
    store: State<Store>,
    who: Principal,
    #[arg(description = "A short title.")] title: String,
    #[arg(description = "The text of the note.")] body: Option<String>,
) -> Json<Note> {
    let note = store.with(|notes| {
        let id = notes.keys().next_back().map_or(1, |last| last + 1);
        let note = Note {
            id,
            title,
            body: body.unwrap_or_default(),
            author: who.subject().map(str::to_owned),
        };
        notes.insert(id, note.clone());
        note
    });
    Json(note)
}

/// Deletes every note. Needs the admin scope.
#[mcp_tool(scope = "notes:admin", destructive, idempotent)]
fn purge_notes(store: State<Store>) -> String {
    let removed = store.with(|notes| std::mem::take(notes).len());
    format!("removed {removed} notes")
}

/// The server: its tools, its scope vocabulary and its scope hierarchy in one place.
#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "notes",
    title = "Notes",
    instructions = "Keep short notes. Reading needs notes:read, writing notes:write; notes:admin implies both.",
    tools(whoami, list_notes, get_note, add_note, purge_notes),
    scopes("notes:read", "notes:write", "notes:admin"),
    implies("notes:admin" => ["notes:read", "notes:write"]),
)]
struct Notes {
    #[mcp(state)]
    store: Store,
}

/// Command-line options: stdio by default; `--http ADDR` with `--issuer URL` (or `--no-auth`).
struct Options {
    http: Option<std::net::SocketAddr>,
    issuer: Option<String>,
    no_auth: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        http: None,
        issuer: None,
        no_auth: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http" => {
                let addr = args
                    .next()
                    .ok_or("--http needs an address, e.g. 127.0.0.1:8080")?;
                options.http = Some(addr.parse().map_err(|e| format!("--http {addr}: {e}"))?);
            }
            "--issuer" => options.issuer = Some(args.next().ok_or("--issuer needs a URL")?),
            "--no-auth" => options.no_auth = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let Some(addr) = options.http else {
        Notes::default().serve_stdio().await?;
        return Ok(());
    };
    // Bind first: with port 0 the resource URI needs the port the system picked.
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let resource = format!("http://{addr}/mcp");
    let mut config = scopegate::http::HttpConfig::new(&resource).initial_scopes(["notes:read"]);
    config = match (options.issuer, options.no_auth) {
        (Some(issuer), false) => config.jwt_issuer(issuer),
        (None, true) => config.without_authorization(),
        _ => return Err("with --http, give either --issuer URL or --no-auth".into()),
    };
    let router = Notes::default().into_server()?.http(config)?;
    eprintln!("MCP endpoint: {resource}");
    eprintln!("metadata:     http://{addr}/.well-known/oauth-protected-resource/mcp");
    scopegate::http::serve_on(listener, router).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // stdout carries the protocol: logs go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match options() {
        Ok(options) => serve(options).await,
        Err(message) => Err(message.into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("notes: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

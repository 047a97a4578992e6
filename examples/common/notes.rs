//! The notes server shared by the examples: five tools behind three scopes and a hierarchy.
//!
//! Every tool states its scope (or `public`); the server's scope table, the enforcement, the
//! metadata and the `_meta` each tool advertises all come from these attributes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use schemars::JsonSchema;
use scopegate::prelude::*;
use serde::Serialize;

/// A note.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct Note {
    id: u64,
    title: String,
    body: String,
    /// Who wrote it (the caller's subject).
    author: Option<String>,
}

/// Several notes.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct NoteList {
    notes: Vec<Note>,
}

/// The notes, shared by every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Store(Arc<Mutex<BTreeMap<u64, Note>>>);

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

/// One note, as Markdown.
#[mcp_resource(
    uri = "notes://note/{id}",
    mime_type = "text/markdown",
    scope = "notes:read"
)]
fn note(store: State<Store>, id: u64) -> Result<String, ResourceError> {
    let note = store
        .with(|notes| notes.get(&id).cloned())
        .ok_or_else(ResourceError::not_found)?;
    Ok(format!("# {}\n\n{}\n", note.title, note.body))
}

fn titles(prefix: &str) -> Vec<String> {
    ["groceries", "ideas", "todo"]
        .iter()
        .filter(|t| t.starts_with(prefix))
        .map(|t| (*t).to_owned())
        .collect()
}

/// Summarize the notes about a topic.
#[mcp_prompt(scope = "notes:read")]
fn summarize(
    store: State<Store>,
    #[arg(description = "What the summary is about.", complete = titles)] topic: String,
) -> Vec<PromptMessage> {
    let notes = store.with(|notes| {
        notes
            .values()
            .filter(|n| n.title.contains(&topic) || n.body.contains(&topic))
            .map(|n| format!("- {}: {}", n.title, n.body))
            .collect::<Vec<_>>()
            .join("\n")
    });
    vec![PromptMessage::user(format!(
        "Summarize my notes about {topic}:\n{notes}"
    ))]
}

/// The server: its tools, its scope vocabulary and its scope hierarchy in one place.
#[derive(McpServer, Clone, Default)]
#[mcp(
    name = "notes",
    title = "Notes",
    instructions = "Keep short notes. Reading needs notes:read, writing notes:write; notes:admin implies both.",
    tools(whoami, list_notes, get_note, add_note, purge_notes),
    resources(note),
    prompts(summarize),
    scopes("notes:read", "notes:write", "notes:admin"),
    implies("notes:admin" => ["notes:read", "notes:write"]),
)]
pub(crate) struct Notes {
    #[mcp(state)]
    store: Store,
}

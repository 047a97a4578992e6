//! The notes server shared by the examples: eight tools behind three scopes and a hierarchy.
//!
//! Every tool states its scope (or `public`); the server's scope table, the enforcement, the
//! metadata and the `_meta` each tool advertises all come from these attributes. Two tools ask
//! the client for something while they run: `delete_note` asks the user to confirm
//! (elicitation), `summarize_notes` asks the client's model for a summary (sampling). One takes
//! a while: `export_notes` runs as a task (the 2026-07-28 tasks extension) for a client that
//! supports tasks, which gets a task id at once, answers the task's question and polls for the
//! export.
//!
//! Two tools show scopes beyond the fixed one: `add_note` needs `notes:admin` as well when its
//! `confidential` argument is true (`when`), and `get_note` asks for `notes:admin` while it runs,
//! once it finds the note confidential (`may_require`). `purge_notes` may run ten times a minute
//! per caller (`quota`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use scopegate::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

/// A note.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub(crate) struct Note {
    id: u64,
    title: String,
    body: String,
    /// Who wrote it (the caller's subject).
    author: Option<String>,
    /// Readable only with `notes:admin` (absent when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    confidential: bool,
}

/// Several notes.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct NoteList {
    notes: Vec<Note>,
}

/// Every note at one moment, as `export_notes` returns them.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct NoteExport {
    /// How many notes there are.
    count: usize,
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
#[mcp_tool(scope = "notes:read", read_only, may_require = ["notes:admin"])]
async fn get_note(
    store: State<Store>,
    ctx: RequestContext,
    #[arg(description = "The note's id, as returned by add_note or list_notes.")] id: u64,
) -> Result<Json<Note>, ToolError> {
    let note = store
        .with(|notes| notes.get(&id).cloned())
        .ok_or_else(|| ToolError::new(format!("no note with id {id}")))?;
    // Only the note says whether it is confidential: the scope is asked for at run time, and a
    // caller without it gets the same 403 step-up as for a tool's fixed scope.
    if note.confidential {
        ctx.require_scopes(["notes:admin"])?;
    }
    Ok(Json(note))
}

/// Adds a note and returns it with its id. A confidential note needs `notes:admin` to write
/// and to read.
#[mcp_tool(
    scope = "notes:write",
    idempotent = false,
    when(confidential => "notes:admin")
)]
async fn add_note(
    store: State<Store>,
    who: Principal,
    #[arg(description = "A short title.")] title: String,
    #[arg(description = "The text of the note.")] body: Option<String>,
    #[arg(description = "Readable only with notes:admin.")] confidential: Option<bool>,
) -> Json<Note> {
    let note = store.with(|notes| {
        let id = notes.keys().next_back().map_or(1, |last| last + 1);
        let note = Note {
            id,
            title,
            body: body.unwrap_or_default(),
            author: who.subject().map(str::to_owned),
            confidential: confidential.unwrap_or(false),
        };
        notes.insert(id, note.clone());
        note
    });
    Json(note)
}

/// Deletes one note, once the user confirms it through the client.
///
/// The question comes first and the deletion after, and the handler changes nothing before its
/// last question: a 2026-07-28 client answers by sending the call again, and the handler runs
/// again from its start with the answer, so anything done before the question would be done
/// twice (on a 2025 session the question travels over the session's stream instead, and the
/// handler simply waits).
#[mcp_tool(scope = "notes:write", destructive, idempotent)]
async fn delete_note(
    store: State<Store>,
    ctx: RequestContext,
    #[arg(description = "The note's id, as returned by add_note or list_notes.")] id: u64,
) -> Result<String, ToolError> {
    let title = store
        .with(|notes| notes.get(&id).map(|n| n.title.clone()))
        .ok_or_else(|| ToolError::new(format!("no note with id {id}")))?;
    // Keyed, so the answer finds its question however the code around it changes.
    let answer = ctx
        .input("confirm")
        .elicit(
            &format!("Delete note {id} ({title:?})? This cannot be undone."),
            json!({
                "type": "object",
                "properties": {
                    "ok": { "type": "boolean", "title": "Delete", "description": "Yes, delete it." }
                },
                "required": ["ok"]
            }),
        )
        .await?;
    let confirmed = answer["action"] == "accept" && answer["content"]["ok"] == true;
    if !confirmed {
        let action = answer["action"].as_str().unwrap_or("no answer");
        return Ok(format!(
            "kept note {id}: the user did not confirm ({action})"
        ));
    }
    // The side effect, after the last question: it happens once, in the round that completes.
    match store.with(|notes| notes.remove(&id)) {
        Some(note) => Ok(format!("deleted note {id} ({:?})", note.title)),
        // Another call deleted it while the user was deciding.
        None => Ok(format!("note {id} was already gone")),
    }
}

/// Asks the client's model to summarize the notes' titles, and returns what it wrote.
///
/// The only thing it does is ask, so running again from its start (as it does when a
/// 2026-07-28 client sends the model's answer back) costs a read of the notes and nothing more.
#[mcp_tool(scope = "notes:read", read_only)]
async fn summarize_notes(store: State<Store>, ctx: RequestContext) -> Result<String, ToolError> {
    let titles = store.with(|notes| {
        notes
            .values()
            .map(|n| format!("- {}", n.title))
            .collect::<Vec<_>>()
    });
    if titles.is_empty() {
        return Ok("there are no notes to summarize".to_owned());
    }
    let answer = ctx
        .create_message(json!({
            "messages": [{
                "role": "user",
                "content": {
                    "type": "text",
                    "text": format!("Summarize in one sentence what these notes are about:\n{}", titles.join("\n"))
                }
            }],
            "systemPrompt": "You summarize a person's notes briefly.",
            "maxTokens": 200
        }))
        .await?;
    model_text(&answer).ok_or_else(|| ToolError::new("the model answered with no text"))
}

/// The text of a `CreateMessageResult`, whose `content` is one block or (with tools) a list.
fn model_text(answer: &Value) -> Option<String> {
    let blocks = match &answer["content"] {
        Value::Array(blocks) => blocks.iter().collect(),
        block => vec![block],
    };
    let text: Vec<&str> = blocks
        .into_iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}

/// How long an export works once confirmed: a stand-in for real work (rendering a document,
/// writing it to storage), long enough that a client polling the task sees it working.
const EXPORT_WORK: Duration = Duration::from_millis(1_500);

/// Exports every note as one JSON document, once the user confirms; it takes a moment.
///
/// `task`: for a 2026-07-28 client that declared the tasks extension, the call goes on as a
/// task at `run_as_task` and answers at once with the task's id. The question is then the
/// task's: the client sees it in `tasks/get` (`input_required`), answers it with
/// `tasks/update`, and polls until the export is there. Any other client is asked in the
/// request, as `delete_note` asks, and waits for the result.
///
/// An export copies every note's text out of the server, hence the confirmation. The notes are
/// read first and the question says how many: confirmed, those are exported (a 2026-07-28
/// client that answers in the request runs the call again from its start, reading them again).
#[mcp_tool(scope = "notes:read", read_only, task)]
async fn export_notes(
    store: State<Store>,
    ctx: RequestContext,
) -> Result<Json<NoteExport>, ToolError> {
    let notes: Vec<Note> = store.with(|notes| notes.values().cloned().collect());
    ctx.run_as_task().await;
    let answer = ctx
        .input("confirm")
        .elicit(
            &format!(
                "Export {} note{}, their text included?",
                notes.len(),
                if notes.len() == 1 { "" } else { "s" }
            ),
            json!({
                "type": "object",
                "properties": {
                    "ok": { "type": "boolean", "title": "Export", "description": "Yes, export them." }
                },
                "required": ["ok"]
            }),
        )
        .await?;
    if !(answer["action"] == "accept" && answer["content"]["ok"] == true) {
        let action = answer["action"].as_str().unwrap_or("no answer");
        return Err(ToolError::new(format!(
            "not exported: the user did not confirm ({action})"
        )));
    }
    tokio::time::sleep(EXPORT_WORK).await;
    Ok(Json(NoteExport {
        count: notes.len(),
        notes,
    }))
}

/// Deletes every note. Needs the admin scope.
#[mcp_tool(scope = "notes:admin", destructive, idempotent, quota = "10/min")]
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
    tools(
        whoami,
        list_notes,
        get_note,
        add_note,
        delete_note,
        summarize_notes,
        export_notes,
        purge_notes
    ),
    resources(note),
    prompts(summarize),
    scopes("notes:read", "notes:write", "notes:admin"),
    implies("notes:admin" => ["notes:read", "notes:write"]),
)]
pub(crate) struct Notes {
    #[mcp(state)]
    store: Store,
}

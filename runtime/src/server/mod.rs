//! The [`McpServer`] trait the derive implements and the [`Server`] built from it: the typed
//! handle over the registry and the transport-free dispatcher where scopes are enforced for
//! every transport.
//!
//! Everything a transport runs lives in the untyped core, one concern per file:
//! - `registry`: the core and the tables it is built from (schemas, pre-serialized lists);
//! - `dispatch`: one message in, one [`Reply`] out, by method; `modern`: the 2026-07-28 path;
//! - `authorize`: the scope check and its [`Denial`]; `run`: running a handler (panics,
//!   cancellation, timeout);
//! - `tools`, `resources`, `prompts`, `completion`: each kind of operation;
//! - `listen`: `subscriptions/listen` (2026-07-28), over the open streams of `listeners`;
//!   `audience`: who may hear that a resource changed (both eras' subscriptions);
//! - `entries`, `paging`, `lists`: list entries, pages and cursors, list requests;
//! - `capabilities`, `connections`, `scope_table`, and the helpers `call`, `params`, `json`,
//!   `name_index`.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::connection::{Connection, Outbound};
use crate::principal::Principal;
use crate::prompt::{PromptDef, PromptFuture};
use crate::protocol::Message;
use crate::resource::{ResourceDef, ResourceFuture};
use crate::scope::{Implication, ScopeTable};
use crate::tool::{ToolDef, ToolFuture};

mod audience;
mod authorize;
mod build_error;
mod bus;
mod call;
mod capabilities;
mod complete;
mod completion;
mod connections;
mod dispatch;
mod entries;
mod info;
mod input;
mod json;
mod listen;
mod listeners;
mod lists;
mod modern;
mod name_index;
mod options;
mod paging;
mod params;
mod prompts;
mod rate_limit;
mod registry;
mod replay;
mod replicas;
mod reply;
mod request_state;
mod resources;
mod run;
mod scope_table;
mod store;
mod task;
mod task_registry;
mod task_store;
mod tasks;
mod tool_quota;
mod tools;

pub use self::authorize::{Denial, DenialRule};
pub use self::build_error::BuildError;
pub use self::bus::EventBus;
pub use self::entries::{
    ANY_SCOPES_META_KEY, CONDITIONAL_SCOPES_META_KEY, DOWNSTREAM_META_KEY,
    MAY_REQUIRE_SCOPES_META_KEY, QUOTA_META_KEY, REQUIRED_SCOPES_META_KEY,
};
pub use self::info::ServerInfo;
// The HTTP version-header check answers with the same error as the `_meta` check.
#[cfg(feature = "http")]
pub(crate) use self::modern::unsupported_version_error;
pub use self::options::{ListVisibility, ServerOptions};
#[cfg(feature = "http")]
pub(crate) use self::rate_limit::Limiter;
pub use self::rate_limit::{Quota, RateLimitStore};
pub(crate) use self::registry::Core;
pub use self::replay::{MemoryReplayStore, ReplayStore};
pub use self::reply::{Refusal, Reply};
pub use self::request_state::{StateKeyError, StateKeys};
pub use self::store::{StoreError, StoreFuture};
pub use self::task_store::TaskStore;
pub use crate::schema::schema_generator;

use self::call::{Call, Handlers};
use self::registry::Tables;

/// An MCP server type: implemented by `#[derive(McpServer)]` with `const` tables built at
/// compile time.
pub trait McpServer: Sized + Send + Sync + 'static {
    /// What `initialize` announces.
    const INFO: ServerInfo;
    /// Every tool, in the order of the derive's `tools(...)`.
    const TOOLS: &'static [ToolDef<Self>];
    /// Every resource and resource template, in the order of the derive's `resources(...)`.
    const RESOURCES: &'static [ResourceDef<Self>] = &[];
    /// Every prompt, in the order of the derive's `prompts(...)`.
    const PROMPTS: &'static [PromptDef<Self>] = &[];
    /// Every scope the server knows, sorted and de-duplicated: the source of
    /// `scopes_supported`.
    const SCOPES: &'static [&'static str];
    /// The scope hierarchy, transitively closed.
    const IMPLICATIONS: &'static [Implication];
    /// Every downstream API (RFC 8707 resource URI) a tool, resource or prompt may get a token
    /// for by token exchange (`downstream = ..`), sorted, each once: what the authorization
    /// server's exchange policy must allow.
    const DOWNSTREAM: &'static [&'static str] = &[];
}

/// A built server: the user's state, the tool registry and the pre-serialized lists. Cheap to
/// clone; every transport serves one.
///
/// The typed handle is thin: everything a transport runs (dispatch, scope checks, HTTP) lives in
/// a core that does not depend on `S`, compiled once in this crate rather than again in every
/// server's crate (a touched tool rebuilds the tool, not the framework). Only the calls into the
/// user's handlers go through `S`, behind one small trait object.
pub struct Server<S: 'static> {
    pub(crate) core: Core,
    state: Arc<S>,
}

impl<S: 'static> Clone for Server<S> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<S: McpServer> Handlers for S {
    fn call_tool(&self, index: usize, call: Call<'_>) -> ToolFuture {
        (Self::TOOLS[index].call)(&mut call.with_state(self))
    }

    fn read_resource(&self, index: usize, call: Call<'_>) -> ResourceFuture {
        (Self::RESOURCES[index].read)(&mut call.with_state(self))
    }

    fn get_prompt(&self, index: usize, call: Call<'_>) -> PromptFuture {
        (Self::PROMPTS[index].get)(&mut call.with_state(self))
    }
}

impl<S: McpServer> Server<S> {
    /// Builds the server with default options.
    pub fn new(state: S) -> Result<Self, BuildError> {
        Self::with_options(state, ServerOptions::default())
    }

    /// Builds the server: computes every schema once and serializes the tool lists.
    pub fn with_options(state: S, options: ServerOptions) -> Result<Self, BuildError> {
        let state = Arc::new(state);
        let tables = Tables {
            info: S::INFO,
            tools: S::TOOLS
                .iter()
                .map(|def| (&def.meta, def.params, def.output_schema))
                .collect(),
            resources: S::RESOURCES
                .iter()
                .map(|def| (&def.meta, def.params))
                .collect(),
            prompts: S::PROMPTS
                .iter()
                .map(|def| (&def.meta, def.params))
                .collect(),
            scopes: S::SCOPES,
            implications: S::IMPLICATIONS,
            downstream: S::DOWNSTREAM,
        };
        let handlers: Arc<dyn Handlers> = Arc::clone(&state) as Arc<dyn Handlers>;
        Ok(Self {
            core: Core::build(handlers, tables, options)?,
            state,
        })
    }
}

impl<S: McpServer> Server<S> {
    /// Every downstream API some tool, resource or prompt may get a token for (RFC 8693 token
    /// exchange), sorted, each once: the audiences the authorization server's exchange policy
    /// must allow for this server's client.
    #[must_use]
    pub fn downstream(&self) -> &'static [&'static str] {
        self.core.downstream()
    }

    /// The user's server value.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The server's scopes and hierarchy.
    pub fn scopes(&self) -> &ScopeTable {
        &self.core.inner.scopes
    }

    /// What `initialize` announces.
    pub fn info(&self) -> &ServerInfo {
        &self.core.inner.info
    }

    /// The tool descriptors, in declaration order.
    pub fn tools(&self) -> impl ExactSizeIterator<Item = &'static ToolDef<S>> + '_ {
        S::TOOLS.iter()
    }

    /// A new client connection (a stdio process, an HTTP session), registered so that
    /// [`Server::notify_resource_updated`] reaches it.
    pub fn connect(&self) -> Arc<Connection> {
        self.core.connect()
    }

    /// Shutting down: every client's pending requests fail and its standalone stream ends, and
    /// every open `subscriptions/listen` stream is answered (a graceful end) and ends; requests
    /// in flight still finish.
    pub fn hang_up_all(&self) {
        self.core.hang_up_all();
    }

    /// Tells every client subscribed to `uri` that the resource changed
    /// (`notifications/resources/updated`): legacy sessions subscribed with
    /// `resources/subscribe`, and open 2026-07-28 `subscriptions/listen` streams that asked for
    /// it; only those whose principal may read the resource. Returns how many were told.
    pub fn notify_resource_updated(&self, uri: &str) -> usize {
        self.core.notify_resource_updated(uri)
    }

    /// The resource descriptors, in declaration order.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = &'static ResourceDef<S>> + '_ {
        S::RESOURCES.iter()
    }

    /// The prompt descriptors, in declaration order.
    pub fn prompts(&self) -> impl ExactSizeIterator<Item = &'static PromptDef<S>> + '_ {
        S::PROMPTS.iter()
    }

    /// Every scope some tool, resource or prompt requires directly, sorted and de-duplicated
    /// (scopes that only imply others are left out: they are what a client asks for when it
    /// wants everything, not the least it needs).
    #[must_use]
    pub fn required_scopes(&self) -> Vec<String> {
        self.core.required_scopes()
    }

    /// The tool a name refers to.
    pub fn tool(&self, name: &str) -> Option<&'static ToolDef<S>> {
        self.core
            .inner
            .by_name
            .get(name)
            .map(|&index| &S::TOOLS[index])
    }

    /// The scope table as JSON: every scope (with the broader scopes that imply it and the tools
    /// it unlocks) and every tool with its required scopes. Paste it into your authorization
    /// server's configuration.
    #[must_use]
    pub fn scope_table_json(&self) -> Value {
        self.core.scope_table_json()
    }

    /// The scope table as Markdown: a table of scopes (what unlocks what) and a table of tools.
    #[must_use]
    pub fn scope_table_markdown(&self) -> String {
        self.core.scope_table_markdown()
    }

    /// Parses one JSON-RPC message and handles it as [`Server::handle`] does.
    pub fn handle_bytes<'a>(
        &'a self,
        bytes: &'a [u8],
        principal: &'a Principal,
    ) -> impl Future<Output = Reply> + Send + 'a {
        self.core.handle_bytes(bytes, principal)
    }

    /// Handles one message on behalf of `principal`.
    ///
    /// Requests get a response or, when the principal lacks a tool's scopes, a [`Denial`] (before
    /// the tool runs); notifications and responses get [`Reply::Nothing`].
    pub fn handle<'a>(
        &'a self,
        message: Message,
        principal: &'a Principal,
    ) -> impl Future<Output = Reply> + Send + 'a {
        self.core.handle(message, principal)
    }

    /// Handles one message on a client connection: `connection` carries the client's
    /// capabilities, log level, cancellations and answers to the server's requests; `outbound`
    /// is where this request's notifications and requests to the client go (none: they are
    /// dropped, and requests to the client fail).
    #[allow(clippy::manual_async_fn)] // the signature promises `Send`; an `async fn` would not
    pub fn handle_in<'a>(
        &'a self,
        message: Message,
        principal: &'a Principal,
        connection: &'a Arc<Connection>,
        outbound: Option<Outbound>,
    ) -> impl Future<Output = Reply> + Send + 'a {
        // Lazily, like an `async fn`: a notification or answer takes effect when the future is
        // first polled, not when it is made (the core's own version acts at once).
        async move { Core::handle_in(&self.core, message, principal, connection, outbound).await }
    }
}

impl<S: 'static> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.core.inner.info)
            .field("tools", &self.core.inner.tools.len())
            .finish_non_exhaustive()
    }
}

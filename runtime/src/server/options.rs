//! [`ServerOptions`] and [`ListVisibility`]: the dispatcher's settings.

/// Which tools, resources, resource templates and prompts the lists show a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListVisibility {
    /// Every entry, each with its required scopes in `_meta`, so a client can ask for the
    /// scopes it will need (the default).
    #[default]
    All,
    /// Only the entries the caller's scopes allow it to use.
    Granted,
}

/// Options of the dispatcher.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Tools per `tools/list` page (default 100).
    pub page_size: usize,
    /// Which entries `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` show (default [`ListVisibility::All`]).
    pub list_visibility: ListVisibility,
    /// Longest a tool, resource or prompt handler may run; past it the handler is dropped and
    /// the call fails. Default: none here; the HTTP transport applies its own (5 minutes, see
    /// `HttpConfig::handler_timeout`). Needs a Tokio runtime with its timer enabled.
    pub handler_timeout: Option<std::time::Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            list_visibility: ListVisibility::All,
            handler_timeout: None,
        }
    }
}

impl ServerOptions {
    /// Sets the `tools/list` page size.
    #[must_use]
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Sets the handler timeout (`None`: none).
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets which entries the lists show.
    #[must_use]
    pub fn list_visibility(mut self, visibility: ListVisibility) -> Self {
        self.list_visibility = visibility;
        self
    }
}

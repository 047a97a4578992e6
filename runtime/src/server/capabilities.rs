//! What the server offers, as `initialize` and `server/discover` announce it.

use serde_json::{Value, json};

use super::registry::Core;

impl Core {
    /// What this server offers, as `initialize` and `server/discover` announce it.
    pub(super) fn capabilities(&self) -> Value {
        let mut capabilities = json!({ "tools": { "listChanged": false }, "logging": {} });
        if !self.inner.resources.is_empty() {
            capabilities["resources"] = json!({ "listChanged": false, "subscribe": true });
        }
        if !self.inner.prompts.is_empty() {
            capabilities["prompts"] = json!({ "listChanged": false });
        }
        let completes = self
            .inner
            .prompts
            .iter()
            .flat_map(|&(_, params, _)| params)
            .chain(self.inner.resources.iter().flat_map(|&(_, params)| params))
            .any(|p| p.complete.is_some());
        if completes {
            capabilities["completions"] = json!({});
        }
        capabilities
    }
}

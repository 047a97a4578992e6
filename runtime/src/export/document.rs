//! [`Export`], and `Server::export`, which makes one.

use std::fmt;

use serde_json::Value;

use super::format::Format;
use super::table::Table;
use super::{auth0, entra, keycloak, okta};
use crate::server::Server;

/// The scope table as one provider's configuration: the document (JSON, or Markdown for
/// [`Format::Markdown`]) and the notes that say how to apply it and what the provider cannot
/// express. `Display` writes the document alone, ready to paste or to pipe into a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    format: Format,
    body: Body,
    notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Json(Value),
    Text(String),
}

impl Export {
    /// The format it was made in.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The document, unless it is Markdown.
    #[must_use]
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(value) => Some(value),
            Body::Text(_) => None,
        }
    }

    /// For people, not for the provider: how to apply the document, the settings it cannot
    /// carry, and the `implies(...)` hierarchy the provider cannot express (one sentence each).
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

impl fmt::Display for Export {
    /// The document: pretty-printed JSON with a final newline, or the Markdown as it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            Body::Json(value) => writeln!(f, "{value:#}"),
            Body::Text(text) => f.write_str(text),
        }
    }
}

impl<S: 'static> Server<S> {
    /// The server's scopes as `format`'s configuration for the authorization server that
    /// protects `resource` (the canonical resource URI tokens must name in `aud`, as given to
    /// `HttpConfig::new`). Descriptions come from the tools each scope unlocks and the rules
    /// that ask for it; see [`crate::export`].
    #[must_use]
    pub fn export(&self, format: Format, resource: &str) -> Export {
        let table = || Table::new(&self.core, resource);
        let (body, notes) = match format {
            Format::Keycloak => json(keycloak::document(&table())),
            Format::Auth0 => json(auth0::document(&table())),
            Format::Entra => json(entra::document(&table())),
            Format::Okta => json(okta::document(&table())),
            Format::Json => {
                let mut table = self.core.scope_table_json();
                table["resource"] = resource.into();
                (Body::Json(table), Vec::new())
            }
            Format::Markdown => (
                Body::Text(format!(
                    "{}\nResource: `{resource}`\n",
                    self.core.scope_table_markdown()
                )),
                Vec::new(),
            ),
        };
        Export {
            format,
            body,
            notes,
        }
    }
}

fn json((value, notes): (Value, Vec<String>)) -> (Body, Vec<String>) {
    (Body::Json(value), notes)
}

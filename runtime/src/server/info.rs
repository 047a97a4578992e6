//! [`ServerInfo`]: what a server announces about itself.

/// Name, version and texts the server announces in `initialize`.
#[derive(Debug, Clone, Copy)]
pub struct ServerInfo {
    /// Programmatic name.
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// Instructions for the model.
    pub instructions: Option<&'static str>,
}

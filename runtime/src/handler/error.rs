//! [`ToolError`]: the error a handler returns with `?`, its message the result the model reads.

use std::fmt;

/// A tool error: its message becomes an `isError: true` result the model can read.
///
/// Any `std::error::Error` converts into it with `?`. The error
/// [`RequestContext::require_scopes`](crate::RequestContext::require_scopes) returns is one too,
/// but whatever the handler then does, the call is answered with the step-up denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    message: String,
}

impl ToolError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(error: E) -> Self {
        Self::new(error.to_string())
    }
}

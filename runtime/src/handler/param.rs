//! [`ParamDef`]: one parameter of a handler as its schema sees it, and [`ArgSchema`], the schema
//! of a JSON argument.

use std::fmt;

use schemars::{Schema, SchemaGenerator};

/// One parameter of a tool, as the input schema sees it.
#[derive(Clone, Copy)]
pub struct ParamDef {
    /// The parameter's name: the argument key for JSON arguments.
    pub name: &'static str,
    /// Its description, from `#[doc]` or `#[arg(description = "...")]`.
    pub description: Option<&'static str>,
    /// Its schema, or `None` for extractors (which are not arguments).
    pub schema: fn(&mut SchemaGenerator) -> Option<ArgSchema>,
    /// Suggestions for a partial value (`completion/complete`), from `#[arg(complete = f)]`.
    pub complete: Option<fn(&str) -> Vec<String>>,
    /// The `{Name}` of the `Mcp-Param-{Name}` header clients mirror the argument into
    /// (2026-07-28, SEP-2243), from `#[arg(header = "Name")]`: `x-mcp-header` in the input
    /// schema.
    pub header: Option<&'static str>,
}

impl fmt::Debug for ParamDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The schema of a JSON argument.
#[derive(Debug)]
pub struct ArgSchema {
    /// The argument's JSON Schema.
    pub schema: Schema,
    /// Whether the argument must be present.
    pub required: bool,
}

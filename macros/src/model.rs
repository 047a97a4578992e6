//! The model of `#[mcp_tool]`, `#[mcp_resource]` and `#[mcp_prompt]`: one type per kind of item
//! (`ToolItem`, `ResourceItem`, `PromptItem`), sharing what the attribute declares about access
//! and naming (`Common`) and the handler function (`Callable`). Parsing builds it, `check`
//! validates it, `expand` turns it into tokens. The function is borrowed, so every later error
//! can point at the user's own tokens.

use syn::{Ident, ItemFn, Lit, LitStr, Path, Type};

/// Which attribute macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Kind {
    /// The keys the kind's attribute accepts, in the order the unknown-key error lists them.
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Tool => &[
                "scope",
                "scopes",
                "public",
                "any_scope",
                "when",
                "may_require",
                "downstream",
                "quota",
                "name",
                "title",
                "description",
                "read_only",
                "destructive",
                "idempotent",
                "open_world",
                "task",
                "extend_schema",
                "crate",
            ],
            Self::Resource => &[
                "uri",
                "scope",
                "scopes",
                "public",
                "any_scope",
                "when",
                "may_require",
                "downstream",
                "name",
                "title",
                "description",
                "mime_type",
                "crate",
            ],
            Self::Prompt => &[
                "scope",
                "scopes",
                "public",
                "any_scope",
                "when",
                "may_require",
                "downstream",
                "name",
                "title",
                "description",
                "crate",
            ],
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
        }
    }

    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Self::Tool => "#[mcp_tool]",
            Self::Resource => "#[mcp_resource]",
            Self::Prompt => "#[mcp_prompt]",
        }
    }
}

/// A scope as written: the literal (for error spans) and its value.
pub(crate) struct ScopeLit {
    pub(crate) lit: LitStr,
    pub(crate) value: String,
}

/// Who may call the item: `scope = ".."` / `scopes = [..]`, or `public`.
#[derive(Default)]
pub(crate) struct Access {
    /// The required scopes, in source order, each once.
    pub(crate) scopes: Vec<ScopeLit>,
    /// The key that gave them (`scope` or `scopes`), if any.
    pub(crate) scope_key: Option<Ident>,
    /// The `public` key, if given.
    pub(crate) public: Option<Ident>,
    /// `any_scope = [..]`: one of them suffices, in source order.
    pub(crate) any: Vec<ScopeLit>,
    /// The `any_scope` key, if given.
    pub(crate) any_key: Option<Ident>,
}

/// One `when(argument => "scope")` or `when(argument == literal => "scope")` clause.
pub(crate) struct WhenClause {
    /// The argument, as written (its JSON name).
    pub(crate) argument: Ident,
    /// The literal compared with; `None` for a bare `bool` test.
    pub(crate) literal: Option<Lit>,
    pub(crate) scope: ScopeLit,
}

/// The scope rules beyond the fixed scopes: `when(..)` clauses and `may_require = [..]`.
#[derive(Default)]
pub(crate) struct RulesAttr {
    pub(crate) when: Vec<WhenClause>,
    pub(crate) may_require: Vec<ScopeLit>,
}

/// What every kind's attribute may say.
#[derive(Default)]
pub(crate) struct Common {
    pub(crate) access: Access,
    pub(crate) rules: RulesAttr,
    /// `downstream = "https://.."` or `downstream = ["..", ".."]`: the APIs whose tokens the
    /// handler may obtain by token exchange (RFC 8693), in source order, each once, each
    /// checked (`check::lit::downstream_uri`) while parsing.
    pub(crate) downstream: Vec<String>,
    pub(crate) name: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    /// `crate = path`: where `scopegate` is.
    pub(crate) krate: Option<Path>,
}

/// A tool's behaviour hints (`readOnlyHint`, …): `None` when the attribute does not say.
#[derive(Default, Clone, Copy)]
pub(crate) struct Hints {
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
}

/// One parameter of the handler: a JSON argument or an extractor (the runtime's `ToolParam`
/// impls tell them apart, so the macro treats both alike).
pub(crate) struct Param {
    /// The JSON argument name (the identifier, or `#[arg(rename = "..")]`).
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    /// `#[arg(complete = path)]`: suggestions for `completion/complete`.
    pub(crate) complete: Option<Path>,
    /// `#[arg(header = "Name")]`: mirrored into `Mcp-Param-{Name}` (SEP-2243); a valid token.
    pub(crate) header: Option<LitStr>,
    pub(crate) ty: Type,
}

/// The handler function, with the parameter attributes only this macro reads stripped.
pub(crate) struct Callable<'a> {
    pub(crate) function: &'a ItemFn,
    pub(crate) params: Vec<Param>,
}

/// Whether a call of the tool may run as a task (the 2026-07-28 tasks extension): `task`
/// (when the client supports tasks) or `task = "required"` (only as a task).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskMode {
    #[default]
    Never,
    Optional,
    Required,
}

/// `#[mcp_tool]`.
pub(crate) struct ToolItem<'a> {
    pub(crate) common: Common,
    pub(crate) hints: Hints,
    /// `quota = "10/min"`: calls and seconds.
    pub(crate) quota: Option<(u32, u32)>,
    pub(crate) task: TaskMode,
    /// `extend_schema = path`: a `fn() -> serde_json::Value` of keywords added to the root of
    /// the input schema.
    pub(crate) extend_schema: Option<Path>,
    pub(crate) callable: Callable<'a>,
}

/// `#[mcp_resource]`.
pub(crate) struct ResourceItem<'a> {
    pub(crate) common: Common,
    /// Required; its absence is reported by `check`, which sees the function's name.
    pub(crate) uri: Option<LitStr>,
    pub(crate) mime_type: Option<LitStr>,
    pub(crate) callable: Callable<'a>,
}

/// `#[mcp_prompt]`.
pub(crate) struct PromptItem<'a> {
    pub(crate) common: Common,
    pub(crate) callable: Callable<'a>,
}

/// One attribute macro's item.
pub(crate) enum Item<'a> {
    Tool(ToolItem<'a>),
    Resource(ResourceItem<'a>),
    Prompt(PromptItem<'a>),
}

impl<'a> Item<'a> {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Self::Tool(_) => Kind::Tool,
            Self::Resource(_) => Kind::Resource,
            Self::Prompt(_) => Kind::Prompt,
        }
    }

    pub(crate) fn common(&self) -> &Common {
        match self {
            Self::Tool(item) => &item.common,
            Self::Resource(item) => &item.common,
            Self::Prompt(item) => &item.common,
        }
    }

    pub(crate) fn callable(&self) -> &Callable<'a> {
        match self {
            Self::Tool(item) => &item.callable,
            Self::Resource(item) => &item.callable,
            Self::Prompt(item) => &item.callable,
        }
    }
}

//! Items generated code refers to. Not a public API: it changes without notice.
//!
//! The const fns below let `#[derive(McpServer)]` build its scope table and run its cross-tool
//! checks at compile time, although each tool's scopes live in another macro's output.

pub use schemars;
pub use serde;
pub use serde_json;

pub use crate::handler::{
    ArgSchema, CallParts, FromRef, HandlerFuture, HeaderParam, ParamDef, ToolParam, ToolParamKind,
};
pub use crate::prompt::{
    IntoPromptOutput, Prompt, PromptDef, PromptInfo, PromptMeta, PromptOutput,
};
pub use crate::resource::{
    IntoResourceOutput, Resource, ResourceDef, ResourceInfo, ResourceMeta, ResourceOutput,
};
pub use crate::scope::{Implication, Literal, Rules, When};
pub use crate::server::{McpServer, ServerInfo};
pub use crate::tool::{
    IntoToolResult, TaskSupport, Tool, ToolAnnotations, ToolDef, ToolFuture, ToolInfo, ToolMeta,
    ToolQuota,
};

/// Entry points for fuzz targets (`fuzz/`): the parsers that see untrusted bytes.
#[cfg(feature = "http")]
pub mod fuzz {
    /// The `Authorization` header parser.
    pub fn bearer(values: &[&[u8]]) -> bool {
        matches!(
            crate::auth::bearer_credentials(values),
            crate::auth::Credentials::Bearer(_)
        )
    }

    /// The DPoP proof checks, for a POST of the token `token` to `https://rs.example/mcp` at
    /// the fuzz seed's time: the accepted proof's key thumbprint.
    pub fn dpop_proof(proof: &str) -> Option<String> {
        let target = crate::auth::ProofTarget {
            method: "POST",
            uri: "https://rs.example/mcp",
            access_token: Some("token"),
            now: 1_767_225_600,
        };
        crate::auth::verify_proof(proof, &crate::auth::DpopConfig::new(), &target)
            .ok()
            .map(|proof| proof.thumbprint)
    }

    /// Canonical resource URIs.
    pub fn canonical(uri: &str) -> Option<String> {
        crate::metadata::canonical_resource(uri).ok()
    }

    /// The discovery URL builder: how many locations it gives for `issuer`.
    pub fn discovery(issuer: &str) -> usize {
        crate::fetch::discovery_urls(issuer).len()
    }

    /// The one-pass `tools/call` reading against `Message::parse`: panics where they differ.
    pub fn read_agrees_with_parse(bytes: &[u8]) -> bool {
        crate::protocol::read_agrees_with_parse(bytes)
    }

    /// The `Cache-Control` parser: the seconds it reads from `value`.
    pub fn cache_control(value: &str) -> Option<u64> {
        crate::fetch::max_age(value).map(|age| age.as_secs())
    }
}

/// Compile-time check that a parameter's type is an argument or an extractor.
pub const fn assert_param<T: ToolParamKind>() {}

/// Compile-time check that a parameter given `#[arg(header = "...")]` has a type a header can
/// carry.
pub const fn assert_header_param<T: HeaderParam>() {}

/// Compile-time check that a tool's return type can become a result.
pub const fn assert_return<T: IntoToolResult>() {}

/// Compile-time check that a resource handler's return type can become contents.
pub const fn assert_resource_return<T: IntoResourceOutput>() {}

/// Compile-time check that a prompt handler's return type can become messages.
pub const fn assert_prompt_return<T: IntoPromptOutput>() {}

/// An argument a bare `when(flag => "scope")` clause can test: `bool`, or an optional one
/// (absent never matches).
///
/// The generated code names it as `<T as WhenFlag>`, spanned at the clause's argument, so an
/// argument of another type is one error there (the compiler reports identical errors once).
#[diagnostic::on_unimplemented(
    message = "`when(.. => ..)` tests a `bool` argument, and this one is `{Self}`",
    label = "not a `bool` or `Option<bool>`",
    note = "compare other arguments with a literal: `when(argument == \"value\" => \"scope\")`"
)]
pub trait WhenFlag {
    /// Whether the clause matches.
    fn is_set(&self) -> bool;
}

impl WhenFlag for bool {
    fn is_set(&self) -> bool {
        *self
    }
}

impl WhenFlag for Option<bool> {
    fn is_set(&self) -> bool {
        *self == Some(true)
    }
}

/// An argument a `when(argument == literal => "scope")` clause compares: read from JSON and
/// comparable, so the literal is read as the argument's type and compared as a value.
///
/// Not a supertrait bound but a blanket impl, so an argument that is neither is reported with
/// this message, once, at the clause's argument (as for [`WhenFlag`]).
#[diagnostic::on_unimplemented(
    message = "`when(.. == ..)` compares a JSON argument by value, and `{Self}` is not one",
    label = "needs `serde::Deserialize` and `PartialEq`",
    note = "derive `PartialEq` on the argument's type (an enum: `#[derive(Deserialize, PartialEq, JsonSchema)]`)"
)]
pub trait WhenValue {
    /// Whether the clause matches: the literal read as `Self` (serde renames and aliases apply,
    /// and an optional argument's literal is `Some`) equals the value. A literal no `Self` is
    /// read from never matches (and fails the server's build).
    fn equals_literal(&self, literal: &Literal) -> bool;

    /// Whether `literal` is a value of `Self`: the server's build refuses a clause whose
    /// literal is not.
    fn literal_fits(literal: &Literal) -> bool;
}

impl<T: serde::de::DeserializeOwned + PartialEq> WhenValue for T {
    fn equals_literal(&self, literal: &Literal) -> bool {
        serde_json::from_value::<T>(literal.to_json()).is_ok_and(|literal| *self == literal)
    }

    fn literal_fits(literal: &Literal) -> bool {
        serde_json::from_value::<T>(literal.to_json()).is_ok()
    }
}

/// The `fits` of a bare `when(flag => ..)` clause, which has no literal.
pub fn no_literal(_: &Literal) -> bool {
    true
}

/// Byte-wise equality, usable in const context.
#[must_use]
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Byte-wise `a < b`, the order `str`'s `Ord` uses.
#[must_use]
pub const fn str_lt(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Total length of the lists.
#[must_use]
pub const fn total_len(lists: &[&[&str]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < lists.len() {
        n += lists[i].len();
        i += 1;
    }
    n
}

/// The lists concatenated, then sorted; `N` must be [`total_len`] of them.
#[must_use]
pub const fn concat_sorted<const N: usize>(lists: &[&[&'static str]]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut n = 0;
    let mut i = 0;
    while i < lists.len() {
        let mut j = 0;
        while j < lists[i].len() {
            out[n] = lists[i][j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    // Insertion sort: a server has tens of scopes, and this runs in the compiler.
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && str_lt(out[j], out[j - 1]) {
            let t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    out
}

/// Number of distinct values in a sorted list.
#[must_use]
pub const fn count_distinct(sorted: &[&str]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < sorted.len() {
        if i == 0 || !str_eq(sorted[i], sorted[i - 1]) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The distinct values of a sorted list; `M` must be [`count_distinct`] of it.
#[must_use]
pub const fn distinct<const M: usize>(sorted: &[&'static str]) -> [&'static str; M] {
    let mut out = [""; M];
    let mut n = 0;
    let mut i = 0;
    while i < sorted.len() {
        if i == 0 || !str_eq(sorted[i], sorted[i - 1]) {
            out[n] = sorted[i];
            n += 1;
        }
        i += 1;
    }
    out
}

/// Whether `list` holds `value`.
#[must_use]
pub const fn contains(list: &[&str], value: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], value) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether every value of `values` is in `list`.
#[must_use]
pub const fn all_in(values: &[&str], list: &[&str]) -> bool {
    let mut i = 0;
    while i < values.len() {
        if !contains(list, values[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether the tool at `index` has the name of an earlier one.
#[must_use]
pub const fn name_taken_before(tools: &[ToolMeta], index: usize) -> bool {
    let mut i = 0;
    while i < index {
        if str_eq(tools[i].name, tools[index].name) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether one of the lists holds `value` (some tool, resource or prompt requires the scope).
#[must_use]
pub const fn some_list_contains(lists: &[&[&str]], value: &str) -> bool {
    let mut i = 0;
    while i < lists.len() {
        if contains(lists[i], value) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether the resource at `index` has the URI (or template) of an earlier one.
#[must_use]
pub const fn uri_taken_before(resources: &[ResourceMeta], index: usize) -> bool {
    let mut i = 0;
    while i < index {
        if str_eq(resources[i].uri, resources[index].uri) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether the prompt at `index` has the name of an earlier one.
#[must_use]
pub const fn prompt_taken_before(prompts: &[PromptMeta], index: usize) -> bool {
    let mut i = 0;
    while i < index {
        if str_eq(prompts[i].name, prompts[index].name) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_scope_table_is_sorted_and_distinct() {
        const LISTS: &[&[&str]] = &[&["b", "a"], &[], &["c", "a", "b"], &["a:b"]];
        const N: usize = total_len(LISTS);
        const SORTED: [&str; N] = concat_sorted::<N>(LISTS);
        const M: usize = count_distinct(&SORTED);
        const DISTINCT: [&str; M] = distinct::<M>(&SORTED);
        assert_eq!(DISTINCT, ["a", "a:b", "b", "c"]);
        let mut expected: Vec<&str> = LISTS.iter().flat_map(|l| l.iter().copied()).collect();
        expected.sort_unstable();
        assert_eq!(SORTED.to_vec(), expected);
    }

    #[test]
    fn const_string_helpers_agree_with_std() {
        let words = ["", "a", "ab", "b", "a\u{7f}", "aa"];
        for a in words {
            for b in words {
                assert_eq!(str_eq(a, b), a == b, "{a:?} == {b:?}");
                assert_eq!(str_lt(a, b), a < b, "{a:?} < {b:?}");
            }
        }
        assert!(all_in(&["a"], &["b", "a"]) && !all_in(&["c"], &["a"]));
    }
}

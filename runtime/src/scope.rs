//! OAuth scopes: validated scope tokens, the set a principal holds, and the server's scope table.
//!
//! A scope is an RFC 6749 §3.3 `scope-token`: one or more printable ASCII characters other than
//! space, `"` and `\`. The macros check every scope written in code at compile time; tokens that
//! arrive at run time (from a JWT, an environment variable) are checked here.

use std::collections::HashMap;
use std::fmt;

/// Whether `s` is an RFC 6749 §3.3 `scope-token`: `1*( %x21 / %x23-5B / %x5D-7E )`.
#[must_use]
pub const fn is_scope_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b == 0x21 || (b >= 0x23 && b <= 0x5B) || (b >= 0x5D && b <= 0x7E)) {
            return false;
        }
        i += 1;
    }
    true
}

/// The scopes a principal holds: a sorted, de-duplicated set of scope tokens.
///
/// Tokens that are not valid RFC 6749 scope-tokens are dropped when the set is built, so a
/// malformed claim can never match a scope the server requires.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    sorted: Box<[Box<str>]>,
}

impl ScopeSet {
    /// The empty set: a principal holding it may call only `public` tools.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses an OAuth `scope` value: scope tokens separated by spaces.
    #[must_use]
    pub fn from_space_separated(value: &str) -> Self {
        value.split(' ').collect()
    }

    /// Whether the set holds exactly this scope (no implication rules applied).
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        self.sorted.binary_search_by(|s| (**s).cmp(scope)).is_ok()
    }

    /// The scopes, in ascending byte order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.sorted.iter().map(|s| &**s)
    }

    /// Number of scopes held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no scope is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut scopes: Vec<Box<str>> = iter
            .into_iter()
            .filter(|s| is_scope_token(s.as_ref()))
            .map(|s| Box::from(s.as_ref()))
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            sorted: scopes.into_boxed_slice(),
        }
    }
}

/// Space-separated, as in an OAuth `scope` parameter.
impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// One rule of a scope hierarchy: holding `scope` also satisfies every scope in `implies`.
///
/// The derive emits these with the transitive closure already taken, so a single lookup answers.
#[derive(Debug, Clone, Copy)]
pub struct Implication {
    /// The broader scope.
    pub scope: &'static str,
    /// Every narrower scope it satisfies, directly or through other rules.
    pub implies: &'static [&'static str],
}

/// The server's scopes and hierarchy, built once from the derive's `const` tables.
#[derive(Debug, Clone)]
pub struct ScopeTable {
    supported: &'static [&'static str],
    /// narrower scope -> the broader scopes that satisfy it
    implied_by: HashMap<&'static str, Vec<&'static str>>,
}

impl ScopeTable {
    /// Builds the table from the sorted scope list and the (closed) implication rules.
    #[must_use]
    pub fn new(supported: &'static [&'static str], implications: &'static [Implication]) -> Self {
        let mut implied_by: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        for rule in implications {
            for narrower in rule.implies {
                implied_by.entry(narrower).or_default().push(rule.scope);
            }
        }
        Self {
            supported,
            implied_by,
        }
    }

    /// Every scope the server knows, sorted and de-duplicated (`scopes_supported`).
    #[must_use]
    pub fn supported(&self) -> &'static [&'static str] {
        self.supported
    }

    /// Whether `granted` satisfies `required`, directly or through a broader scope.
    #[must_use]
    pub fn satisfies(&self, granted: &ScopeSet, required: &str) -> bool {
        granted.contains(required)
            || self
                .implied_by
                .get(required)
                .is_some_and(|broader| broader.iter().any(|b| granted.contains(b)))
    }

    /// For an any-of rule: `None` when `granted` satisfies one of `any` (or `any` is empty),
    /// else the first of them, the one a denial asks for.
    #[must_use]
    pub fn missing_any(
        &self,
        granted: &ScopeSet,
        any: &'static [&'static str],
    ) -> Option<&'static str> {
        match any.first() {
            Some(&first) if !any.iter().any(|s| self.satisfies(granted, s)) => Some(first),
            _ => None,
        }
    }

    /// Whether `granted` satisfies every scope of `all` and, when `any` is not empty, one of
    /// `any`: who may call an item, or see it in a list.
    #[must_use]
    pub fn admits(
        &self,
        granted: &ScopeSet,
        all: &'static [&'static str],
        any: &'static [&'static str],
    ) -> bool {
        all.iter().all(|s| self.satisfies(granted, s)) && self.missing_any(granted, any).is_none()
    }

    /// Whether `granted` holds everything an item with `scopes` and `rules` could ask for: its
    /// fixed scopes, one of its any-of scopes, and every scope its `when` clauses and run-time
    /// demands name. For what is told of an item without running it (a resource's updates, a
    /// task's status), where the rules that depend on a call cannot be weighed.
    #[must_use]
    pub fn admits_every_rule(
        &self,
        granted: &ScopeSet,
        scopes: &'static [&'static str],
        rules: &Rules,
    ) -> bool {
        self.admits(granted, scopes, rules.any_scopes)
            && rules.when.iter().all(|w| self.satisfies(granted, w.scope))
            && rules.may_require.iter().all(|s| self.satisfies(granted, s))
    }

    /// The scopes of `required` that `granted` does not satisfy, in the order given.
    #[must_use]
    pub fn missing(
        &self,
        granted: &ScopeSet,
        required: &'static [&'static str],
    ) -> Vec<&'static str> {
        required
            .iter()
            .copied()
            .filter(|r| !self.satisfies(granted, r))
            .collect()
    }
}

/// The scope rules of a tool, resource or prompt beyond the scopes every call needs
/// (`scopes`): one of several scopes, scopes that depend on the arguments, and scopes the
/// handler may demand while it runs; and the downstream APIs it may get tokens for.
/// `#[mcp_tool]` and its siblings emit it; every scope it names is in the server's scope table,
/// and every API in its table of downstream APIs.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// `any_scope = [..]`: one of these suffices (none when empty). A denial asks for the first.
    pub any_scopes: &'static [&'static str],
    /// `when(..)`: scopes a call needs when its arguments match; several add up.
    pub when: &'static [When],
    /// `may_require = [..]`: scopes the handler may demand at run time
    /// ([`RequestContext::require_scopes`](crate::RequestContext::require_scopes)); no other.
    pub may_require: &'static [&'static str],
    /// Every scope the three above name, in that order (the derive's scope table reads it).
    pub demands: &'static [&'static str],
    /// `downstream = [..]`: not a scope rule but the APIs (RFC 8707 resource URIs) the handler
    /// may get a token for by exchanging the caller's (RFC 8693), through its
    /// `handler::Downstream` parameter; no other.
    pub downstream: &'static [&'static str],
}

impl Rules {
    /// No rule beyond the fixed scopes.
    pub const NONE: Self = Self {
        any_scopes: &[],
        when: &[],
        may_require: &[],
        demands: &[],
        downstream: &[],
    };

    /// Whether there is no scope rule beyond the fixed scopes (downstream APIs aside).
    #[must_use]
    pub const fn is_none(&self) -> bool {
        self.any_scopes.is_empty() && self.when.is_empty() && self.may_require.is_empty()
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::NONE
    }
}

/// One `when(..)` clause: a call whose argument `argument` matches needs `scope` too.
#[derive(Debug, Clone, Copy)]
pub struct When {
    /// The argument's JSON name.
    pub argument: &'static str,
    /// `when(argument == literal => ..)`: matches when the argument's value equals the literal,
    /// read as the argument's type (so serde renames and aliases apply). `None`:
    /// `when(flag => ..)`, which matches a `bool` argument that is `true`. An absent optional
    /// argument never matches.
    pub equals: Option<Literal>,
    /// The scope a matching call needs.
    pub scope: &'static str,
    /// Whether the literal is a value of the argument's type (checked when the server is
    /// built: a literal no value equals would make the clause never match).
    pub fits: fn(&Literal) -> bool,
}

/// The literal of a `when(argument == literal => ..)` clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    /// A string: compared with a string argument, or an enum by its serialized name.
    Str(&'static str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl Literal {
    /// The literal as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Self::Str(s) => s.into(),
            Self::Int(i) => i.into(),
            Self::Bool(b) => b.into(),
        }
    }
}

impl When {
    /// The clause as clients read it in `_meta` and the scope table:
    /// `{"argument", "equals"?, "scope"}`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut clause = serde_json::json!({ "argument": self.argument, "scope": self.scope });
        if let Some(literal) = &self.equals {
            clause["equals"] = literal.to_json();
        }
        clause
    }
}

impl fmt::Display for When {
    /// As written in the attribute: `when(private => "repo:private")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.equals {
            None => write!(f, "when({} => \"{}\")", self.argument, self.scope),
            Some(literal) => write!(
                f,
                "when({} == {} => \"{}\")",
                self.argument,
                literal.to_json(),
                self.scope
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        for ok in [
            "a",
            "files:read",
            "https://x.example/api.read",
            "!#[]~",
            "a^b",
        ] {
            assert!(is_scope_token(ok), "{ok:?} should be a scope token");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?} should not be a scope token");
        }
    }

    #[test]
    fn scope_set_sorts_dedups_and_drops_malformed_tokens() {
        let set = ScopeSet::from_space_separated("b a  b c\"d a");
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(set.to_string(), "a b");
        assert!(set.contains("a"));
        assert!(!set.contains("c\"d"));
        assert!(ScopeSet::from_space_separated("").is_empty());
    }

    #[test]
    fn a_set_holds_exactly_its_scopes() {
        let set: ScopeSet = ["files:write", "a", "files:read", "z", "files", "a"]
            .into_iter()
            .collect();
        let held = ["a", "files", "files:read", "files:write", "z"];
        assert_eq!(set.iter().collect::<Vec<_>>(), held);
        assert_eq!((set.len(), set.iter().len()), (5, 5));
        for scope in held {
            assert!(set.contains(scope), "{scope}");
        }
        // Before the first, between two, after the last; a prefix and an extension of one
        // held; empty; two held joined as one.
        for scope in [
            "0",
            "b",
            "files:",
            "files:reader",
            "zz",
            "",
            "files files:read",
            "a files",
        ] {
            assert!(!set.contains(scope), "{scope:?}");
        }
        assert_eq!(set.to_string(), held.join(" "));
        assert_eq!(
            format!("{set:?}"),
            format!("{:?}", std::collections::BTreeSet::from(held))
        );
        // The same scopes in another order make the same set.
        assert_eq!(
            set,
            ScopeSet::from_space_separated("z files:write files files:read a")
        );
        let empty = ScopeSet::empty();
        assert!(empty.is_empty() && empty.iter().next().is_none() && !empty.contains("a"));
        assert_eq!(empty, ScopeSet::from_space_separated(" "));
    }

    #[test]
    fn implications_satisfy_narrower_scopes_only() {
        static RULES: &[Implication] = &[Implication {
            scope: "files:admin",
            implies: &["files:read", "files:write"],
        }];
        let table = ScopeTable::new(&["files:admin", "files:read", "files:write"], RULES);
        let admin = ScopeSet::from_space_separated("files:admin");
        let reader = ScopeSet::from_space_separated("files:read");
        assert!(table.satisfies(&admin, "files:write"));
        assert!(table.satisfies(&admin, "files:admin"));
        assert!(!table.satisfies(&reader, "files:admin"));
        assert_eq!(
            table.missing(&reader, &["files:read", "files:write", "files:admin"]),
            ["files:write", "files:admin"]
        );
    }
}

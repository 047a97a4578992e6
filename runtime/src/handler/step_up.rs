//! [`StepUp`]: what a handler may demand at run time (`may_require`) and which of it the caller
//! holds; [`Demands`]: that, and the first demand refused, which the dispatcher answers in place
//! of the handler's output.

use std::sync::OnceLock;

/// What one call's handler may demand at run time, and which of it the caller holds. Only an
/// item that declares `may_require` has one.
#[derive(Debug)]
pub(crate) struct StepUp {
    /// The item's `may_require`: the only scopes a handler may demand.
    declared: &'static [&'static str],
    /// Bit `i` set: the caller holds `declared[i]` (directly or through a broader scope).
    granted: u64,
}

/// The run-time scope demands of one call: small where the item has no `may_require` (every
/// call's context carries it).
#[derive(Debug, Default)]
pub(crate) struct Demands {
    step_up: Option<Box<StepUp>>,
    /// The first demand refused; once set, the call is answered with it.
    refused: OnceLock<Box<Refused>>,
}

/// A demand refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The caller lacks `missing` of the `demanded` scopes: a step-up denial.
    Missing {
        demanded: Vec<&'static str>,
        missing: Vec<&'static str>,
    },
    /// The handler demanded a scope its item did not declare in `may_require`: the server's
    /// bug, refused (an internal error) rather than asked of a client that cannot get it.
    Undeclared(String),
}

impl StepUp {
    /// The demands `declared` allows; `holds(i)` tells whether the caller holds `declared[i]`.
    /// Only the first 64 can be declared (the macro refuses more).
    pub(crate) fn new(
        declared: &'static [&'static str],
        holds: impl Fn(&str) -> bool,
    ) -> Option<Box<Self>> {
        let granted = declared
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, scope)| holds(scope))
            .fold(0_u64, |bits, (i, _)| bits | 1 << i);
        Some(Box::new(Self { declared, granted }))
    }
}

impl Demands {
    /// The demands a call may make: those of `step_up`, or none.
    pub(crate) fn new(step_up: Option<Box<StepUp>>) -> Self {
        Self {
            step_up,
            refused: OnceLock::new(),
        }
    }

    /// Checks a demand: `Ok` when every scope is declared and held; otherwise records the
    /// refusal (the first one stands) and returns its message.
    pub(crate) fn demand<'s>(
        &self,
        scopes: impl IntoIterator<Item = &'s str>,
        target: &str,
    ) -> Result<(), String> {
        let (declared, granted) = self
            .step_up
            .as_deref()
            .map_or((&[][..], 0), |s| (s.declared, s.granted));
        let mut demanded = Vec::new();
        let mut missing = Vec::new();
        for scope in scopes {
            let Some(i) = declared.iter().take(64).position(|d| *d == scope) else {
                tracing::error!(
                    target: "scopegate::auth",
                    event = "undeclared_scope_demanded",
                    tool = target,
                    scope = &*crate::clip::clip(scope, crate::clip::NAME_BYTES),
                    "a handler demanded a scope its `may_require` does not declare; the call is refused"
                );
                let message = format!(
                    "`{target}` demanded the scope `{}`, which it does not declare in `may_require`",
                    crate::clip::clip(scope, crate::clip::NAME_BYTES)
                );
                let _ = self
                    .refused
                    .set(Box::new(Refused::Undeclared(message.clone())));
                return Err(message);
            };
            let scope = declared[i];
            if !demanded.contains(&scope) {
                demanded.push(scope);
                if granted & (1 << i) == 0 {
                    missing.push(scope);
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let message = format!(
            "insufficient scope: `{target}` needs `{}` for this call",
            missing.join(" ")
        );
        let _ = self
            .refused
            .set(Box::new(Refused::Missing { demanded, missing }));
        Err(message)
    }

    /// The first demand refused, if any.
    pub(crate) fn refused(&self) -> Option<&Refused> {
        self.refused.get().map(|refused| &**refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demands_are_checked_against_what_was_declared_and_held() {
        let step_up = Demands::new(StepUp::new(&["repo:private", "repo:admin"], |s| {
            s == "repo:admin"
        }));
        assert_eq!(step_up.demand(["repo:admin"], "t"), Ok(()));
        assert!(step_up.refused().is_none());
        let error = step_up
            .demand(["repo:admin", "repo:private", "repo:private"], "t")
            .expect_err("repo:private is not held");
        assert!(error.contains("`repo:private`"), "{error}");
        assert_eq!(
            step_up.refused(),
            Some(&Refused::Missing {
                demanded: vec!["repo:admin", "repo:private"],
                missing: vec!["repo:private"],
            })
        );
    }

    #[test]
    fn an_undeclared_scope_is_refused_even_when_held_elsewhere() {
        let step_up = Demands::new(None);
        let error = step_up
            .demand(["repo:private"], "t")
            .expect_err("undeclared");
        assert!(error.contains("may_require"), "{error}");
        assert!(matches!(step_up.refused(), Some(Refused::Undeclared(_))));
        // The first refusal stands: a later demand that passes does not clear it.
        let held = Demands::new(StepUp::new(&["a"], |_| true));
        assert!(held.demand(["b"], "t").is_err());
        assert_eq!(held.demand(["a"], "t"), Ok(()));
        assert!(matches!(held.refused(), Some(Refused::Undeclared(_))));
    }
}

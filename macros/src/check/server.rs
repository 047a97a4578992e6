//! Rules on a `#[derive(McpServer)]` type as a whole. The rules that span the listed tools
//! (unique names, scopes inside the vocabulary) need other macros' output, so they are `const`
//! evaluations in the expansion (`expand::server`), not here.

use std::collections::{BTreeMap, BTreeSet};

use syn::{Data, DeriveInput};

use crate::errors::Errors;
use crate::model::ScopeLit;
use crate::server::{Closure, ServerAttr};

/// Rule: a server type is not generic: its tool and scope tables are `const`.
pub(crate) fn check_not_generic(input: &DeriveInput, errors: &mut Errors) {
    if !input.generics.params.is_empty() {
        errors.at(
            &input.generics,
            "an MCP server type cannot be generic: its tool and scope tables are `const`",
        );
    }
}

/// Rule: a server is a struct or an enum (a union has no safe field to hand out as state).
pub(crate) fn check_not_union(input: &DeriveInput, errors: &mut Errors) {
    if let Data::Union(u) = &input.data {
        errors.at(u.union_token, "an MCP server must be a struct or an enum");
    }
}

/// Rules on the scope hierarchy: every scope in it is known (declared when a vocabulary exists),
/// and no scope implies itself through any chain (a cycle makes two scopes one, which is a bug).
/// Returns the hierarchy closed under transitivity.
pub(crate) fn check_implies(server: &ServerAttr, errors: &mut Errors) -> Closure {
    let mut edges: BTreeMap<&str, Vec<&ScopeLit>> = BTreeMap::new();
    for rule in &server.implies {
        if let Some(vocabulary) = &server.vocabulary {
            for scope in std::iter::once(&rule.broad).chain(&rule.narrower) {
                if !vocabulary.iter().any(|v| v.value == scope.value) {
                    errors.at(
                        &scope.lit,
                        format!("`{}` is not declared in `scopes(...)`", scope.value),
                    );
                }
            }
        }
        edges
            .entry(&rule.broad.value)
            .or_default()
            .extend(&rule.narrower);
    }
    let mut closure = Closure::new();
    let mut in_reported_cycle: BTreeSet<&str> = BTreeSet::new();
    for rule in &server.implies {
        let start = rule.broad.value.as_str();
        let mut reached = BTreeSet::new();
        // Depth-first with the path kept, so a cycle can be shown as the chain that closes it.
        let mut stack: Vec<(&str, Vec<&ScopeLit>)> = vec![(start, Vec::new())];
        let mut cycle: Option<Vec<&ScopeLit>> = None;
        while let Some((scope, path)) = stack.pop() {
            for next in edges.get(scope).into_iter().flatten() {
                let mut next_path = path.clone();
                next_path.push(next);
                if next.value == start && cycle.is_none() {
                    cycle = Some(next_path.clone());
                }
                if reached.insert(next.value.clone()) {
                    stack.push((&next.value, next_path));
                }
            }
        }
        if let Some(path) = cycle
            && !in_reported_cycle.contains(start)
        {
            let chain: Vec<&str> = std::iter::once(start)
                .chain(path.iter().map(|s| s.value.as_str()))
                .collect();
            in_reported_cycle.extend(chain.iter().copied());
            let closing = path.last().map_or(&rule.broad.lit, |s| &s.lit);
            errors.at(
                closing,
                format!(
                    "the scope hierarchy has a cycle: {}; a scope cannot imply itself",
                    chain.join(" => ")
                ),
            );
        }
        reached.remove(start);
        closure.insert(start.to_owned(), reached);
    }
    closure
}

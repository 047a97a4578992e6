//! Parsing the scope-rule keys of the item attributes: scope lists (`scopes`, `any_scope`,
//! `may_require`), `when(..)` clauses and a tool's `quota`; and `downstream`, the APIs a
//! handler may exchange the caller's token for.

use syn::parse::ParseStream;
use syn::{Ident, Lit, LitStr, Token, bracketed, parenthesized};

use crate::check::lit;
use crate::errors::Errors;
use crate::keys;
use crate::model::{ScopeLit, WhenClause};

/// Most `when` clauses, and most `may_require` scopes, one item may have.
pub(crate) const MAX_RULES: usize = 64;

/// `= ["a", "b"]`: at least one scope, each valid and once (errors at the literal).
pub(crate) fn scope_list(
    input: ParseStream<'_>,
    errors: &mut Errors,
    key: &str,
    empty: &str,
) -> syn::Result<Vec<ScopeLit>> {
    input.parse::<Token![=]>()?;
    let content;
    let brackets = bracketed!(content in input);
    let lits = content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
    if lits.is_empty() {
        errors.push(syn::Error::new(
            brackets.span.join(),
            format!("`{key}` must name at least one scope; {empty}"),
        ));
    }
    let mut scopes: Vec<ScopeLit> = Vec::new();
    for lit in lits {
        match lit::scope(&lit) {
            Ok(scope) if scopes.iter().any(|s| s.value == scope.value) => {
                errors.at(&lit, format!("scope `{}` is listed twice", scope.value));
            }
            Ok(scope) => scopes.push(scope),
            Err(error) => errors.push(error),
        }
    }
    Ok(scopes)
}

/// Most downstream APIs one item may name.
pub(crate) const MAX_DOWNSTREAM: usize = 16;

/// `= "https://api.example"` or `= ["https://a.example", "https://b.example"]`: at least one
/// URI, each an RFC 8707 resource the token exchange can ask for, and each once (errors at the
/// literal).
pub(crate) fn downstream(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Vec<String>> {
    input.parse::<Token![=]>()?;
    let lits: Vec<LitStr> = if input.peek(syn::token::Bracket) {
        let content;
        let brackets = bracketed!(content in input);
        let lits = content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
        if lits.is_empty() {
            errors.push(syn::Error::new(
                brackets.span.join(),
                "`downstream` must name at least one API: `downstream = \"https://api.example\"`",
            ));
        }
        if lits.len() > MAX_DOWNSTREAM {
            errors.push(syn::Error::new(
                brackets.span.join(),
                format!("at most {MAX_DOWNSTREAM} APIs in `downstream`"),
            ));
        }
        lits.into_iter().collect()
    } else {
        vec![input.parse::<LitStr>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a URI or a list of them: `downstream = \"https://api.example\"` or `downstream = [\"..\", \"..\"]`",
            )
        })?]
    };
    let mut uris: Vec<String> = Vec::new();
    for lit in lits {
        let value = lit.value();
        if let Err(message) = lit::downstream_uri(&value) {
            errors.at(&lit, message);
        } else if uris.contains(&value) {
            errors.at(&lit, format!("`{value}` is listed twice in `downstream`"));
        } else {
            uris.push(value);
        }
    }
    Ok(uris)
}

/// `(argument => "scope")` or `(argument == literal => "scope")`, the literal a string, an
/// integer or a boolean.
pub(crate) fn when_clause(input: ParseStream<'_>) -> syn::Result<WhenClause> {
    let content;
    parenthesized!(content in input);
    let clause = when_clause_inner(&content);
    if clause.is_err() {
        // Left unread, the rest would fail the whole attribute ("unexpected token"), and every
        // other key with it.
        let _ = content.parse::<proc_macro2::TokenStream>();
    }
    clause
}

/// The clause inside the parentheses.
fn when_clause_inner(content: ParseStream<'_>) -> syn::Result<WhenClause> {
    let argument: Ident = content.call(syn::ext::IdentExt::parse_any)?;
    let literal = if content.peek(Token![==]) {
        content.parse::<Token![==]>()?;
        let literal: Lit = content.parse()?;
        match &literal {
            Lit::Str(_) | Lit::Int(_) | Lit::Bool(_) => {}
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "`when` compares with a string, an integer or `true`/`false`",
                ));
            }
        }
        Some(literal)
    } else {
        None
    };
    content.parse::<Token![=>]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected `=>` and the scope: `when(argument => \"scope\")` or `when(argument == \"value\" => \"scope\")`",
        )
    })?;
    let scope = lit::scope(&content.parse::<LitStr>()?)?;
    if !content.is_empty() {
        return Err(content.error("one clause per `when(..)`: write `when` again for another"));
    }
    Ok(WhenClause {
        argument,
        literal,
        scope,
    })
}

/// `= "10/min"`: the calls and the period in seconds.
pub(crate) fn quota(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<(u32, u32)> {
    let lit = keys::string_value(input)?;
    match parse_quota(&lit.value()) {
        Ok(quota) => Ok(quota),
        Err(message) => {
            errors.at(&lit, message);
            Ok((1, 1))
        }
    }
}

/// Rule: a quota is `<calls>/<period>`, calls from 1 to 2³²−1, the period `s`, `min`, `h` or
/// `day` (or their long forms).
fn parse_quota(value: &str) -> Result<(u32, u32), String> {
    let usage = format!(
        "`quota = \"{value}\"` is not a quota: write `\"<calls>/<period>\"`, e.g. `\"10/min\"`, with a period of `s`, `min`, `h` or `day`"
    );
    let (calls, period) = value.split_once('/').ok_or_else(|| usage.clone())?;
    let calls: u32 = calls.trim().parse().map_err(|_| usage.clone())?;
    if calls == 0 {
        return Err(format!(
            "`quota = \"{value}\"` allows no call; remove the tool, or allow at least one"
        ));
    }
    let seconds = match period.trim() {
        "s" | "sec" | "second" => 1,
        "min" | "minute" => 60,
        "h" | "hour" => 3600,
        "day" => 86_400,
        _ => return Err(usage),
    };
    Ok((calls, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_calls_and_a_period() {
        assert_eq!(parse_quota("10/min"), Ok((10, 60)));
        assert_eq!(parse_quota("3 / h"), Ok((3, 3600)));
        assert_eq!(parse_quota("1/day"), Ok((1, 86_400)));
        for bad in [
            "10",
            "ten/min",
            "10/fortnight",
            "-1/s",
            "10/",
            "/min",
            "4294967296/s",
        ] {
            assert!(parse_quota(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_quota("0/min").unwrap_err().contains("allows no call"));
    }
}

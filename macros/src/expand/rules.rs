//! The scope rules in the expansion: the `Rules` of an item's `…Meta`, the tests the generated
//! extraction runs on the arguments it read (`when` clauses), and the spanned trait checks on
//! the arguments they name.
//!
//! Every use of a clause's argument type goes through one trait (`WhenFlag`, `WhenValue`) with
//! the type re-spanned at the argument as written in `when(..)`: a type that does not fit is
//! one error, there (the compiler reports identical errors once), not one per use at the
//! parameter.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Ident, Lit};

use crate::model::{Callable, Common, WhenClause};

/// Each `when` clause with the index and type of the parameter it names, the type's tokens
/// located at the clause's argument (the item checks reported any clause that names none, so
/// none is missing here).
fn clauses<'a>(
    common: &'a Common,
    callable: &'a Callable<'_>,
) -> impl Iterator<Item = (u32, &'a WhenClause, usize, TokenStream)> {
    common
        .rules
        .when
        .iter()
        .enumerate()
        .filter_map(|(i, clause)| {
            let name = clause.argument.unraw().to_string();
            let (param, p) = callable
                .params
                .iter()
                .enumerate()
                .find(|(_, p)| p.name == name)?;
            let ty = located_at(p.ty.to_token_stream(), clause.argument.span());
            Some((u32::try_from(i).ok()?, clause, param, ty))
        })
}

/// `tokens` reported at `span` (name resolution unchanged).
fn located_at(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let inner = located_at(group.stream(), span);
                token = TokenTree::Group(Group::new(group.delimiter(), inner));
            }
            token.set_span(token.span().located_at(span));
            token
        })
        .collect()
}

/// The literal as a runtime `Literal`.
fn literal(lit: &Lit) -> TokenStream {
    match lit {
        Lit::Str(s) => quote!(__sg::Literal::Str(#s)),
        Lit::Bool(b) => quote!(__sg::Literal::Bool(#b)),
        Lit::Int(i) => quote!(__sg::Literal::Int(#i)),
        _ => quote!(__sg::Literal::Bool(false)),
    }
}

/// `__sg::Rules { .. }` for the item's `…Meta`.
pub(crate) fn meta(common: &Common, callable: &Callable<'_>) -> TokenStream {
    let any: Vec<&String> = common.access.any.iter().map(|s| &s.value).collect();
    let may: Vec<&String> = common.rules.may_require.iter().map(|s| &s.value).collect();
    let when_scopes = common.rules.when.iter().map(|c| &c.scope.value);
    let demands: Vec<&String> = any
        .iter()
        .copied()
        .chain(when_scopes)
        .chain(may.iter().copied())
        .collect();
    let when = clauses(common, callable).map(|(_, clause, _, ty)| {
        let argument = clause.argument.unraw().to_string();
        let scope = &clause.scope.value;
        match &clause.literal {
            None => quote! {
                __sg::When {
                    argument: #argument,
                    equals: ::core::option::Option::None,
                    scope: #scope,
                    fits: __sg::no_literal,
                }
            },
            Some(lit) => {
                let literal = literal(lit);
                quote! {
                    __sg::When {
                        argument: #argument,
                        equals: ::core::option::Option::Some(#literal),
                        scope: #scope,
                        fits: <#ty as __sg::WhenValue>::literal_fits,
                    }
                }
            }
        }
    });
    let downstream = &common.downstream;
    quote! {
        __sg::Rules {
            any_scopes: &[#(#any),*],
            when: &[#(#when),*],
            may_require: &[#(#may),*],
            demands: &[#(#demands),*],
            downstream: &[#(#downstream),*],
        }
    }
}

/// The tests the generated extraction runs once every parameter was read (`locals` hold them),
/// recording each clause that matched.
pub(crate) fn tests(common: &Common, callable: &Callable<'_>, locals: &[Ident]) -> TokenStream {
    let tests = clauses(common, callable).map(|(index, clause, param, ty)| {
        let local = &locals[param];
        let test = match &clause.literal {
            None => quote!(<#ty as __sg::WhenFlag>::is_set(&#local)),
            Some(lit) => {
                let literal = literal(lit);
                quote!(<#ty as __sg::WhenValue>::equals_literal(&#local, &#literal))
            }
        };
        quote! {
            if #test {
                __scopegate_parts.when_matched(#index);
            }
        }
    });
    quote!(#(#tests)*)
}

/// The trait checks on each clause's argument, spanned at the argument as written (the same
/// bound the meta and the tests carry, so a failure is reported once).
pub(crate) fn checks(common: &Common, callable: &Callable<'_>) -> TokenStream {
    let checks = clauses(common, callable).map(|(_, clause, _, ty)| {
        let span = clause.argument.span();
        match clause.literal {
            None => quote_spanned!(span=> let _ = <#ty as __sg::WhenFlag>::is_set;),
            Some(_) => quote_spanned!(span=> let _ = <#ty as __sg::WhenValue>::literal_fits;),
        }
    });
    quote!(#(#checks)*)
}

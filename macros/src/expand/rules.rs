//! The scope rules in the expansion: the `Rules` of an item's `…Meta`, the tests the generated
//! extraction runs on the arguments it read (`when` clauses), and the spanned trait checks on
//! the arguments they name.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Ident, Lit, Type};

use crate::model::{Callable, Common, WhenClause};

/// Each `when` clause with the index and type of the parameter it names (the item checks
/// reported any clause that names none, so none is missing here).
fn clauses<'a>(
    common: &'a Common,
    callable: &'a Callable<'_>,
) -> impl Iterator<Item = (u32, &'a WhenClause, usize, &'a Type)> {
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
            Some((u32::try_from(i).ok()?, clause, param, &p.ty))
        })
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
                        fits: __sg::literal_fits::<#ty>,
                    }
                }
            }
        }
    });
    quote! {
        __sg::Rules {
            any_scopes: &[#(#any),*],
            when: &[#(#when),*],
            may_require: &[#(#may),*],
            demands: &[#(#demands),*],
        }
    }
}

/// The tests the generated extraction runs once every parameter was read (`locals` hold them),
/// recording each clause that matched.
pub(crate) fn tests(common: &Common, callable: &Callable<'_>, locals: &[Ident]) -> TokenStream {
    let tests = clauses(common, callable).map(|(index, clause, param, ty)| {
        let local = &locals[param];
        let test = match &clause.literal {
            None => quote!(__sg::when_flag::<#ty>(&#local)),
            Some(lit) => {
                let literal = literal(lit);
                quote!(__sg::when_equals::<#ty>(&#local, &#literal))
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

/// The trait checks on each clause's argument, spanned at the argument as written.
pub(crate) fn checks(common: &Common, callable: &Callable<'_>) -> TokenStream {
    let checks = clauses(common, callable).map(|(_, clause, _, ty)| {
        let span = clause.argument.span();
        let check = match clause.literal {
            None => format_ident!("assert_when_flag", span = span),
            Some(_) => format_ident!("assert_when_value", span = span),
        };
        quote_spanned!(span=> __sg::#check::<#ty>();)
    });
    quote!(#(#checks)*)
}

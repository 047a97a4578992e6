//! Rules on an item's `when(..)` clauses, which need the handler's parameters: the argument
//! exists, and a literal is of the kind a primitive argument's type can equal. Whether a bare
//! clause's argument is a `bool`, and whether another's type can be compared, the expansion
//! asks the trait system (`WhenFlag`, `WhenValue`), at the argument.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{GenericArgument, Lit, PathArguments, Type};

use crate::errors::Errors;
use crate::model::{Callable, Common, WhenClause};

/// The kinds of value a `when` literal can be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Int,
    Bool,
    /// A float takes an integer literal.
    Float,
}

/// Rule: a `when` clause names one of the handler's parameters, and compares a primitive one
/// (`bool`, an integer, a float, `String`/`&str`/`char`, or an `Option` of one) with a
/// literal of its kind.
pub(crate) fn check_when(common: &Common, callable: &Callable<'_>, errors: &mut Errors) {
    for clause in &common.rules.when {
        let WhenClause {
            argument, literal, ..
        } = clause;
        let name = argument.unraw().to_string();
        let Some(param) = callable.params.iter().find(|p| p.name == name) else {
            let names: Vec<String> = callable
                .params
                .iter()
                .map(|p| format!("`{}`", p.name))
                .collect();
            let known = if names.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("its parameters are {}", names.join(", "))
            };
            errors.at(
                argument,
                format!(
                    "`when` names `{name}`, which is not a parameter of `{}`; {known}",
                    callable.function.sig.ident.unraw()
                ),
            );
            continue;
        };
        let (Some(literal), Some(expected)) = (literal, primitive(&param.ty)) else {
            continue;
        };
        let given = match literal {
            Lit::Str(_) => Kind::Str,
            Lit::Int(_) => Kind::Int,
            Lit::Bool(_) => Kind::Bool,
            _ => continue,
        };
        if given == expected || (given == Kind::Int && expected == Kind::Float) {
            continue;
        }
        let hint = match expected {
            Kind::Bool => format!(
                "write `when({name} => \"scope\")` to test it, or compare it with `true` or `false`"
            ),
            Kind::Int | Kind::Float => "compare it with a number".to_owned(),
            Kind::Str => "compare it with a string literal".to_owned(),
        };
        errors.at(
            literal,
            format!(
                "`{name}` is a `{}`, which never equals this literal; {hint}",
                param.ty.to_token_stream().to_string().replace(' ', "")
            ),
        );
    }
}

/// The kind of a primitive type as written (through `Option<..>` and references); `None` for
/// any other type, whose literals the server's build checks instead.
fn primitive(ty: &Type) -> Option<Kind> {
    match ty {
        Type::Reference(reference) => primitive(&reference.elem),
        Type::Paren(inner) => primitive(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let ident = last.ident.to_string();
            if ident == "Option" {
                let PathArguments::AngleBracketed(args) = &last.arguments else {
                    return None;
                };
                return match args.args.first()? {
                    GenericArgument::Type(inner) => primitive(inner),
                    _ => None,
                };
            }
            if !last.arguments.is_empty() {
                return None;
            }
            match ident.as_str() {
                "bool" => Some(Kind::Bool),
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64"
                | "u128" | "usize" => Some(Kind::Int),
                "f32" | "f64" => Some(Kind::Float),
                "String" | "str" | "char" => Some(Kind::Str),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_kinds_are_read_through_options_and_references() {
        let kind = |ty: syn::Type| primitive(&ty);
        assert_eq!(kind(syn::parse_quote!(bool)), Some(Kind::Bool));
        assert_eq!(kind(syn::parse_quote!(Option<u32>)), Some(Kind::Int));
        assert_eq!(kind(syn::parse_quote!(&'static str)), Some(Kind::Str));
        assert_eq!(
            kind(syn::parse_quote!(std::option::Option<f64>)),
            Some(Kind::Float)
        );
        assert_eq!(kind(syn::parse_quote!(Visibility)), None);
        assert_eq!(kind(syn::parse_quote!(Vec<bool>)), None);
    }
}

//! Parsing the handler's parameters: each one's JSON name, description, completion and header, read
//! from its pattern and its `#[arg(...)]` / doc attributes, which are then stripped (the
//! compiler would reject them on the emitted function).

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Attribute, FnArg, ItemFn, LitStr, Pat, Path, Token, Type};

use crate::check::lit;
use crate::doc::doc_text;
use crate::errors::Errors;
use crate::keys::{self, Seen};
use crate::model::Param;

/// What `#[arg(...)]` and the doc attributes say about one parameter.
#[derive(Default)]
struct ArgAttr {
    description: Option<String>,
    rename: Option<LitStr>,
    complete: Option<Path>,
    header: Option<LitStr>,
}

/// Reads the parameters and strips the attributes only this macro understands.
pub(crate) fn params(function: &mut ItemFn, errors: &mut Errors) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &mut function.sig.inputs {
        let pat_type = match input {
            FnArg::Receiver(receiver) => {
                errors.at(
                    &*receiver,
                    "tools are free functions: `self` is not supported; take the server's data as a `State<T>` parameter",
                );
                continue;
            }
            FnArg::Typed(pat_type) => pat_type,
        };
        // Rule: `#[cfg]` would remove a parameter after this macro has counted it.
        if let Some(cfg) = pat_type
            .attrs
            .iter()
            .find(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        {
            errors.at(
                cfg,
                "`#[cfg]` on a tool parameter is not supported: the input schema is fixed at compile time; make the whole tool conditional instead",
            );
        }
        let ArgAttr {
            description,
            rename,
            complete,
            header,
        } = arg_attr(&mut pat_type.attrs, errors);
        let (name, name_tokens) = match &*pat_type.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => match rename {
                Some(lit) => (lit.value(), lit.to_token_stream()),
                None => (
                    ident.ident.unraw().to_string(),
                    ident.ident.to_token_stream(),
                ),
            },
            other => {
                errors.at(
                    other,
                    "tool parameters must be plain identifiers: the name is the JSON argument's key",
                );
                continue;
            }
        };
        match &*pat_type.ty {
            Type::ImplTrait(ty) => errors.at(
                ty,
                "`impl Trait` parameters make the tool generic; name a concrete type",
            ),
            // Rule: arguments are deserialized into owned values; a borrow has nothing to borrow.
            Type::Reference(ty) => errors.at(
                ty,
                "tool parameters are owned values: take `String` instead of `&str` (or `T` instead of `&T`)",
            ),
            _ => {}
        }
        // Rule: two parameters cannot read the same JSON key.
        if params.iter().any(|p: &Param| p.name == name) {
            errors.at(
                &name_tokens,
                format!("two parameters use the argument name `{name}`; rename one with `#[arg(rename = \"...\")]`"),
            );
        }
        params.push(Param {
            name,
            description,
            complete,
            header,
            ty: (*pat_type.ty).clone(),
        });
    }
    params
}

/// `#[arg(description = "..", rename = "..", complete = path, header = "..")]` and doc attributes on a
/// parameter; strips both.
fn arg_attr(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> ArgAttr {
    let mut arg = ArgAttr {
        description: doc_text(attrs),
        ..ArgAttr::default()
    };
    for a in attrs.iter().filter(|a| a.path().is_ident("arg")) {
        let mut seen = Seen::default();
        let result = a.parse_args_with(|input: ParseStream<'_>| {
            keys::parse_entries(input, errors, |input, errors| {
                let key = keys::key(input)?;
                seen.first(&key)?;
                match key.to_string().as_str() {
                    "description" => arg.description = Some(keys::string_value(input)?.value()),
                    "rename" => arg.rename = Some(keys::string_value(input)?),
                    "complete" => {
                        input.parse::<Token![=]>()?;
                        arg.complete = Some(input.parse::<Path>()?);
                    }
                    "header" => {
                        let name = keys::string_value(input)?;
                        // An invalid name is reported here, at its literal, and kept out of the
                        // model so the later rules do not report it again.
                        match lit::param_header(&name.value()) {
                            Ok(()) => arg.header = Some(name),
                            Err(message) => errors.at(&name, message),
                        }
                    }
                    _ => {
                        return Err(keys::unknown_key(
                            &key,
                            &["description", "rename", "complete", "header"],
                        ));
                    }
                }
                Ok(())
            })
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    attrs.retain(|a| !a.path().is_ident("arg") && !a.path().is_ident("doc"));
    arg
}

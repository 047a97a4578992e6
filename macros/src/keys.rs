//! Reading `key = value` lists, shared by every attribute: keys, values, a key given twice, and
//! recovery after a bad entry so later keys are still checked.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Error, Ident, LitBool, LitStr, Token};

use crate::errors::Errors;

/// The keys one attribute has seen, to reject a key given twice.
#[derive(Default)]
pub(crate) struct Seen(Vec<String>);

impl Seen {
    /// Records `key`; errors if it was already given.
    pub(crate) fn first(&mut self, key: &Ident) -> Result<(), Error> {
        let name = key.unraw().to_string();
        if self.0.contains(&name) {
            return Err(Error::new(
                key.span(),
                format!("`{name}` is given more than once"),
            ));
        }
        self.0.push(name);
        Ok(())
    }
}

/// Reads a key: an identifier or the keyword `crate`.
pub(crate) fn key(input: ParseStream<'_>) -> syn::Result<Ident> {
    input.call(Ident::parse_any)
}

/// The error for a key the attribute does not know.
pub(crate) fn unknown_key(key: &Ident, expected: &[&str]) -> Error {
    let list = expected
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Error::new(
        key.span(),
        format!("unknown key `{}`; expected one of {list}", key.unraw()),
    )
}

/// `= "text"`.
pub(crate) fn string_value(input: ParseStream<'_>) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// A flag, optionally with `= true` / `= false`.
pub(crate) fn flag_value(input: ParseStream<'_>) -> syn::Result<bool> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(input.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

/// Skips to the next top-level `,` after an error, so later keys are still checked.
fn skip_to_comma(input: ParseStream<'_>) {
    while !input.is_empty() && !input.peek(Token![,]) {
        let _ = input.parse::<proc_macro2::TokenTree>();
    }
}

/// Parses `,`-separated entries with `entry`, collecting their errors.
pub(crate) fn parse_entries(
    input: ParseStream<'_>,
    errors: &mut Errors,
    mut entry: impl FnMut(ParseStream<'_>, &mut Errors) -> syn::Result<()>,
) -> syn::Result<()> {
    while !input.is_empty() {
        if let Err(error) = entry(input, errors) {
            errors.push(error);
            skip_to_comma(input);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

//! Pieces shared by the attribute parsers: error collection, key bookkeeping, doc comments.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{Attribute, Error, Expr, ExprLit, Ident, Lit, LitBool, LitStr, Meta, Token};

/// Collects every error so the user sees them all at once (serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> Result<(), Error> {
        self.0.map_or(Ok(()), Err)
    }
}

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
pub(crate) fn skip_to_comma(input: ParseStream<'_>) {
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

/// The text of the `///` comments and `#[doc = "..."]` attributes, trimmed, or `None`.
pub(crate) fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `Some(x)` / `None` as tokens.
pub(crate) fn option<T: ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote::quote!(::core::option::Option::Some(#v)),
        None => quote::quote!(::core::option::Option::None),
    }
}

/// Prints an expansion to stderr when `SCOPEGATE_MACROS_DEBUG` is set (like `AXUM_MACROS_DEBUG`).
pub(crate) fn debug_print(what: &str, tokens: &TokenStream) {
    if debug_enabled(std::env::var_os("SCOPEGATE_MACROS_DEBUG").as_deref()) {
        eprintln!("{}", debug_text(what, tokens));
    }
}

/// Any value but empty or `0` turns printing on.
fn debug_enabled(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

fn debug_text(what: &str, tokens: &TokenStream) -> String {
    format!("// ---- scopegate: {what} ----\n{tokens}\n")
}

/// A span for errors about an attribute as a whole.
pub(crate) fn call_site() -> Span {
    Span::call_site()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_printing_is_opt_in_and_shows_the_expansion() {
        assert!(!debug_enabled(None));
        assert!(!debug_enabled(Some("".as_ref())));
        assert!(!debug_enabled(Some("0".as_ref())));
        assert!(debug_enabled(Some("1".as_ref())));
        let text = debug_text(
            "#[mcp_tool] f",
            &quote::quote!(
                struct f {}
            ),
        );
        assert!(
            text.contains("#[mcp_tool] f") && text.contains("struct f"),
            "{text}"
        );
    }

    #[test]
    fn doc_text_joins_lines_and_trims() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[doc = " First line."]),
            syn::parse_quote!(#[allow(dead_code)]),
            syn::parse_quote!(#[doc = "  indented"]),
            syn::parse_quote!(#[doc = ""]),
        ];
        assert_eq!(doc_text(&attrs).as_deref(), Some("First line.\n indented"));
        assert_eq!(doc_text(&[]), None);
    }
}

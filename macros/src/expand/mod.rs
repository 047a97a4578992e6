//! The pipelines, parse -> model -> validate -> expand (thiserror's `expand.rs`): one for the
//! three attribute macros, one for the derive. Both always emit the user's code, plus either the
//! expansion or every error at once (and, for the derive, a fallback impl so one mistake is the
//! only error reported).

mod callable;
mod prompt;
mod resource;
mod rules;
mod server;
mod tokens;
mod tool;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{DeriveInput, ItemFn};

use crate::attr::ItemAttr;
use crate::check;
use crate::debug::debug_print;
use crate::errors::Errors;
use crate::model::{Callable, Item, Kind};
use crate::params::params;
use crate::server::{ServerAttr, state_fields};

/// `#[mcp_tool]`, `#[mcp_resource]`, `#[mcp_prompt]`: always returns the user's function, plus
/// the item or the errors.
pub(crate) fn attribute(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let mut errors = Errors::default();
    let attr =
        match (|input: ParseStream<'_>| ItemAttr::parse(input, &mut errors, kind)).parse2(args) {
            Ok(attr) => attr,
            Err(error) => {
                errors.push(error);
                ItemAttr::default()
            }
        };
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let first = item.clone().into_iter().next();
            let error = syn::Error::new(
                first.map_or_else(Span::call_site, |t| t.span()),
                format!(
                    "{} goes on a free function (`fn` or `async fn`)",
                    kind.attribute()
                ),
            );
            let compile_error = error.to_compile_error();
            return quote!(#item #compile_error);
        }
    };
    let params = params(&mut function, &mut errors);
    let model = attr.into_item(
        kind,
        Callable {
            function: &function,
            params,
        },
    );
    check::item::all(&model, &mut errors);

    let output = match errors.finish() {
        Ok(()) => {
            let expanded = match &model {
                Item::Tool(tool) => tool::expand(tool),
                Item::Resource(resource) => resource::expand(resource),
                Item::Prompt(prompt) => prompt::expand(prompt),
            };
            quote!(#function #expanded)
        }
        Err(error) => {
            let compile_error = error.to_compile_error();
            quote!(#function #compile_error)
        }
    };
    debug_print(
        &format!("{} {}", kind.attribute(), function.sig.ident),
        &output,
    );
    output
}

/// `#[derive(McpServer)]`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let server = ServerAttr::from_attrs(&input.attrs, &mut errors);
    check::server::check_not_generic(&input, &mut errors);
    check::server::check_not_union(&input, &mut errors);
    let closure = check::server::check_implies(&server, &mut errors);
    let state = state_fields(&input, &mut errors);
    let output = match errors.finish() {
        Ok(()) => server::expand(&input, &server, &closure, &state),
        Err(error) => {
            let compile_error = error.to_compile_error();
            let fallback = server::fallback(&input, &server);
            quote!(#compile_error #fallback)
        }
    };
    debug_print(&format!("#[derive(McpServer)] {}", input.ident), &output);
    output
}

//! `#[derive(McpServer)]`'s expansion: the `McpServer` impl with its `const` tables (tools,
//! resources, prompts, the sorted distinct scope list, the closed hierarchy, the downstream
//! APIs), `FromRef` for the
//! state fields, and the cross-tool rules as spanned `const` evaluations. After an error, a
//! [`fallback`] impl instead.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

use crate::expand::tokens;
use crate::model::ScopeLit;
use crate::server::{Closure, ServerAttr, StateField};

/// After an error: an empty `McpServer` impl, so the one mistake is the only error reported
/// (thiserror's `fallback.rs`). Generic types get none: their error stands alone anyway.
pub(crate) fn fallback(input: &DeriveInput, server: &ServerAttr) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let krate = tokens::krate(server.krate.as_ref());
    let ident = &input.ident;
    quote! {
        const _: () = {
            use #krate::__private as __sg;
            #[automatically_derived]
            impl __sg::McpServer for #ident {
                const INFO: __sg::ServerInfo = __sg::ServerInfo {
                    name: "",
                    version: "",
                    title: ::core::option::Option::None,
                    instructions: ::core::option::Option::None,
                };
                const TOOLS: &'static [__sg::ToolDef<Self>] = &[];
                const SCOPES: &'static [&'static str] = &[];
                const IMPLICATIONS: &'static [__sg::Implication] = &[];
            }
        };
    }
}

pub(crate) fn expand(
    input: &DeriveInput,
    server: &ServerAttr,
    closure: &Closure,
    state: &[StateField],
) -> TokenStream {
    let krate = tokens::krate(server.krate.as_ref());
    let ident = &input.ident;
    let name = server
        .name
        .as_ref()
        .map_or_else(|| quote!(::core::env!("CARGO_PKG_NAME")), |n| quote!(#n));
    let version = server
        .version
        .as_ref()
        .map_or_else(|| quote!(::core::env!("CARGO_PKG_VERSION")), |v| quote!(#v));
    let title = tokens::option(server.title.as_ref());
    let instructions = tokens::option(server.instructions.as_ref());
    let tools = &server.tools;
    let vocabulary: Vec<&String> = server
        .vocabulary
        .iter()
        .flatten()
        .map(|s| &s.value)
        .collect();
    let hierarchy_scopes: BTreeSet<&String> = closure
        .iter()
        .flat_map(|(broad, narrower)| std::iter::once(broad).chain(narrower))
        .collect();
    let hierarchy_scopes = hierarchy_scopes.into_iter();
    let implications = closure.iter().map(|(broad, narrower)| {
        let narrower = narrower.iter();
        quote!(__sg::Implication { scope: #broad, implies: &[#(#narrower),*] })
    });

    let resources = &server.resources;
    let prompts = &server.prompts;
    let tool_meta = |path: &Path| quote!(<#path as __sg::Tool<#ident>>::DEF.meta);
    let resource_meta = |path: &Path| quote!(<#path as __sg::Resource<#ident>>::DEF.meta);
    let prompt_meta = |path: &Path| quote!(<#path as __sg::Prompt<#ident>>::DEF.meta);
    let metas: Vec<TokenStream> = tools
        .iter()
        .map(tool_meta)
        .chain(resources.iter().map(resource_meta))
        .chain(prompts.iter().map(prompt_meta))
        .collect();
    // Every scope an item names: the fixed ones, and those its rules can demand (any-of,
    // `when`, `may_require`), so all of them are in the table and `scopes_supported`.
    let item_scopes: Vec<TokenStream> = metas
        .iter()
        .flat_map(|meta| [quote!(#meta.scopes), quote!(#meta.rules.demands)])
        .collect();
    // Every downstream API an item names: the table a provider's exchange policy is made from.
    let item_downstream = metas.iter().map(|meta| quote!(#meta.rules.downstream));
    let resource_checks = taken_before_checks(
        resources,
        "resource `{}` has the same URI as an earlier resource in `resources(...)`",
        "uri_taken_before",
        "__SCOPEGATE_RESOURCE_METAS",
    );
    let prompt_checks = taken_before_checks(
        prompts,
        "prompt `{}` has the same name as an earlier prompt in `prompts(...)`; set another `name = \"...\"` on one of them",
        "prompt_taken_before",
        "__SCOPEGATE_PROMPT_METAS",
    );
    let name_checks = taken_before_checks(
        tools,
        "tool `{}` has the same MCP name as an earlier tool in `tools(...)`; set another `name = \"...\"` on one of them",
        "name_taken_before",
        "__SCOPEGATE_METAS",
    );
    let vocabulary_checks = server
        .vocabulary
        .as_ref()
        .map(|_| {
            let items = tools
                .iter()
                .map(|p| ("tool", p, tool_meta(p)))
                .chain(resources.iter().map(|p| ("resource", p, resource_meta(p))))
                .chain(prompts.iter().map(|p| ("prompt", p, prompt_meta(p))));
            items.map(|(noun, path, meta)| {
            let item = quote!(#path).to_string().replace(' ', "");
            // The key that names the scope, since the message cannot name the scope itself.
            let message = |names: &str| {
                format!("{noun} `{item}` {names} that is not declared in this server's `scopes(...)`")
            };
            let fixed = message("requires a scope");
            let any = message("names a scope in `any_scope`");
            let may = message("names a scope in `may_require`");
            // `demands` is `any_scope`, then the `when` scopes, then `may_require`.
            let when = message("names a scope in a `when(..)` clause");
            quote_spanned! {path.span()=>
                const _: () = if !__sg::all_in(#meta.scopes, &[#(#vocabulary),*]) {
                    ::core::panic!(#fixed)
                } else if !__sg::all_in(#meta.rules.any_scopes, &[#(#vocabulary),*]) {
                    ::core::panic!(#any)
                } else if !__sg::all_in(#meta.rules.may_require, &[#(#vocabulary),*]) {
                    ::core::panic!(#may)
                } else if !__sg::all_in(#meta.rules.demands, &[#(#vocabulary),*]) {
                    ::core::panic!(#when)
                };
            }
        }).collect::<Vec<_>>()
        })
        .unwrap_or_default();
    // Without a vocabulary, a narrower scope in `implies` must be one some tool requires: a scope
    // nothing requires is most likely misspelt.
    let implies_checks = if server.vocabulary.is_none() {
        server
            .implies
            .iter()
            .flat_map(|rule| &rule.narrower)
            .map(|ScopeLit { lit, value }| {
                let message = format!(
                    "`implies` names `{value}`, which no tool, resource or prompt requires; declare the server's scopes with `scopes(...)` if it is meant"
                );
                quote_spanned! {lit.span()=>
                    const _: () = if !__sg::some_list_contains(__SCOPEGATE_REQUIRED, #value) {
                        ::core::panic!(#message)
                    };
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    // Spanned at the field's type: a type that is not `Clone` is reported at the field.
    let from_ref = state.iter().map(|StateField { member, ty }| {
        quote_spanned! {ty.span()=>
            #[automatically_derived]
            impl __sg::FromRef<#ident> for #ty {
                fn from_ref(server: &#ident) -> Self {
                    ::core::clone::Clone::clone(&server.#member)
                }
            }
        }
    });

    quote! {
        const _: () = {
            use #krate::__private as __sg;

            #[automatically_derived]
            impl __sg::McpServer for #ident {
                const INFO: __sg::ServerInfo = __sg::ServerInfo {
                    name: #name,
                    version: #version,
                    title: #title,
                    instructions: #instructions,
                };
                const TOOLS: &'static [__sg::ToolDef<Self>] = &[#(<#tools as __sg::Tool<Self>>::DEF),*];
                const RESOURCES: &'static [__sg::ResourceDef<Self>] = &[#(<#resources as __sg::Resource<Self>>::DEF),*];
                const PROMPTS: &'static [__sg::PromptDef<Self>] = &[#(<#prompts as __sg::Prompt<Self>>::DEF),*];
                const SCOPES: &'static [&'static str] = &__SCOPEGATE_SCOPES;
                const IMPLICATIONS: &'static [__sg::Implication] = &[#(#implications),*];
                const DOWNSTREAM: &'static [&'static str] = &__SCOPEGATE_DOWNSTREAM;
            }

            const __SCOPEGATE_METAS: &[__sg::ToolMeta] = &[#(<#tools as __sg::Tool<#ident>>::DEF.meta),*];
            const __SCOPEGATE_RESOURCE_METAS: &[__sg::ResourceMeta] = &[#(<#resources as __sg::Resource<#ident>>::DEF.meta),*];
            const __SCOPEGATE_PROMPT_METAS: &[__sg::PromptMeta] = &[#(<#prompts as __sg::Prompt<#ident>>::DEF.meta),*];
            const __SCOPEGATE_REQUIRED: &[&[&str]] = &[#(#item_scopes),*];
            const __SCOPEGATE_LISTS: &[&[&str]] = &[
                #(#item_scopes,)*
                &[#(#vocabulary),*],
                &[#(#hierarchy_scopes),*],
            ];
            const __SCOPEGATE_ALL: usize = __sg::total_len(__SCOPEGATE_LISTS);
            const __SCOPEGATE_SORTED: [&str; __SCOPEGATE_ALL] =
                __sg::concat_sorted::<__SCOPEGATE_ALL>(__SCOPEGATE_LISTS);
            const __SCOPEGATE_DISTINCT: usize = __sg::count_distinct(&__SCOPEGATE_SORTED);
            const __SCOPEGATE_SCOPES: [&str; __SCOPEGATE_DISTINCT] =
                __sg::distinct::<__SCOPEGATE_DISTINCT>(&__SCOPEGATE_SORTED);
            const __SCOPEGATE_DOWNSTREAM_LISTS: &[&[&str]] = &[#(#item_downstream),*];
            const __SCOPEGATE_DOWNSTREAM_ALL: usize = __sg::total_len(__SCOPEGATE_DOWNSTREAM_LISTS);
            const __SCOPEGATE_DOWNSTREAM_SORTED: [&str; __SCOPEGATE_DOWNSTREAM_ALL] =
                __sg::concat_sorted::<__SCOPEGATE_DOWNSTREAM_ALL>(__SCOPEGATE_DOWNSTREAM_LISTS);
            const __SCOPEGATE_DOWNSTREAM_DISTINCT: usize =
                __sg::count_distinct(&__SCOPEGATE_DOWNSTREAM_SORTED);
            const __SCOPEGATE_DOWNSTREAM: [&str; __SCOPEGATE_DOWNSTREAM_DISTINCT] =
                __sg::distinct::<__SCOPEGATE_DOWNSTREAM_DISTINCT>(&__SCOPEGATE_DOWNSTREAM_SORTED);

            #(#name_checks)*
            #(#resource_checks)*
            #(#prompt_checks)*
            #(#vocabulary_checks)*
            #(#implies_checks)*
            #(#from_ref)*
        };
    }
}

/// For each listed item, a `const` that fails the build, pointing at the item's path, when the
/// const fn `check` finds an earlier item of `metas` with the same name; `message` names the
/// item where it holds `{}`. Every token carries the path's span, as if written at it.
fn taken_before_checks<'a>(
    paths: &'a [Path],
    message: &'static str,
    check: &'static str,
    metas: &'static str,
) -> impl Iterator<Item = TokenStream> + 'a {
    paths.iter().enumerate().map(move |(index, path)| {
        let message = message.replacen("{}", &quote!(#path).to_string().replace(' ', ""), 1);
        let check = syn::Ident::new(check, path.span());
        let metas = syn::Ident::new(metas, path.span());
        quote_spanned! {path.span()=>
            const _: () = if __sg::#check(#metas, #index) {
                ::core::panic!(#message)
            };
        }
    })
}

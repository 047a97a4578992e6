//! `#[derive(McpServer)]`: parse `#[mcp(...)]`, validate, expand into `const` tables.
//!
//! The tools' names and scopes live in other macros' output, so the checks that span tools
//! (unique names, scopes inside the declared vocabulary) are `const` evaluations the expansion
//! spans at the offending path in `tools(...)`.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Ident, LitStr, Path, Token, bracketed, parenthesized};

use crate::attr::{self, Errors, Seen};
use crate::check::{self, ScopeLit};

const KEYS: &[&str] = &[
    "name",
    "version",
    "title",
    "instructions",
    "tools",
    "resources",
    "prompts",
    "scopes",
    "implies",
    "crate",
];

/// One `implies` entry.
struct Rule {
    broad: ScopeLit,
    narrower: Vec<ScopeLit>,
}

#[derive(Default)]
struct ServerAttr {
    name: Option<LitStr>,
    version: Option<LitStr>,
    title: Option<LitStr>,
    instructions: Option<LitStr>,
    tools: Vec<Path>,
    resources: Vec<Path>,
    prompts: Vec<Path>,
    /// The declared vocabulary, when `scopes(...)` is given.
    vocabulary: Option<Vec<ScopeLit>>,
    /// `implies("broad" => ["narrow", ...])`, in source order.
    implies: Vec<Rule>,
    krate: Option<Path>,
}

impl ServerAttr {
    fn parse_into(
        &mut self,
        input: ParseStream<'_>,
        seen: &mut Seen,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        attr::parse_entries(input, errors, |input, errors| {
            let key = attr::key(input)?;
            let name = key.unraw().to_string();
            if !KEYS.contains(&name.as_str()) {
                return Err(attr::unknown_key(&key, KEYS));
            }
            seen.first(&key)?;
            match name.as_str() {
                "name" => self.name = Some(attr::string_value(input)?),
                "version" => self.version = Some(attr::string_value(input)?),
                "title" => self.title = Some(attr::string_value(input)?),
                "instructions" => self.instructions = Some(attr::string_value(input)?),
                "crate" => {
                    input.parse::<Token![=]>()?;
                    self.krate = Some(input.call(Path::parse_mod_style)?);
                }
                list @ ("tools" | "resources" | "prompts") => {
                    let content;
                    parenthesized!(content in input);
                    let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
                    let target = match list {
                        "tools" => &mut self.tools,
                        "resources" => &mut self.resources,
                        _ => &mut self.prompts,
                    };
                    for path in paths {
                        let text = quote!(#path).to_string();
                        if target.iter().any(|p| quote!(#p).to_string() == text) {
                            errors.at(&path, format!("`{text}` is listed twice in `{list}(...)`"));
                        } else {
                            target.push(path);
                        }
                    }
                }
                "scopes" => {
                    let content;
                    parenthesized!(content in input);
                    let mut vocabulary = Vec::new();
                    for lit in Punctuated::<LitStr, Token![,]>::parse_terminated(&content)? {
                        match check::scope(&lit) {
                            Ok(scope)
                                if vocabulary.iter().any(|s: &ScopeLit| s.value == scope.value) =>
                            {
                                errors
                                    .at(&lit, format!("scope `{}` is declared twice", scope.value));
                            }
                            Ok(scope) => vocabulary.push(scope),
                            Err(error) => errors.push(error),
                        }
                    }
                    self.vocabulary = Some(vocabulary);
                }
                "implies" => {
                    let content;
                    parenthesized!(content in input);
                    attr::parse_entries(&content, errors, |input, errors| {
                        let broad: LitStr = input.parse()?;
                        input.parse::<Token![=>]>()?;
                        let list;
                        bracketed!(list in input);
                        let narrow = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?;
                        let broad = check::scope(&broad)?;
                        if self.implies.iter().any(|r| r.broad.value == broad.value) {
                            return Err(syn::Error::new(
                                broad.lit.span(),
                                format!(
                                    "`{}` already has an `implies` rule; merge the two lists",
                                    broad.value
                                ),
                            ));
                        }
                        let mut narrower = Vec::new();
                        for lit in narrow {
                            match check::scope(&lit) {
                                Ok(scope) => narrower.push(scope),
                                Err(error) => errors.push(error),
                            }
                        }
                        self.implies.push(Rule { broad, narrower });
                        Ok(())
                    })?;
                }
                _ => unreachable!("every key in KEYS is handled"),
            }
            Ok(())
        })
    }
}

/// The hierarchy closed under transitivity: broad scope -> every scope it satisfies.
type Closure = BTreeMap<String, BTreeSet<String>>;

/// Rules on the scope hierarchy: every scope in it is known (declared when a vocabulary exists),
/// and no scope implies itself through any chain (a cycle makes two scopes one, which is a bug).
fn check_implies(server: &ServerAttr, errors: &mut Errors) -> Closure {
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

/// Fields marked `#[mcp(state)]`: the derive implements `FromRef<Server>` for their types.
fn state_fields(input: &DeriveInput, errors: &mut Errors) -> Vec<(TokenStream, syn::Type)> {
    let Data::Struct(data) = &input.data else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, field) in data.fields.iter().enumerate() {
        for a in field.attrs.iter().filter(|a| a.path().is_ident("mcp")) {
            let result = a.parse_args_with(|input: ParseStream<'_>| {
                let key: Ident = input.parse()?;
                if key != "state" {
                    return Err(attr::unknown_key(&key, &["state"]));
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    // Rule: one `FromRef` impl per type, so a type can be state only once.
                    let text = field.ty.to_token_stream().to_string();
                    if out.iter().any(|(_, t): &(TokenStream, syn::Type)| {
                        t.to_token_stream().to_string() == text
                    }) {
                        errors.at(
                            &field.ty,
                            format!("another `#[mcp(state)]` field already has type `{}`; wrap one of them in a newtype so `State<T>` can tell them apart", text.replace(' ', "")),
                        );
                        continue;
                    }
                    let member = match &field.ident {
                        Some(ident) => quote!(#ident),
                        None => {
                            let index = syn::Index::from(index);
                            quote!(#index)
                        }
                    };
                    out.push((member, field.ty.clone()));
                }
                Err(error) => errors.push(error),
            }
        }
    }
    out
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let mut server = ServerAttr::default();
    let mut seen = Seen::default();
    for a in input.attrs.iter().filter(|a| a.path().is_ident("mcp")) {
        if let Err(error) =
            a.parse_args_with(|p: ParseStream<'_>| server.parse_into(p, &mut seen, &mut errors))
        {
            errors.push(error);
        }
    }
    if !input.generics.params.is_empty() {
        errors.at(
            &input.generics,
            "an MCP server type cannot be generic: its tool and scope tables are `const`",
        );
    }
    if let Data::Union(u) = &input.data {
        errors.at(u.union_token, "an MCP server must be a struct or an enum");
    }
    let closure = check_implies(&server, &mut errors);
    let state = state_fields(&input, &mut errors);
    let output = match errors.finish() {
        Ok(()) => generate(&input, &server, &closure, &state),
        Err(error) => {
            let compile_error = error.to_compile_error();
            let fallback = fallback(&input, &server);
            quote!(#compile_error #fallback)
        }
    };
    attr::debug_print(&format!("#[derive(McpServer)] {}", input.ident), &output);
    output
}

/// After an error: an empty `McpServer` impl, so the one mistake is the only error reported
/// (thiserror's `fallback.rs`). Generic types get none: their error stands alone anyway.
fn fallback(input: &DeriveInput, server: &ServerAttr) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let krate = server
        .krate
        .clone()
        .map_or_else(|| quote!(::scopegate), |path| quote!(#path));
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

fn generate(
    input: &DeriveInput,
    server: &ServerAttr,
    closure: &Closure,
    state: &[(TokenStream, syn::Type)],
) -> TokenStream {
    let krate = server
        .krate
        .clone()
        .map_or_else(|| quote!(::scopegate), |path| quote!(#path));
    let ident = &input.ident;
    let name = server
        .name
        .as_ref()
        .map_or_else(|| quote!(::core::env!("CARGO_PKG_NAME")), |n| quote!(#n));
    let version = server
        .version
        .as_ref()
        .map_or_else(|| quote!(::core::env!("CARGO_PKG_VERSION")), |v| quote!(#v));
    let title = attr::option(server.title.as_ref());
    let instructions = attr::option(server.instructions.as_ref());
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
    let item_scopes: Vec<TokenStream> = tools
        .iter()
        .map(|p| {
            let meta = tool_meta(p);
            quote!(#meta.scopes)
        })
        .chain(resources.iter().map(|p| {
            let meta = resource_meta(p);
            quote!(#meta.scopes)
        }))
        .chain(prompts.iter().map(|p| {
            let meta = prompt_meta(p);
            quote!(#meta.scopes)
        }))
        .collect();
    let resource_checks = resources.iter().enumerate().map(|(index, path)| {
        let message = format!(
            "resource `{}` has the same URI as an earlier resource in `resources(...)`",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned! {path.span()=>
            const _: () = if __sg::uri_taken_before(__SCOPEGATE_RESOURCE_METAS, #index) {
                ::core::panic!(#message)
            };
        }
    });
    let prompt_checks = prompts.iter().enumerate().map(|(index, path)| {
        let message = format!(
            "prompt `{}` has the same name as an earlier prompt in `prompts(...)`; set another `name = \"...\"` on one of them",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned! {path.span()=>
            const _: () = if __sg::prompt_taken_before(__SCOPEGATE_PROMPT_METAS, #index) {
                ::core::panic!(#message)
            };
        }
    });
    let name_checks = tools.iter().enumerate().map(|(index, path)| {
        let message = format!(
            "tool `{}` has the same MCP name as an earlier tool in `tools(...)`; set another `name = \"...\"` on one of them",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned! {path.span()=>
            const _: () = if __sg::name_taken_before(__SCOPEGATE_METAS, #index) {
                ::core::panic!(#message)
            };
        }
    });
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
            let message = format!(
                "{noun} `{}` requires a scope that is not declared in this server's `scopes(...)`",
                quote!(#path).to_string().replace(' ', "")
            );
            quote_spanned! {path.span()=>
                const _: () = if !__sg::all_in(#meta.scopes, &[#(#vocabulary),*]) {
                    ::core::panic!(#message)
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
    let from_ref = state.iter().map(|(member, ty)| {
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

            #(#name_checks)*
            #(#resource_checks)*
            #(#prompt_checks)*
            #(#vocabulary_checks)*
            #(#implies_checks)*
            #(#from_ref)*
        };
    }
}

//! `#[mcp_tool]`, `#[mcp_resource]` and `#[mcp_prompt]`: parse the attribute and the function,
//! validate, expand. The three share everything but a few keys and the traits they implement.
//!
//! The function is emitted unchanged (minus the parameter attributes only this macro reads),
//! followed by a braced struct of the same name in the type namespace that implements the
//! kind's `…Info` and `Tool<S>`/`Resource<S>`/`Prompt<S>` traits, so `tools(name)` in the derive
//! finds it by ordinary name lookup.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Token, Type, bracketed};

use crate::attr::{self, Errors, Seen};
use crate::check::{self, ScopeLit};

/// Which attribute macro is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Kind {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Tool => &[
                "scope",
                "scopes",
                "public",
                "name",
                "title",
                "description",
                "read_only",
                "destructive",
                "idempotent",
                "open_world",
                "crate",
            ],
            Self::Resource => &[
                "uri",
                "scope",
                "scopes",
                "public",
                "name",
                "title",
                "description",
                "mime_type",
                "crate",
            ],
            Self::Prompt => &[
                "scope",
                "scopes",
                "public",
                "name",
                "title",
                "description",
                "crate",
            ],
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Self::Tool => "#[mcp_tool]",
            Self::Resource => "#[mcp_resource]",
            Self::Prompt => "#[mcp_prompt]",
        }
    }
}

/// What the attribute says.
#[derive(Default)]
struct ToolAttr {
    /// `scope = ".."` or `scopes = [..]`.
    scopes: Vec<ScopeLit>,
    scope_key: Option<Ident>,
    public: Option<Ident>,
    name: Option<LitStr>,
    title: Option<LitStr>,
    description: Option<LitStr>,
    hints: [Option<bool>; 4],
    krate: Option<Path>,
    /// Resources: `uri = ".."` (static or RFC 6570 template) and `mime_type = ".."`.
    uri: Option<LitStr>,
    mime_type: Option<LitStr>,
}

impl ToolAttr {
    fn parse(input: ParseStream<'_>, errors: &mut Errors, kind: Kind) -> syn::Result<Self> {
        let mut attr = Self::default();
        let mut seen = Seen::default();
        attr::parse_entries(input, errors, |input, errors| {
            let key = attr::key(input)?;
            let name = key.unraw().to_string();
            if !kind.keys().contains(&name.as_str()) {
                return Err(attr::unknown_key(&key, kind.keys()));
            }
            seen.first(&key)?;
            match name.as_str() {
                "scope" | "scopes" => {
                    if let Some(other) = &attr.scope_key {
                        errors.at(
                            &key,
                            format!("`{name}` conflicts with `{other}`: give the required scopes once, as `scopes = [\"a\", \"b\"]`"),
                        );
                    }
                    let lits = if name == "scope" {
                        vec![attr::string_value(input)?]
                    } else {
                        input.parse::<Token![=]>()?;
                        let content;
                        let brackets = bracketed!(content in input);
                        let lits = content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
                        if lits.is_empty() {
                            errors.push(syn::Error::new(brackets.span.join(), format!("`scopes` must name at least one scope; write `public` for a {} anyone may call", kind.noun())));
                        }
                        lits.into_iter().collect()
                    };
                    for lit in lits {
                        match check::scope(&lit) {
                            Ok(scope) if attr.scopes.iter().any(|s| s.value == scope.value) => {
                                errors.at(&lit, format!("scope `{}` is listed twice", scope.value));
                            }
                            Ok(scope) => attr.scopes.push(scope),
                            Err(error) => errors.push(error),
                        }
                    }
                    attr.scope_key = Some(key);
                }
                "public" => attr.public = Some(key),
                "name" => {
                    let lit = attr::string_value(input)?;
                    if let Err(message) = check::tool_name(&lit.value()) {
                        errors.at(&lit, message);
                    }
                    attr.name = Some(lit);
                }
                "title" => attr.title = Some(attr::string_value(input)?),
                "description" => attr.description = Some(attr::string_value(input)?),
                "uri" => attr.uri = Some(attr::string_value(input)?),
                "mime_type" => attr.mime_type = Some(attr::string_value(input)?),
                "crate" => {
                    input.parse::<Token![=]>()?;
                    attr.krate = Some(input.call(Path::parse_mod_style)?);
                }
                hint => {
                    let index = ["read_only", "destructive", "idempotent", "open_world"]
                        .iter()
                        .position(|h| *h == hint)
                        .expect("every other key is handled above");
                    attr.hints[index] = Some(attr::flag_value(input)?);
                }
            }
            Ok(())
        })?;
        if let (Some(public), Some(scope)) = (&attr.public, &attr.scope_key) {
            errors.at(
                public,
                format!(
                    "`public` contradicts `{scope}`: a {} either requires scopes or is public",
                    kind.noun()
                ),
            );
        }
        Ok(attr)
    }
}

/// One parameter of the tool function.
struct Param {
    /// The JSON argument name (the identifier, or `#[arg(rename = "..")]`).
    name: String,
    description: Option<String>,
    /// `#[arg(complete = path)]`: suggestions for `completion/complete`.
    complete: Option<Path>,
    ty: Type,
}

/// Entry point: always returns the user's function, plus the tool or the errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let mut errors = Errors::default();
    let attr =
        match (|input: ParseStream<'_>| ToolAttr::parse(input, &mut errors, kind)).parse2(args) {
            Ok(attr) => attr,
            Err(error) => {
                errors.push(error);
                ToolAttr::default()
            }
        };
    let mut function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let first = item.clone().into_iter().next();
            let error = syn::Error::new(
                first.map_or_else(attr::call_site, |t| t.span()),
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
    validate(&attr, &function, &params, kind, &mut errors);

    let output = match errors.finish() {
        Ok(()) => {
            let tool = generate(&attr, &function, &params, kind);
            quote!(#function #tool)
        }
        Err(error) => {
            let compile_error = error.to_compile_error();
            quote!(#function #compile_error)
        }
    };
    attr::debug_print(
        &format!("{} {}", kind.attribute(), function.sig.ident),
        &output,
    );
    output
}

/// Reads the parameters and strips the attributes only this macro understands.
fn params(function: &mut ItemFn, errors: &mut Errors) -> Vec<Param> {
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
        let (description, rename, complete) = param_attrs(&mut pat_type.attrs, errors);
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
            ty: (*pat_type.ty).clone(),
        });
    }
    params
}

/// `#[arg(description = "..", rename = "..")]` and doc attributes on a parameter.
fn param_attrs(
    attrs: &mut Vec<Attribute>,
    errors: &mut Errors,
) -> (Option<String>, Option<LitStr>, Option<Path>) {
    let mut description = attr::doc_text(attrs);
    let mut rename = None;
    let mut complete = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("arg")) {
        let mut seen = Seen::default();
        let result = a.parse_args_with(|input: ParseStream<'_>| {
            attr::parse_entries(input, errors, |input, _| {
                let key = attr::key(input)?;
                seen.first(&key)?;
                match key.to_string().as_str() {
                    "description" => description = Some(attr::string_value(input)?.value()),
                    "rename" => rename = Some(attr::string_value(input)?),
                    "complete" => {
                        input.parse::<Token![=]>()?;
                        complete = Some(input.parse::<Path>()?);
                    }
                    _ => {
                        return Err(attr::unknown_key(
                            &key,
                            &["description", "rename", "complete"],
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
    (description, rename, complete)
}

/// Rules that need the whole function.
fn validate(attr: &ToolAttr, function: &ItemFn, params: &[Param], kind: Kind, errors: &mut Errors) {
    let sig = &function.sig;
    let noun = kind.noun();
    // Rule: every tool, resource and prompt states its scopes or says `public` out loud (fail
    // closed).
    if attr.scope_key.is_none() && attr.public.is_none() {
        errors.push(syn::Error::new(
            sig.ident.span(),
            format!(
                "{noun} `{}` declares no scope: add `scope = \"...\"` or `scopes = [\"...\"]`, or `public` if anyone may call it",
                sig.ident.unraw()
            ),
        ));
    }
    // Rule: handlers are not generic; schemas and tables are fixed at compile time.
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!(
                "a {noun} cannot be generic: its schema and scopes must be known at compile time"
            ),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(unsafety, format!("a {noun} cannot be an `unsafe fn`"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, format!("a {noun} cannot be variadic"));
    }
    // Rule: a name given from the function's identifier follows the same rules as `name = ".."`.
    if kind != Kind::Resource
        && attr.name.is_none()
        && let Err(message) = check::tool_name(&sig.ident.unraw().to_string())
    {
        errors.at(&sig.ident, format!("{message}; set `name = \"...\"`"));
    }
    if kind == Kind::Resource {
        match &attr.uri {
            None => errors.push(syn::Error::new(
                sig.ident.span(),
                format!("resource `{}` has no `uri = \"...\"` (a URI, or an RFC 6570 template such as `notes://note/{{id}}`)", sig.ident.unraw()),
            )),
            Some(uri) => match check::uri_template(&uri.value()) {
                Err(message) => errors.at(uri, message),
                // Rule: every template variable fills a parameter of the same name.
                Ok(variables) => {
                    for variable in variables {
                        if !params.iter().any(|p| p.name == variable) {
                            errors.at(uri, format!("template variable `{variable}` has no parameter of that name"));
                        }
                    }
                }
            },
        }
    }
}

fn generate(attr: &ToolAttr, function: &ItemFn, params: &[Param], kind: Kind) -> TokenStream {
    let krate = attr
        .krate
        .clone()
        .map_or_else(|| quote!(::scopegate), |path| quote!(#path));
    let sig = &function.sig;
    let vis = &function.vis;
    let ident = &sig.ident;
    let name = attr
        .name
        .as_ref()
        .map_or_else(|| sig.ident.unraw().to_string(), LitStr::value);
    let description = attr
        .description
        .as_ref()
        .map(LitStr::value)
        .or_else(|| attr::doc_text(&function.attrs));
    let title = attr::option(attr.title.as_ref());
    let description = attr::option(description);
    let scopes = attr.scopes.iter().map(|s| &s.value);

    let tys: Vec<&Type> = params.iter().map(|p| &p.ty).collect();
    let names: Vec<&String> = params.iter().map(|p| &p.name).collect();
    let descriptions = params.iter().map(|p| attr::option(p.description.as_ref()));
    let completes = params.iter().map(|p| {
        attr::option(p.complete.as_ref().map(|path| {
            quote_spanned!(path.span()=> #path as fn(&str) -> ::std::vec::Vec<::std::string::String>)
        }))
    });
    let locals: Vec<Ident> = (0..params.len())
        .map(|i| format_ident!("__scopegate_arg{}", i))
        .collect();
    let ret: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let await_ = sig.asyncness.map(|_| quote!(.await));

    // What differs between the kinds: the traits, the descriptor, and the return conversion.
    let (info_trait, def_trait, meta_type, def_type, future_type, into_output, assert_return) =
        match kind {
            Kind::Tool => (
                quote!(ToolInfo),
                quote!(Tool),
                quote!(ToolMeta),
                quote!(ToolDef),
                quote!(ToolFuture),
                quote!(<#ret as __sg::IntoToolResult>::into_tool_result),
                quote!(assert_return),
            ),
            Kind::Resource => (
                quote!(ResourceInfo),
                quote!(Resource),
                quote!(ResourceMeta),
                quote!(ResourceDef),
                quote!(HandlerFuture<__sg::ResourceOutput>),
                quote!(<#ret as __sg::IntoResourceOutput>::into_resource_output),
                quote!(assert_resource_return),
            ),
            Kind::Prompt => (
                quote!(PromptInfo),
                quote!(Prompt),
                quote!(PromptMeta),
                quote!(PromptDef),
                quote!(HandlerFuture<__sg::PromptOutput>),
                quote!(<#ret as __sg::IntoPromptOutput>::into_prompt_output),
                quote!(assert_prompt_return),
            ),
        };
    let meta_fields = match kind {
        Kind::Tool => {
            let [read_only, destructive, idempotent, open_world] =
                attr.hints.map(|h| attr::option(h.map(|b| quote!(#b))));
            quote! {
                name: #name,
                title: #title,
                description: #description,
                scopes: &[#(#scopes),*],
                annotations: __sg::ToolAnnotations {
                    read_only: #read_only,
                    destructive: #destructive,
                    idempotent: #idempotent,
                    open_world: #open_world,
                },
            }
        }
        Kind::Resource => {
            let uri = attr.uri.as_ref().map(LitStr::value).unwrap_or_default();
            let template = uri.contains('{');
            let mime_type = attr::option(attr.mime_type.as_ref());
            quote! {
                name: #name,
                title: #title,
                description: #description,
                uri: #uri,
                template: #template,
                mime_type: #mime_type,
                scopes: &[#(#scopes),*],
            }
        }
        Kind::Prompt => quote! {
            name: #name,
            title: #title,
            description: #description,
            scopes: &[#(#scopes),*],
        },
    };
    let handler_field = match kind {
        Kind::Tool => {
            let output_schema =
                quote_spanned!(ret.span()=> <#ret as __sg::IntoToolResult>::output_schema);
            quote!(output_schema: #output_schema, call: __scopegate_call::<__S>,)
        }
        Kind::Resource => quote!(read: __scopegate_call::<__S>,),
        Kind::Prompt => quote!(get: __scopegate_call::<__S>,),
    };

    // Each check is spanned at the user's own token, so a bad type is reported where it is written.
    let param_checks = tys
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> __sg::assert_param::<#ty>();));
    let return_check = quote_spanned!(ret.span()=> __sg::#assert_return::<#ret>(););
    // Spanned at the return type, so a type that cannot be a result is reported there once
    // (rustc merges identical errors at one span).
    let into_output = quote_spanned!(ret.span()=> #into_output);
    // Spanned at the function's name: a non-`Send` future is reported at the handler.
    let new_future = quote_spanned!(ident.span()=> __sg::HandlerFuture::new);
    let call_body = if params.is_empty() {
        quote! {
            if !__scopegate_parts.is_clean() {
                return __scopegate_parts.rejected();
            }
            #new_future(async move {
                #into_output(#ident() #await_)
            })
        }
    } else {
        quote! {
            #(
                let #locals = <#tys as __sg::ToolParam<__S>>::extract(__scopegate_parts, #names);
            )*
            match (#(#locals,)*) {
                (#(::core::option::Option::Some(#locals),)*) if __scopegate_parts.is_clean() => #new_future(async move {
                    #into_output(#ident(#(#locals),*) #await_)
                }),
                _ => __scopegate_parts.rejected(),
            }
        }
    };

    let list = format!("{}s(...)", kind.noun());
    let doc = format!(
        "The MCP {} `{name}`, served by `#[derive(McpServer)]`'s `{list}`.",
        kind.noun()
    );
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        const _: () = {
            use #krate::__private as __sg;

            #[automatically_derived]
            impl __sg::#info_trait for #ident {
                const META: __sg::#meta_type = __sg::#meta_type {
                    #meta_fields
                };
            }

            #[automatically_derived]
            impl<__S> __sg::#def_trait<__S> for #ident
            where
                __S: ::core::marker::Send + ::core::marker::Sync + 'static,
                #(#tys: __sg::ToolParam<__S>,)*
            {
                const DEF: __sg::#def_type<__S> = __sg::#def_type {
                    meta: <#ident as __sg::#info_trait>::META,
                    params: &[#(
                        __sg::ParamDef {
                            name: #names,
                            description: #descriptions,
                            schema: <#tys as __sg::ToolParam<__S>>::schema,
                            complete: #completes,
                        },
                    )*],
                    #handler_field
                };
            }

            fn __scopegate_call<__S>(
                __scopegate_parts: &mut __sg::CallParts<'_, __S>,
            ) -> __sg::#future_type
            where
                __S: ::core::marker::Send + ::core::marker::Sync + 'static,
                #(#tys: __sg::ToolParam<__S>,)*
            {
                #call_body
            }

            const _: () = {
                #(#param_checks)*
                #return_check
            };
        };
    }
}

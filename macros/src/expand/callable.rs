//! What the three attribute macros emit alike: a braced struct named after the function, its
//! `…Info` and `Tool<S>`/`Resource<S>`/`Prompt<S>` impls, the `__scopegate_call` adapter that
//! extracts the parameters and runs the handler, and the spanned compile-time checks. A [`Shape`]
//! names what differs between the kinds.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitStr, ReturnType, Type};

use crate::doc::doc_text;
use crate::expand::{rules, tokens};
use crate::model::{Callable, Common, Kind};

/// What one kind's expansion puts into the shared skeleton.
pub(crate) struct Shape {
    pub(crate) kind: Kind,
    /// The `…Info` trait, its `…Meta` type, and the fields of its `META`.
    pub(crate) info_trait: TokenStream,
    pub(crate) meta_type: TokenStream,
    pub(crate) meta_fields: TokenStream,
    /// The `Tool<S>`-like trait, its `…Def<S>` type, and the handler field(s) of its `DEF`.
    pub(crate) def_trait: TokenStream,
    pub(crate) def_type: TokenStream,
    pub(crate) handler_field: TokenStream,
    /// The future `__scopegate_call` returns.
    pub(crate) future_type: TokenStream,
    /// The function that turns the handler's return value into the kind's output.
    pub(crate) into_output: TokenStream,
    /// The `__private` function that asserts, at compile time, the return type is an output.
    pub(crate) assert_return: TokenStream,
}

/// What every kind's `…Meta` says, as tokens.
pub(crate) struct Described<'a> {
    /// The MCP name: `name = ".."`, or the function's.
    pub(crate) name: String,
    pub(crate) title: TokenStream,
    /// `description = ".."`, or the doc comment.
    pub(crate) description: TokenStream,
    pub(crate) scopes: Vec<&'a String>,
    /// The `__sg::Rules` of its scope rules.
    pub(crate) rules: TokenStream,
}

/// The names, title, description and scopes of an item.
pub(crate) fn describe<'a>(common: &'a Common, callable: &Callable<'_>) -> Described<'a> {
    let function = callable.function;
    let name = common
        .name
        .as_ref()
        .map_or_else(|| function.sig.ident.unraw().to_string(), LitStr::value);
    let description = common
        .description
        .as_ref()
        .map(LitStr::value)
        .or_else(|| doc_text(&function.attrs));
    Described {
        name,
        title: tokens::option(common.title.as_ref()),
        description: tokens::option(description),
        scopes: common.access.scopes.iter().map(|s| &s.value).collect(),
        rules: rules::meta(common, callable),
    }
}

/// The handler's return type, `()` when it names none.
pub(crate) fn return_type(function: &ItemFn) -> Type {
    match &function.sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    }
}

/// The hidden struct, its impls, the call adapter and the checks.
pub(crate) fn expand(
    common: &Common,
    callable: &Callable<'_>,
    ret: &Type,
    name: &str,
    shape: Shape,
) -> TokenStream {
    let Shape {
        kind,
        info_trait,
        meta_type,
        meta_fields,
        def_trait,
        def_type,
        handler_field,
        future_type,
        into_output,
        assert_return,
    } = shape;
    let krate = tokens::krate(common.krate.as_ref());
    let Callable { function, params } = callable;
    let sig = &function.sig;
    let vis = &function.vis;
    let ident = &sig.ident;

    let tys: Vec<&Type> = params.iter().map(|p| &p.ty).collect();
    let names: Vec<&String> = params.iter().map(|p| &p.name).collect();
    let descriptions = params
        .iter()
        .map(|p| tokens::option(p.description.as_ref()));
    let completes = params.iter().map(|p| {
        tokens::option(p.complete.as_ref().map(|path| {
            quote_spanned!(path.span()=> #path as fn(&str) -> ::std::vec::Vec<::std::string::String>)
        }))
    });
    let headers = params
        .iter()
        .map(|p| tokens::option(p.header.as_ref().map(LitStr::value)));
    let locals: Vec<Ident> = (0..params.len())
        .map(|i| format_ident!("__scopegate_arg{}", i))
        .collect();
    let await_ = sig.asyncness.map(|_| quote!(.await));
    let when_tests = rules::tests(common, callable, &locals);
    let when_checks = rules::checks(common, callable);

    // Each check is spanned at the user's own token, so a bad type is reported where it is written.
    let param_checks = tys
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> __sg::assert_param::<#ty>();));
    // A mirrored argument's type must be one a header can carry (SEP-2243: string, integer or
    // boolean), reported at the type.
    let header_checks = params.iter().filter(|p| p.header.is_some()).map(|p| {
        let ty = &p.ty;
        quote_spanned!(ty.span()=> __sg::assert_header_param::<#ty>();)
    });
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
                (#(::core::option::Option::Some(#locals),)*) if __scopegate_parts.is_clean() => {
                    #when_tests
                    #new_future(async move {
                        #into_output(#ident(#(#locals),*) #await_)
                    })
                }
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
                            header: #headers,
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
                #(#header_checks)*
                #when_checks
                #return_check
            };
        };
    }
}

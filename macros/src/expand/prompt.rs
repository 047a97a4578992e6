//! `#[mcp_prompt]`'s expansion: `PromptInfo` (name, scopes) and `Prompt<S>` (the get adapter).

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::callable::{self, Described, Shape};
use crate::model::{Kind, PromptItem};

pub(crate) fn expand(item: &PromptItem<'_>) -> TokenStream {
    let PromptItem { common, callable } = item;
    let ret = callable::return_type(callable.function);
    let Described {
        name,
        title,
        description,
        scopes,
        rules,
    } = callable::describe(common, callable);
    let meta_fields = quote! {
        name: #name,
        title: #title,
        description: #description,
        scopes: &[#(#scopes),*],
        rules: #rules,
    };
    let shape = Shape {
        kind: Kind::Prompt,
        info_trait: quote!(PromptInfo),
        meta_type: quote!(PromptMeta),
        meta_fields,
        def_trait: quote!(Prompt),
        def_type: quote!(PromptDef),
        handler_field: quote!(get: __scopegate_call::<__S>,),
        future_type: quote!(HandlerFuture<__sg::PromptOutput>),
        into_output: quote!(<#ret as __sg::IntoPromptOutput>::into_prompt_output),
        assert_return: quote!(assert_prompt_return),
    };
    callable::expand(common, callable, &ret, &name, shape)
}

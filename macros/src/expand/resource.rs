//! `#[mcp_resource]`'s expansion: `ResourceInfo` (name, URI or template, MIME type, scopes) and
//! `Resource<S>` (the read adapter).

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate::expand::callable::{self, Described, Shape};
use crate::expand::tokens;
use crate::model::{Kind, ResourceItem};

pub(crate) fn expand(item: &ResourceItem<'_>) -> TokenStream {
    let ResourceItem {
        common,
        uri,
        mime_type,
        callable,
    } = item;
    let ret = callable::return_type(callable.function);
    let Described {
        name,
        title,
        description,
        scopes,
        rules,
    } = callable::describe(common, callable);
    let uri = uri.as_ref().map(LitStr::value).unwrap_or_default();
    let template = uri.contains('{');
    let mime_type = tokens::option(mime_type.as_ref());
    let meta_fields = quote! {
        name: #name,
        title: #title,
        description: #description,
        uri: #uri,
        template: #template,
        mime_type: #mime_type,
        scopes: &[#(#scopes),*],
        rules: #rules,
    };
    let shape = Shape {
        kind: Kind::Resource,
        info_trait: quote!(ResourceInfo),
        meta_type: quote!(ResourceMeta),
        meta_fields,
        def_trait: quote!(Resource),
        def_type: quote!(ResourceDef),
        handler_field: quote!(read: __scopegate_call::<__S>,),
        future_type: quote!(HandlerFuture<__sg::ResourceOutput>),
        into_output: quote!(<#ret as __sg::IntoResourceOutput>::into_resource_output),
        assert_return: quote!(assert_resource_return),
    };
    callable::expand(common, callable, &ret, &name, shape)
}

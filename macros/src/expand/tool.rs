//! `#[mcp_tool]`'s expansion: `ToolInfo` (name, scopes, behaviour hints) and `Tool<S>` (the
//! output schema and the call adapter).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::expand::callable::{self, Described, Shape};
use crate::expand::tokens;
use crate::model::{Hints, Kind, TaskMode, ToolItem};

pub(crate) fn expand(item: &ToolItem<'_>) -> TokenStream {
    let ToolItem {
        common,
        hints,
        quota,
        task,
        extend_schema,
        callable,
    } = item;
    let quota = tokens::option(quota.map(
        |(calls, per_seconds)| quote!(__sg::ToolQuota { calls: #calls, per_seconds: #per_seconds }),
    ));
    let extend_schema = tokens::option(
        extend_schema
            .as_ref()
            .map(|path| quote_spanned!(path.span()=> #path as fn() -> __sg::serde_json::Value)),
    );
    let task = match task {
        TaskMode::Never => quote!(Never),
        TaskMode::Optional => quote!(Optional),
        TaskMode::Required => quote!(Required),
    };
    let ret = callable::return_type(callable.function);
    let Described {
        name,
        title,
        description,
        scopes,
        rules,
    } = callable::describe(common, callable);
    let Hints {
        read_only,
        destructive,
        idempotent,
        open_world,
    } = *hints;
    let [read_only, destructive, idempotent, open_world] =
        [read_only, destructive, idempotent, open_world]
            .map(|h| tokens::option(h.map(|b| quote!(#b))));
    let meta_fields = quote! {
        name: #name,
        title: #title,
        description: #description,
        scopes: &[#(#scopes),*],
        rules: #rules,
        quota: #quota,
        annotations: __sg::ToolAnnotations {
            read_only: #read_only,
            destructive: #destructive,
            idempotent: #idempotent,
            open_world: #open_world,
        },
        task: __sg::TaskSupport::#task,
        extend_schema: #extend_schema,
    };
    let output_schema = quote_spanned!(ret.span()=> <#ret as __sg::IntoToolResult>::output_schema);
    let shape = Shape {
        kind: Kind::Tool,
        info_trait: quote!(ToolInfo),
        meta_type: quote!(ToolMeta),
        meta_fields,
        def_trait: quote!(Tool),
        def_type: quote!(ToolDef),
        handler_field: quote!(output_schema: #output_schema, call: __scopegate_call::<__S>,),
        future_type: quote!(ToolFuture),
        into_output: quote!(<#ret as __sg::IntoToolResult>::into_tool_result),
        assert_return: quote!(assert_return),
    };
    callable::expand(common, callable, &ret, &name, shape)
}

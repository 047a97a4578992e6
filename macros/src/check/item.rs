//! Rules that need a whole `#[mcp_tool]`, `#[mcp_resource]` or `#[mcp_prompt]` item: the
//! attribute and the function together. [`all`] runs them in the order their errors are reported.

use syn::Signature;
use syn::ext::IdentExt;

use crate::check::lit;
use crate::errors::Errors;
use crate::model::{Callable, Common, Item, Kind, Param, ResourceItem};

/// Every rule, in order; the errors are collected, not returned at the first.
pub(crate) fn all(item: &Item<'_>, errors: &mut Errors) {
    let kind = item.kind();
    let common = item.common();
    let sig = &item.callable().function.sig;
    check_declares_access(common, sig, kind, errors);
    check_not_generic(sig, kind, errors);
    check_not_unsafe(sig, kind, errors);
    check_not_variadic(sig, kind, errors);
    if kind != Kind::Resource {
        check_default_name(common, sig, errors);
    }
    if let Item::Resource(resource) = item {
        check_resource_uri(resource, errors);
    }
    check_param_headers(&item.callable().params, kind, errors);
    crate::check::rules::check_when(common, item.callable(), errors);
}

/// Rule: only a tool's arguments are mirrored into `Mcp-Param-{Name}` headers (SEP-2243 defines
/// them for `tools/call`), and within one tool header names are unique case-insensitively (HTTP
/// field names are case-insensitive, so two would be one header). The name's syntax is checked
/// while parsing, and the type's by `assert_header_param` in the expansion.
fn check_param_headers(params: &[Param], kind: Kind, errors: &mut Errors) {
    for (index, param) in params.iter().enumerate() {
        let Some(header) = &param.header else {
            continue;
        };
        if kind != Kind::Tool {
            errors.at(
                header,
                format!(
                    "only tool arguments can be mirrored into `Mcp-Param-*` headers, not a {}'s",
                    kind.noun()
                ),
            );
            continue;
        }
        let name = header.value();
        if let Some(first) = params[..index]
            .iter()
            .filter_map(|p| p.header.as_ref())
            .find(|h| h.value().eq_ignore_ascii_case(&name))
        {
            errors.at(
                header,
                format!(
                    "header name `{name}` is already used by this tool as `{}`: `Mcp-Param-*` names are case-insensitive and must be unique within a tool",
                    first.value()
                ),
            );
        }
    }
}

/// Rule: every tool, resource and prompt states its scopes or says `public` out loud (fail
/// closed).
fn check_declares_access(common: &Common, sig: &Signature, kind: Kind, errors: &mut Errors) {
    let access = &common.access;
    if access.scope_key.is_none() && access.any_key.is_none() && access.public.is_none() {
        errors.push(syn::Error::new(
            sig.ident.span(),
            format!(
                "{} `{}` declares no scope: add `scope = \"...\"`, `scopes = [\"...\"]` or `any_scope = [\"...\"]`, or `public` if anyone may call it",
                kind.noun(),
                sig.ident.unraw()
            ),
        ));
    }
}

/// Rule: handlers are not generic; schemas and tables are fixed at compile time.
fn check_not_generic(sig: &Signature, kind: Kind, errors: &mut Errors) {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!(
                "a {} cannot be generic: its schema and scopes must be known at compile time",
                kind.noun()
            ),
        );
    }
}

/// Rule: a handler is called from safe code, so it cannot be `unsafe`.
fn check_not_unsafe(sig: &Signature, kind: Kind, errors: &mut Errors) {
    if let Some(unsafety) = &sig.unsafety {
        errors.at(
            unsafety,
            format!("a {} cannot be an `unsafe fn`", kind.noun()),
        );
    }
}

/// Rule: a handler has a fixed list of parameters, so it cannot be variadic.
fn check_not_variadic(sig: &Signature, kind: Kind, errors: &mut Errors) {
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, format!("a {} cannot be variadic", kind.noun()));
    }
}

/// Rule: a name given from the function's identifier follows the same rules as `name = ".."`
/// (tools and prompts; a resource's name is free text).
fn check_default_name(common: &Common, sig: &Signature, errors: &mut Errors) {
    if common.name.is_none()
        && let Err(message) = lit::tool_name(&sig.ident.unraw().to_string())
    {
        errors.at(&sig.ident, format!("{message}; set `name = \"...\"`"));
    }
}

/// Rule: a resource has a `uri`, a valid URI or RFC 6570 template, and every template variable
/// fills a parameter of the same name.
fn check_resource_uri(resource: &ResourceItem<'_>, errors: &mut Errors) {
    let Callable { function, params } = &resource.callable;
    let sig = &function.sig;
    match &resource.uri {
        None => errors.push(syn::Error::new(
            sig.ident.span(),
            format!("resource `{}` has no `uri = \"...\"` (a URI, or an RFC 6570 template such as `notes://note/{{id}}`)", sig.ident.unraw()),
        )),
        Some(uri) => match lit::uri_template(&uri.value()) {
            Err(message) => errors.at(uri, message),
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

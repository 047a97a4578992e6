//! Parsing the keys of `#[mcp_tool(...)]`, `#[mcp_resource(...)]` and `#[mcp_prompt(...)]`.
//! Each kind accepts its own keys; a key given twice, `scope` with `scopes`, or `public` with
//! either is an error at the key.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::{LitStr, Path, Token};

use crate::check::lit;
use crate::errors::Errors;
use crate::keys::{self, Seen};
use crate::model::{
    Callable, Common, Hints, Item, Kind, PromptItem, ResourceItem, TaskMode, ToolItem,
};
use crate::rules;

/// What one attribute says, before it meets the function.
#[derive(Default)]
pub(crate) struct ItemAttr {
    pub(crate) common: Common,
    /// Tools only.
    pub(crate) hints: Hints,
    /// Tools only: `task` or `task = "optional" | "required"`.
    pub(crate) task: TaskMode,
    /// Tools only: `extend_schema = path`.
    pub(crate) extend_schema: Option<Path>,
    /// Tools only: `quota = "10/min"`.
    pub(crate) quota: Option<(u32, u32)>,
    /// Resources only: `uri = ".."` (static or RFC 6570 template) and `mime_type = ".."`.
    pub(crate) uri: Option<LitStr>,
    pub(crate) mime_type: Option<LitStr>,
}

impl ItemAttr {
    pub(crate) fn parse(
        input: ParseStream<'_>,
        errors: &mut Errors,
        kind: Kind,
    ) -> syn::Result<Self> {
        let mut attr = Self::default();
        let mut seen = Seen::default();
        keys::parse_entries(input, errors, |input, errors| {
            let key = keys::key(input)?;
            let name = key.unraw().to_string();
            if !kind.keys().contains(&name.as_str()) {
                return Err(keys::unknown_key(&key, kind.keys()));
            }
            // `when` adds up: each clause is a key of its own.
            if name != "when" {
                seen.first(&key)?;
            }
            let common = &mut attr.common;
            match name.as_str() {
                "scope" | "scopes" => {
                    let access = &mut common.access;
                    if let Some(other) = &access.scope_key {
                        errors.at(
                            &key,
                            format!("`{name}` conflicts with `{other}`: give the required scopes once, as `scopes = [\"a\", \"b\"]`"),
                        );
                    }
                    if name == "scope" {
                        let lit = keys::string_value(input)?;
                        match lit::scope(&lit) {
                            Ok(scope) => access.scopes.push(scope),
                            Err(error) => errors.push(error),
                        }
                    } else {
                        let empty = format!("write `public` for a {} anyone may call", kind.noun());
                        access.scopes = rules::scope_list(input, errors, "scopes", &empty)?;
                    }
                    access.scope_key = Some(key);
                }
                "public" => common.access.public = Some(key),
                "any_scope" => {
                    let empty = "list the scopes of which one suffices";
                    common.access.any = rules::scope_list(input, errors, "any_scope", empty)?;
                    common.access.any_key = Some(key);
                }
                "when" => {
                    let clause = rules::when_clause(input)?;
                    if common.rules.when.len() == rules::MAX_RULES {
                        errors.at(&key, format!("at most {} `when` clauses", rules::MAX_RULES));
                    }
                    common.rules.when.push(clause);
                }
                "may_require" => {
                    let empty = "list the scopes the handler may demand";
                    let scopes = rules::scope_list(input, errors, "may_require", empty)?;
                    if scopes.len() > rules::MAX_RULES {
                        errors.at(
                            &key,
                            format!("at most {} scopes in `may_require`", rules::MAX_RULES),
                        );
                    }
                    common.rules.may_require = scopes;
                }
                "downstream" => common.downstream = rules::downstream(input, errors)?,
                "quota" => attr.quota = Some(rules::quota(input, errors)?),
                "name" => {
                    let lit = keys::string_value(input)?;
                    if let Err(message) = lit::tool_name(&lit.value()) {
                        errors.at(&lit, message);
                    }
                    common.name = Some(lit);
                }
                "title" => common.title = Some(keys::string_value(input)?),
                "description" => common.description = Some(keys::string_value(input)?),
                "uri" => attr.uri = Some(keys::string_value(input)?),
                "mime_type" => attr.mime_type = Some(keys::string_value(input)?),
                "crate" => {
                    input.parse::<Token![=]>()?;
                    common.krate = Some(input.call(Path::parse_mod_style)?);
                }
                "read_only" => attr.hints.read_only = Some(keys::flag_value(input)?),
                "destructive" => attr.hints.destructive = Some(keys::flag_value(input)?),
                "idempotent" => attr.hints.idempotent = Some(keys::flag_value(input)?),
                "open_world" => attr.hints.open_world = Some(keys::flag_value(input)?),
                "extend_schema" => {
                    input.parse::<Token![=]>()?;
                    attr.extend_schema = Some(input.parse::<Path>()?);
                }
                "task" => {
                    attr.task = if input.peek(Token![=]) {
                        let lit = keys::string_value(input)?;
                        match lit.value().as_str() {
                            "optional" => TaskMode::Optional,
                            "required" => TaskMode::Required,
                            _ => {
                                errors.at(&lit, "`task` is `task`, `task = \"optional\"` or `task = \"required\"`");
                                TaskMode::Optional
                            }
                        }
                    } else {
                        TaskMode::Optional
                    };
                }
                _ => unreachable!("every key in `Kind::keys` is handled"),
            }
            Ok(())
        })?;
        let access = &attr.common.access;
        if let (Some(public), Some(any)) = (&access.public, &access.any_key) {
            errors.at(
                public,
                format!(
                    "`public` contradicts `{any}`: a {} either requires scopes or is public",
                    kind.noun()
                ),
            );
        }
        if let (Some(public), Some(scope)) = (&access.public, &access.scope_key) {
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

    /// The model of the kind's item; keys the kind does not accept were refused while parsing.
    pub(crate) fn into_item(self, kind: Kind, callable: Callable<'_>) -> Item<'_> {
        let Self {
            common,
            hints,
            task,
            extend_schema,
            quota,
            uri,
            mime_type,
        } = self;
        match kind {
            Kind::Tool => Item::Tool(ToolItem {
                common,
                hints,
                quota,
                task,
                extend_schema,
                callable,
            }),
            Kind::Resource => Item::Resource(ResourceItem {
                common,
                uri,
                mime_type,
                callable,
            }),
            Kind::Prompt => Item::Prompt(PromptItem { common, callable }),
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse::Parser;

    use super::*;

    fn parse(kind: Kind, tokens: proc_macro2::TokenStream) -> (ItemAttr, Result<(), syn::Error>) {
        let mut errors = Errors::default();
        let attr = (|input: ParseStream<'_>| ItemAttr::parse(input, &mut errors, kind))
            .parse2(tokens)
            .expect("the attribute parses");
        (attr, errors.finish())
    }

    #[test]
    fn hints_are_read_into_their_named_fields() {
        let (attr, errors) = parse(
            Kind::Tool,
            quote::quote!(public, destructive = false, open_world),
        );
        assert!(errors.is_ok());
        let Hints {
            read_only,
            destructive,
            idempotent,
            open_world,
        } = attr.hints;
        assert_eq!(
            (read_only, destructive, idempotent, open_world),
            (None, Some(false), None, Some(true))
        );
    }

    #[test]
    fn a_key_of_another_kind_is_refused() {
        let (_, errors) = parse(Kind::Prompt, quote::quote!(public, read_only));
        let message = errors.expect_err("an error").to_string();
        assert!(message.starts_with("unknown key `read_only`"), "{message}");
    }
}

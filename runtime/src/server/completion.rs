//! `completion/complete`: suggestions for a prompt argument or a resource template variable.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::json::raw;
use super::params::parse_params;
use super::registry::Core;
use super::reply::Reply;
use crate::handler::ParamDef;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, RequestId, Response, error_code};

impl Core {
    /// `completion/complete`: suggestions for a prompt argument or a resource template variable,
    /// from `#[arg(complete = f)]`. Completing reveals values, so it needs the target's scopes.
    pub(super) fn complete(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Reply {
        #[derive(Deserialize)]
        struct Reference {
            #[serde(rename = "type")]
            kind: String,
            name: Option<String>,
            uri: Option<String>,
        }
        #[derive(Deserialize)]
        struct Argument {
            name: String,
            value: String,
        }
        #[derive(Deserialize)]
        struct CompleteParams {
            #[serde(rename = "ref")]
            reference: Reference,
            argument: Argument,
        }
        let invalid = |id, message: String| {
            Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ))
        };
        let params: CompleteParams = match parse_params(params) {
            Ok(params) => params,
            Err(error) => return Reply::Response(Response::error(Some(id), error)),
        };
        let (kind, name, scopes, rules, param_defs): (
            &'static str,
            String,
            &'static [&'static str],
            &'static crate::scope::Rules,
            &'static [ParamDef],
        ) = match (
            params.reference.kind.as_str(),
            params.reference.name,
            params.reference.uri,
        ) {
            ("ref/prompt", Some(name), _) => match self.inner.prompt_by_name.get(name.as_str()) {
                Some(&index) => {
                    let (meta, params, _) = &self.inner.prompts[index];
                    ("prompt", name, meta.scopes, &meta.rules, params)
                }
                None => return invalid(id, format!("unknown prompt: {name}")),
            },
            ("ref/resource", _, Some(uri)) => {
                match self
                    .inner
                    .resources
                    .iter()
                    .find(|(meta, _)| meta.uri == uri)
                {
                    Some(&(meta, params)) => ("resource", uri, meta.scopes, &meta.rules, params),
                    None => return invalid(id, format!("unknown resource template: {uri}")),
                }
            }
            _ => {
                return invalid(
                    id,
                    "ref must be ref/prompt with a name or ref/resource with a uri".into(),
                );
            }
        };
        let target = super::authorize::Target {
            kind,
            name: &name,
            scopes,
            rules,
        };
        if let Err(denial) = self.authorize(&id, target, principal) {
            return Reply::Denied(denial);
        }
        let values: Vec<String> = param_defs
            .iter()
            .find(|p| p.name == params.argument.name)
            .and_then(|p| p.complete)
            .map(|complete| complete(&params.argument.value))
            .unwrap_or_default();
        // MCP caps a completion at 100 values; the rest is signalled with hasMore.
        let total = values.len();
        let values: Vec<String> = values.into_iter().take(100).collect();
        let completion = json!({
            "completion": { "values": values, "total": total, "hasMore": total > 100 }
        });
        Reply::Response(Response::result(id, raw(&completion)))
    }
}

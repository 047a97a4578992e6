//! Prompts: `prompts/get` and a prompt's list entry.

use serde_json::value::RawValue;

use super::authorize::Target;
use super::json::raw;
use super::params::NamedParams;
use super::registry::Core;
use super::reply::Reply;
use super::run::run;
use crate::handler::Link;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, ModernParams, RequestId, Response, error_code};

impl Core {
    pub(super) async fn get_prompt(
        &self,
        id: RequestId,
        params: Option<&RawValue>,
        modern: Option<Box<ModernParams>>,
        principal: &Principal,
        link: Link,
    ) -> Reply {
        let (params, index) = match NamedParams::find(
            params,
            modern.and_then(|modern| modern.named),
            &self.inner.prompt_by_name,
            "prompt",
            &id,
        ) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let (meta, _, names) = &self.inner.prompts[index];
        if let Err(denial) = self.authorize(&id, Target::prompt(meta), principal) {
            return Reply::Denied(denial);
        }
        let arguments = params.arguments.unwrap_or_default();
        if let Some(unknown) = arguments.keys().find(|k| !names.contains(k)) {
            return Reply::Response(Response::error(
                Some(id),
                ErrorObject::new(
                    error_code::INVALID_PARAMS,
                    format!("prompt `{}` has no argument `{unknown}`", meta.name),
                ),
            ));
        }
        let handlers = &*self.inner.handlers;
        let Some(output) = run!(
            self,
            id: &id,
            meta: params.meta,
            link: link,
            name: meta.name,
            target: Target::prompt(meta),
            matched: &std::cell::Cell::new(0),
            principal: principal,
            arguments: arguments,
            problems: Vec::new(),
            strings: true,
            detach: None,
            handler: |call| handlers.get_prompt(index, call),
        ) else {
            return Reply::Nothing;
        };
        let output = match output.map_err(|failure| failure.reply(&id)) {
            Err(Ok(reply)) => return reply,
            Err(Err(failure)) => Err(failure),
            Ok(output) => Ok(output),
        };
        let output = output.map_err(|failure| failure.report("prompt", meta.name));
        Reply::Response(match output {
            Ok(Ok(result)) => Response::result(id, raw(&result)),
            Ok(Err(crate::prompt::PromptError::InvalidParams(message))) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INVALID_PARAMS, message),
            ),
            Ok(Err(crate::prompt::PromptError::Failed(message))) | Err(message) => Response::error(
                Some(id),
                ErrorObject::new(error_code::INTERNAL_ERROR, message),
            ),
        })
    }
}

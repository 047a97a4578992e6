//! A list request answered: the page its cursor names, of every entry or of those the caller's
//! scopes allow.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::entries::Access;
use super::options::ListVisibility;
use super::paging::{decode_cursor, list_page, page_count};
use super::params::parse_params;
use super::registry::Core;
use crate::principal::Principal;
use crate::protocol::{ErrorObject, error_code};

impl Core {
    /// The page of a list (`key`: `tools`, `resources`, …) a request's cursor names: from the
    /// pre-built `pages`, or, with [`ListVisibility::Granted`], of only the `entries` the
    /// caller's scopes allow.
    pub(super) fn list_for<'e>(
        &self,
        key: &str,
        pages: &[Box<RawValue>],
        entries: impl Iterator<Item = (Access, &'e RawValue)>,
        params: Option<&RawValue>,
        principal: &Principal,
    ) -> Result<Box<RawValue>, ErrorObject> {
        #[derive(Deserialize)]
        struct ListParams {
            cursor: Option<String>,
        }
        let cursor = parse_params::<ListParams>(params)?.cursor;
        let page_size = self.inner.options.page_size;
        let invalid = || ErrorObject::new(error_code::INVALID_PARAMS, "invalid cursor");
        let page = match &cursor {
            None => 0,
            Some(cursor) => decode_cursor(cursor).ok_or_else(invalid)?,
        };
        match self.inner.options.list_visibility {
            ListVisibility::All => pages.get(page).cloned().ok_or_else(invalid),
            ListVisibility::Granted => {
                let visible: Vec<&RawValue> = entries
                    .filter(|((all, any), _)| {
                        self.inner.scopes.admits(principal.scopes(), all, any)
                    })
                    .map(|(_, json)| json)
                    .collect();
                if page >= page_count(visible.len(), page_size) {
                    return Err(invalid());
                }
                Ok(list_page(key, &visible, page, page_size))
            }
        }
    }
}

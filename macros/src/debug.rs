//! `SCOPEGATE_MACROS_DEBUG`: printing an expansion to stderr (like `AXUM_MACROS_DEBUG`).

use proc_macro2::TokenStream;

/// Prints an expansion to stderr when `SCOPEGATE_MACROS_DEBUG` is set (like `AXUM_MACROS_DEBUG`).
pub(crate) fn debug_print(what: &str, tokens: &TokenStream) {
    if debug_enabled(std::env::var_os("SCOPEGATE_MACROS_DEBUG").as_deref()) {
        eprintln!("{}", debug_text(what, tokens));
    }
}

/// Any value but empty or `0` turns printing on.
fn debug_enabled(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

fn debug_text(what: &str, tokens: &TokenStream) -> String {
    format!("// ---- scopegate: {what} ----\n{tokens}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_printing_is_opt_in_and_shows_the_expansion() {
        assert!(!debug_enabled(None));
        assert!(!debug_enabled(Some("".as_ref())));
        assert!(!debug_enabled(Some("0".as_ref())));
        assert!(debug_enabled(Some("1".as_ref())));
        let text = debug_text(
            "#[mcp_tool] f",
            &quote::quote!(
                struct f {}
            ),
        );
        assert!(
            text.contains("#[mcp_tool] f") && text.contains("struct f"),
            "{text}"
        );
    }
}

//! Small token helpers every expansion uses.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::Path;

/// `Some(x)` / `None` as tokens.
pub(crate) fn option<T: ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// Where `scopegate` is: `crate = path`, or `::scopegate`.
pub(crate) fn krate(path: Option<&Path>) -> TokenStream {
    path.cloned()
        .map_or_else(|| quote!(::scopegate), |path| quote!(#path))
}

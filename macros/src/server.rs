//! `#[derive(McpServer)]`'s parse step and model: the `#[mcp(...)]` keys on the type (name,
//! version, the tool/resource/prompt lists, the scope vocabulary and hierarchy) and the fields
//! marked `#[mcp(state)]`.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Data, DeriveInput, Ident, LitStr, Path, Token, Type, bracketed, parenthesized,
};

use crate::check::lit;
use crate::errors::Errors;
use crate::keys::{self, Seen};
use crate::model::ScopeLit;

const KEYS: &[&str] = &[
    "name",
    "version",
    "title",
    "instructions",
    "tools",
    "resources",
    "prompts",
    "scopes",
    "implies",
    "crate",
];

/// One `implies` entry.
pub(crate) struct Rule {
    pub(crate) broad: ScopeLit,
    pub(crate) narrower: Vec<ScopeLit>,
}

/// The hierarchy closed under transitivity: broad scope -> every scope it satisfies.
pub(crate) type Closure = BTreeMap<String, BTreeSet<String>>;

/// What the `#[mcp(...)]` attributes on the type say (several attributes add up to one).
#[derive(Default)]
pub(crate) struct ServerAttr {
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<LitStr>,
    pub(crate) title: Option<LitStr>,
    pub(crate) instructions: Option<LitStr>,
    pub(crate) tools: Vec<Path>,
    pub(crate) resources: Vec<Path>,
    pub(crate) prompts: Vec<Path>,
    /// The declared vocabulary, when `scopes(...)` is given.
    pub(crate) vocabulary: Option<Vec<ScopeLit>>,
    /// `implies("broad" => ["narrow", ...])`, in source order.
    pub(crate) implies: Vec<Rule>,
    pub(crate) krate: Option<Path>,
}

impl ServerAttr {
    /// Reads every `#[mcp(...)]` on the type; a key may appear once across all of them.
    pub(crate) fn from_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut server = Self::default();
        let mut seen = Seen::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("mcp")) {
            if let Err(error) =
                a.parse_args_with(|p: ParseStream<'_>| server.parse_into(p, &mut seen, errors))
            {
                errors.push(error);
            }
        }
        server
    }

    fn parse_into(
        &mut self,
        input: ParseStream<'_>,
        seen: &mut Seen,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        keys::parse_entries(input, errors, |input, errors| {
            let key = keys::key(input)?;
            let name = key.unraw().to_string();
            if !KEYS.contains(&name.as_str()) {
                return Err(keys::unknown_key(&key, KEYS));
            }
            seen.first(&key)?;
            match name.as_str() {
                "name" => self.name = Some(keys::string_value(input)?),
                "version" => self.version = Some(keys::string_value(input)?),
                "title" => self.title = Some(keys::string_value(input)?),
                "instructions" => self.instructions = Some(keys::string_value(input)?),
                "crate" => {
                    input.parse::<Token![=]>()?;
                    self.krate = Some(input.call(Path::parse_mod_style)?);
                }
                list @ ("tools" | "resources" | "prompts") => {
                    self.parse_list(input, list, errors)?
                }
                "scopes" => self.parse_vocabulary(input, errors)?,
                "implies" => self.parse_implies(input, errors)?,
                _ => unreachable!("every key in KEYS is handled"),
            }
            Ok(())
        })
    }

    /// `tools(a, b::c)`, `resources(...)`, `prompts(...)`: a path listed twice is an error.
    fn parse_list(
        &mut self,
        input: ParseStream<'_>,
        list: &str,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        let content;
        parenthesized!(content in input);
        let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
        let target = match list {
            "tools" => &mut self.tools,
            "resources" => &mut self.resources,
            _ => &mut self.prompts,
        };
        for path in paths {
            let text = quote!(#path).to_string();
            if target.iter().any(|p| quote!(#p).to_string() == text) {
                errors.at(&path, format!("`{text}` is listed twice in `{list}(...)`"));
            } else {
                target.push(path);
            }
        }
        Ok(())
    }

    /// `scopes("a", "b")`: each a valid scope, each once.
    fn parse_vocabulary(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let content;
        parenthesized!(content in input);
        let mut vocabulary = Vec::new();
        for lit in Punctuated::<LitStr, Token![,]>::parse_terminated(&content)? {
            match lit::scope(&lit) {
                Ok(scope) if vocabulary.iter().any(|s: &ScopeLit| s.value == scope.value) => {
                    errors.at(&lit, format!("scope `{}` is declared twice", scope.value));
                }
                Ok(scope) => vocabulary.push(scope),
                Err(error) => errors.push(error),
            }
        }
        self.vocabulary = Some(vocabulary);
        Ok(())
    }

    /// `implies("broad" => ["narrow", ...], ...)`: one rule per broad scope.
    fn parse_implies(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        let content;
        parenthesized!(content in input);
        keys::parse_entries(&content, errors, |input, errors| {
            let broad: LitStr = input.parse()?;
            input.parse::<Token![=>]>()?;
            let list;
            bracketed!(list in input);
            let narrow = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?;
            let broad = lit::scope(&broad)?;
            if self.implies.iter().any(|r| r.broad.value == broad.value) {
                return Err(syn::Error::new(
                    broad.lit.span(),
                    format!(
                        "`{}` already has an `implies` rule; merge the two lists",
                        broad.value
                    ),
                ));
            }
            let mut narrower = Vec::new();
            for lit in narrow {
                match lit::scope(&lit) {
                    Ok(scope) => narrower.push(scope),
                    Err(error) => errors.push(error),
                }
            }
            self.implies.push(Rule { broad, narrower });
            Ok(())
        })
    }
}

/// A field marked `#[mcp(state)]`: the derive implements `FromRef<Server>` for its type.
pub(crate) struct StateField {
    /// The field's name, or its index in a tuple struct.
    pub(crate) member: TokenStream,
    pub(crate) ty: Type,
}

/// The fields marked `#[mcp(state)]`.
pub(crate) fn state_fields(input: &DeriveInput, errors: &mut Errors) -> Vec<StateField> {
    let Data::Struct(data) = &input.data else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, field) in data.fields.iter().enumerate() {
        for a in field.attrs.iter().filter(|a| a.path().is_ident("mcp")) {
            let result = a.parse_args_with(|input: ParseStream<'_>| {
                let key: Ident = input.parse()?;
                if key != "state" {
                    return Err(keys::unknown_key(&key, &["state"]));
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    // Rule: one `FromRef` impl per type, so a type can be state only once.
                    let text = field.ty.to_token_stream().to_string();
                    if out
                        .iter()
                        .any(|s: &StateField| s.ty.to_token_stream().to_string() == text)
                    {
                        errors.at(
                            &field.ty,
                            format!("another `#[mcp(state)]` field already has type `{}`; wrap one of them in a newtype so `State<T>` can tell them apart", text.replace(' ', "")),
                        );
                        continue;
                    }
                    let member = match &field.ident {
                        Some(ident) => quote!(#ident),
                        None => {
                            let index = syn::Index::from(index);
                            quote!(#index)
                        }
                    };
                    out.push(StateField {
                        member,
                        ty: field.ty.clone(),
                    });
                }
                Err(error) => errors.push(error),
            }
        }
    }
    out
}

//! Resources: what `#[mcp_resource]` emits, URI template matching, and the values a resource
//! handler may return.
//!
//! A resource has a static URI (`notes://readme`) or an RFC 6570 template
//! (`notes://note/{id}`); template variables fill the handler's parameters of the same names.
//! Resources are protected by scopes exactly like tools.

use std::fmt;

use crate::handler::{CallParts, HandlerFuture, ParamDef, Rejected};
use crate::protocol::{ResourceContents, base64_encode};

pub use crate::uri::normalize_uri;

/// What `#[mcp_resource]` knows about a resource without knowing the server.
#[derive(Debug, Clone, Copy)]
pub struct ResourceMeta {
    /// The programmatic name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: Option<&'static str>,
    /// The doc comment.
    pub description: Option<&'static str>,
    /// The URI, or the URI template when [`ResourceMeta::template`] is true.
    pub uri: &'static str,
    /// Whether `uri` is an RFC 6570 template.
    pub template: bool,
    /// The MIME type of the contents.
    pub mime_type: Option<&'static str>,
    /// Scopes the caller must hold, all of them. Empty only for resources declared `public`.
    pub scopes: &'static [&'static str],
    /// Scope rules beyond `scopes`: any-of, argument-dependent, demanded at run time.
    pub rules: crate::scope::Rules,
}

/// Everything the server needs to list and read one resource on a server of type `S`.
pub struct ResourceDef<S> {
    /// Name, URI, scopes.
    pub meta: ResourceMeta,
    /// The handler's parameters: template variables and extractors.
    pub params: &'static [ParamDef],
    /// Extracts the parameters and starts the read.
    pub read: fn(&mut CallParts<'_, S>) -> ResourceFuture,
}

impl<S> Clone for ResourceDef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for ResourceDef<S> {}

impl<S> fmt::Debug for ResourceDef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceDef")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// A resource as seen from any server: implemented by the item `#[mcp_resource]` emits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP resource",
    label = "not a resource",
    note = "mark the function with `#[mcp_resource(uri = \"...\", scope = \"...\")]`"
)]
pub trait ResourceInfo {
    /// The resource's static description.
    const META: ResourceMeta;
}

/// A resource readable on a server of type `S`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP resource that `{S}` can serve",
    label = "not a resource of this server",
    note = "a resource is a function marked `#[mcp_resource(uri = \"...\", scope = \"...\")]`",
    note = "its `State<T>` parameters need `T: FromRef<{S}>`"
)]
pub trait Resource<S>: ResourceInfo {
    /// The descriptor for this server type.
    const DEF: ResourceDef<S>;
}

/// What reading a resource produces.
pub type ResourceResult = Result<Vec<ResourceContents>, ResourceError>;

/// The pending result of a resource read. The URI and MIME type are filled in by the server.
pub type ResourceFuture = HandlerFuture<ResourceOutput>;

/// A handler's output before the server knows the URI it answers for.
#[derive(Debug)]
pub struct ResourceOutput(pub(crate) Result<Contents, ResourceError>);

#[derive(Debug)]
pub(crate) enum Contents {
    Text(String),
    Blob(Vec<u8>),
    Full(Vec<ResourceContents>),
}

impl ResourceOutput {
    /// The contents for `uri`, with `mime_type` where the handler gave none.
    pub(crate) fn into_result(self, uri: &str, mime_type: Option<&str>) -> ResourceResult {
        let mime = mime_type.map(str::to_owned);
        match self.0? {
            Contents::Text(text) => Ok(vec![ResourceContents::Text {
                uri: uri.to_owned(),
                mime_type: mime,
                text,
            }]),
            Contents::Blob(bytes) => Ok(vec![ResourceContents::Blob {
                uri: uri.to_owned(),
                mime_type: mime,
                blob: base64_encode(&bytes),
            }]),
            Contents::Full(contents) => Ok(contents),
        }
    }
}

impl Rejected for ResourceOutput {
    fn rejected(message: String) -> Self {
        Self(Err(ResourceError::InvalidParams(message)))
    }
}

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// There is no resource at this URI (JSON-RPC -32002).
    NotFound,
    /// The URI's variables do not fit the handler's parameters (JSON-RPC -32602).
    InvalidParams(String),
    /// The handler failed (JSON-RPC -32603 with this message).
    Failed(String),
}

impl ResourceError {
    /// The resource does not exist.
    #[must_use]
    pub fn not_found() -> Self {
        Self::NotFound
    }

    /// The handler failed with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }
}

/// A [`ToolError`](crate::ToolError) in a resource handler (the one
/// [`RequestContext::require_scopes`](crate::RequestContext::require_scopes) returns, so `?`
/// works there too): the read failed.
impl From<crate::handler::ToolError> for ResourceError {
    fn from(error: crate::handler::ToolError) -> Self {
        Self::Failed(error.message().to_owned())
    }
}

impl<E: std::error::Error> From<E> for ResourceError {
    fn from(error: E) -> Self {
        Self::Failed(error.to_string())
    }
}

/// A value a resource handler may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from an MCP resource",
    note = "return `String` (text), `Vec<u8>` (binary), `ResourceContents`, `Vec<ResourceContents>`, or a `Result` of one of them with `ResourceError` (or any `std::error::Error`)"
)]
pub trait IntoResourceOutput {
    /// Converts the value.
    fn into_resource_output(self) -> ResourceOutput;
}

impl IntoResourceOutput for String {
    fn into_resource_output(self) -> ResourceOutput {
        ResourceOutput(Ok(Contents::Text(self)))
    }
}

impl IntoResourceOutput for &'static str {
    fn into_resource_output(self) -> ResourceOutput {
        self.to_owned().into_resource_output()
    }
}

impl IntoResourceOutput for Vec<u8> {
    fn into_resource_output(self) -> ResourceOutput {
        ResourceOutput(Ok(Contents::Blob(self)))
    }
}

impl IntoResourceOutput for ResourceContents {
    fn into_resource_output(self) -> ResourceOutput {
        ResourceOutput(Ok(Contents::Full(vec![self])))
    }
}

impl IntoResourceOutput for Vec<ResourceContents> {
    fn into_resource_output(self) -> ResourceOutput {
        ResourceOutput(Ok(Contents::Full(self)))
    }
}

impl<T: IntoResourceOutput, E: Into<ResourceError>> IntoResourceOutput for Result<T, E> {
    fn into_resource_output(self) -> ResourceOutput {
        match self {
            Ok(value) => value.into_resource_output(),
            Err(error) => ResourceOutput(Err(error.into())),
        }
    }
}

// ---- RFC 6570 templates ------------------------------------------------------------------------

/// One piece of a URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    /// `{name}` (simple: no `/`, `?`, `#`) or `{+name}` (reserved: may span `/`).
    Variable {
        name: &'a str,
        reserved: bool,
    },
}

fn parse_template(template: &str) -> Option<Vec<Part<'_>>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let end = rest.find('}')?;
                let inner = &rest[1..end];
                let (name, reserved) = match inner.strip_prefix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return None;
                }
                if matches!(parts.last(), Some(Part::Variable { .. })) {
                    return None; // two adjacent variables cannot be told apart
                }
                parts.push(Part::Variable { name, reserved });
                rest = &rest[end + 1..];
            }
            Some(i) => {
                parts.push(Part::Literal(&rest[..i]));
                rest = &rest[i..];
            }
            None => {
                parts.push(Part::Literal(rest));
                rest = "";
            }
        }
    }
    Some(parts)
}

/// The variables of `template`, or `None` if it is not a template this server supports
/// (RFC 6570 level 1 `{var}` and level 2 `{+var}`, never two variables side by side).
#[must_use]
pub fn template_variables(template: &str) -> Option<Vec<&str>> {
    let parts = parse_template(template)?;
    Some(
        parts
            .into_iter()
            .filter_map(|p| match p {
                Part::Variable { name, .. } => Some(name),
                Part::Literal(_) => None,
            })
            .collect(),
    )
}

/// Matches `uri` against `template`; the variables' values, percent-decoded. `None` also when a
/// value holds a `.` or `..` segment (`/` or `\\` separated, `%2E` counting as `.`): match the
/// URI's normal form ([`normalize_uri`]), where a path has none left. And `None` when a value
/// would not be one relative path to every handler: a `\\`, a drive prefix (`C:`), or in a
/// reserved (`{+path}`) value an empty segment (a leading, trailing or doubled `/`).
#[must_use]
pub fn match_template(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    let parts = parse_template(template)?;
    let mut values = Vec::new();
    let mut rest = uri;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(literal) => rest = rest.strip_prefix(literal)?,
            Part::Variable { name, reserved } => {
                let end = match parts.get(i + 1) {
                    Some(Part::Literal(next)) => rest.find(next)?,
                    _ => rest.len(),
                };
                let value = &rest[..end];
                let forbidden: &[char] = if *reserved {
                    &['?', '#']
                } else {
                    &['/', '?', '#']
                };
                if value.is_empty() || value.contains(forbidden) {
                    return None;
                }
                // A reserved variable spans segments with `/` as written; an escaped one would
                // name those segments without the template's literals seeing them
                // (`vault://private%2Fplans` against `vault://private/{name}`).
                if *reserved && (value.contains("%2F") || value.contains("%2f")) {
                    return None;
                }
                let decoded = percent_decode(value)?;
                // Decoded, a simple variable still holds no `/`, `?` or `#` (`..%2F..` is not a
                // name but a path): a handler may take it for one segment.
                if !*reserved && decoded.contains(forbidden) {
                    return None;
                }
                // No handler sees a `.` or `..` segment (RFC 3986 §5.2.4), whatever its
                // template's literals around it: `x://h/f-{name}` with `f-..`, or
                // `x://h/p{+path}` with `p../x`. `\` counts as a separator too (Windows paths),
                // and `%2E` as a dot, for a handler that decodes once more.
                if decoded.split(['/', '\\']).any(crate::uri::is_dot_segment) {
                    return None;
                }
                if !is_relative_path_value(&decoded, *reserved) {
                    return None;
                }
                values.push(((*name).to_owned(), decoded));
                rest = &rest[end..];
            }
        }
    }
    rest.is_empty().then_some(values)
}

/// Whether a decoded template value reads as the same relative path to every handler, so that
/// a handler joining it onto a root (`root.join(value)`, a key prefix) stays under that root and
/// names what the URI names: no `\\` (a separator on Windows), no drive prefix (`C:`, which
/// `Path::join` takes for a new root there), and in a reserved value no empty segment, which a
/// leading `/` (an absolute path, replacing the root on every system), a trailing `/` or a `//`
/// would make (`vault//a` is `vault/a` to a file system, but not to the template
/// `x://h/vault/{item}` that protects it).
fn is_relative_path_value(decoded: &str, reserved: bool) -> bool {
    let drive = decoded
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && decoded.as_bytes().get(1) == Some(&b':');
    let empty_segment = reserved && decoded.split('/').any(str::is_empty);
    !decoded.contains('\\') && !drive && !empty_segment
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly (`from_str_radix` alone would take a sign: `%+4`).
            let hex = value.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Fb"), Some("a/b".into()));
        assert_eq!(percent_decode("%+4"), None);
        assert_eq!(percent_decode("%-1"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn templates_match_and_decode() {
        assert_eq!(
            match_template("notes://note/{id}", "notes://note/42"),
            Some(vec![("id".into(), "42".into())])
        );
        assert_eq!(
            match_template("test://template/{id}/data", "test://template/a%20b/data"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(
            match_template("notes://note/{id}", "notes://note/4/2"),
            None
        );
        assert_eq!(match_template("notes://note/{id}", "notes://note/"), None);
        assert_eq!(match_template("notes://note/{id}", "other://note/1"), None);
        assert_eq!(
            match_template("file:///{+path}", "file:///a/b/c.txt"),
            Some(vec![("path".into(), "a/b/c.txt".into())])
        );
        assert_eq!(
            match_template("x://{a}/{b}", "x://1/2"),
            Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        );
        assert_eq!(match_template("x://{a}", "x://%zz"), None);
    }

    #[test]
    fn a_simple_variable_never_decodes_to_a_path() {
        assert_eq!(
            match_template("notes://note/{id}", "notes://note/..%2F..%2Fetc"),
            None
        );
        assert_eq!(
            match_template("notes://note/{id}", "notes://note/a%3Fb"),
            None
        );
        assert_eq!(
            match_template("file:///{+path}", "file:///a/b%20c"),
            Some(vec![("path".into(), "a/b c".into())]),
            "a reserved one spans segments"
        );
        assert_eq!(
            match_template("file:///{+path}", "file:///a%2Fb"),
            None,
            "with `/` as written, not escaped"
        );
    }

    #[test]
    fn no_variable_holds_a_dot_segment() {
        for (template, uri) in [
            ("x://h/f-{name}", "x://h/f-.."),
            ("x://h/f-{name}", "x://h/f-."),
            ("x://h/{name}.txt", "x://h/..txt"),
            ("x://h/p{+path}", "x://h/p../private/x"),
            ("x://h/{+path}", "x://h/a/../../x"),
            ("x://h/{+path}", "x://h/a/./x"),
            ("x://h/{+path}", "x://h/a/.."),
            ("x://h/{+path}", "x://h/a/%2E%2E/x"),
            ("x://h/{+path}", "x://h/a/%252E%252E/x"),
            ("x://h/{+path}", "x://h/a/..%5Cx"),
            ("x://h/{name}", "x://h/..%5C..%5Cx"),
            ("x://h/?q={q}", "x://h/?q=.."),
        ] {
            assert_eq!(match_template(template, uri), None, "{template} {uri}");
        }
        // Nor a value that is not one relative path to every handler: absolute, with an empty
        // segment that a file system drops, with a Windows separator or drive.
        for (template, uri) in [
            ("x://h/{+path}", "x://h//etc/passwd"),
            ("x://h/{+path}", "x://h/private//plans"),
            ("x://h/{+path}", "x://h/vault/a/"),
            ("x://h/{+path}", "x://h/vault%5Ca"),
            ("x://h/{+path}", "x://h/vault\\a"),
            ("x://h/{+path}", "x://h/C:/Windows"),
            ("x://h/{+path}", "x://h/c%3A/x"),
            ("x://h/{name}", "x://h/a%5Cb"),
            ("x://h/{name}", "x://h/C:"),
        ] {
            assert_eq!(match_template(template, uri), None, "{template} {uri}");
        }
        for (template, uri, value) in [
            ("x://h/f-{name}", "x://h/f-...", "..."),
            ("x://h/{+path}", "x://h/a/.b/c..", "a/.b/c.."),
            ("x://h/{name}", "x://h/v1.2", "v1.2"),
            ("x://h/{+path}", "x://h/a/b:c/d", "a/b:c/d"),
            ("x://h/{name}", "x://h/ab:c", "ab:c"),
        ] {
            assert_eq!(
                match_template(template, uri),
                Some(vec![(
                    template_variables(template).unwrap()[0].to_owned(),
                    value.to_owned()
                )]),
                "{template} {uri}"
            );
        }
    }

    #[test]
    fn only_supported_templates_parse() {
        assert_eq!(template_variables("x://{a}/{+b}"), Some(vec!["a", "b"]));
        assert_eq!(template_variables("x://static"), Some(vec![]));
        for bad in ["x://{a}{b}", "x://{", "x://{}", "x://{a-b}", "x://{?q}"] {
            assert_eq!(template_variables(bad), None, "{bad}");
        }
    }
}

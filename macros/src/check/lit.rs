//! Rules on one literal (a tool name, a scope, a resource URI), checked while parsing so each
//! error points at its literal.

use syn::{Error, LitStr};

use crate::model::ScopeLit;

/// MCP tool names (2025-11-25 `server/tools`): 1 to 128 characters of `[A-Za-z0-9_.-]`.
pub(crate) const MAX_TOOL_NAME: usize = 128;

/// Rule: a tool name is 1–128 characters of `[A-Za-z0-9_.-]`, unique in its server (the
/// uniqueness half is checked by the derive, which alone sees every tool).
pub(crate) fn tool_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a tool name must not be empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "tool name `{name}` contains {c:?}; MCP tool names use only A-Z, a-z, 0-9, `_`, `.` and `-`"
        ));
    }
    if name.len() > MAX_TOOL_NAME {
        return Err(format!(
            "tool name is {} characters long; MCP allows at most {MAX_TOOL_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// Rule: a resource URI is absolute (has a scheme) and its template, if any, uses only RFC 6570
/// `{var}` and `{+var}` with identifier names, never two variables side by side. Returns the
/// variables.
pub(crate) fn uri_template(uri: &str) -> Result<Vec<String>, String> {
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if !scheme_ok {
        return Err(format!(
            "`{uri}` is not an absolute URI: it needs a scheme, e.g. `notes://…`"
        ));
    }
    let mut variables = Vec::new();
    let mut rest = uri;
    while let Some(start) = rest.find(['{', '}']) {
        if rest.as_bytes()[start] == b'}' {
            return Err(format!("unbalanced `}}` in `{uri}`"));
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{uri}`"))?
            + start;
        let inner = &rest[start + 1..end];
        let name = inner.strip_prefix('+').unwrap_or(inner);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "`{{{inner}}}` is not supported: use `{{name}}` or `{{+name}}` (RFC 6570 levels 1 and 2)"
            ));
        }
        variables.push(name.to_owned());
        rest = &rest[end + 1..];
        if rest.starts_with('{') {
            return Err(format!(
                "two template variables side by side in `{uri}` cannot be told apart"
            ));
        }
    }
    Ok(variables)
}

/// Rule: the `{Name}` of an `Mcp-Param-{Name}` header (`#[arg(header = "..")]`, SEP-2243) is
/// an RFC 9110 §5.6.2 token, `1*tchar`: not empty, ASCII letters, digits and
/// ``!#$%&'*+-.^_`|~``, so no space, separator or control character (CR, LF) can reach a header.
pub(crate) fn param_header(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a parameter header name must not be empty: `Mcp-Param-` needs a name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c)))
    {
        return Err(format!(
            "`{name}` is not a valid header name: it contains {c:?}; `Mcp-Param-{{Name}}` takes an RFC 9110 token (ASCII letters, digits and !#$%&'*+-.^_`|~)"
        ));
    }
    Ok(())
}

/// Rule: a downstream API is named by the RFC 8707 resource URI its tokens are for (sent as
/// the exchange's `resource`/`audience`, and expected in the issued token's `aud`): absolute
/// `https` (or `http` to a loopback host, for development, as everywhere in scopegate), with a
/// host, without userinfo, query or fragment (RFC 8707 §2), scheme and host in lower case, so
/// the string compared with `aud` is the one written.
pub(crate) fn downstream_uri(uri: &str) -> Result<(), String> {
    let usage =
        "`downstream` takes the API's resource URI: `https://…`, or `http://` to a loopback host";
    if let Some(c) = uri.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!("`{uri}` contains {c:?}; {usage}"));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(format!("`{uri}` is not an absolute URI; {usage}"));
    };
    if !matches!(scheme, "https" | "http") {
        return Err(
            if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") {
                format!(
                    "write the scheme of `{uri}` in lower case: the URI is compared with `aud` as written"
                )
            } else {
                format!("`{uri}` is not an `https` URI; {usage}")
            },
        );
    }
    if uri.contains('#') {
        return Err(format!(
            "`{uri}` has a fragment, which a resource URI must not have (RFC 8707 §2)"
        ));
    }
    if uri.contains('?') {
        return Err(format!(
            "`{uri}` has a query; name the API by its URI without one (RFC 8707 §2)"
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "`{uri}` has user information; name the API by its host"
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) => (&authority[..address.len() + 2], after.strip_prefix(':')),
            None => return Err(format!("`{uri}` has an unclosed `[` in its host")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(format!("`{uri}` has no host; {usage}"));
    }
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{uri}` has a port that is not a number"));
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "write the host of `{uri}` in lower case: the URI is compared with `aud` as written"
        ));
    }
    let loopback = host == "localhost"
        || host == "[::1]"
        || host.strip_prefix("127.").is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        });
    if scheme == "http" && !loopback {
        return Err(format!(
            "`{uri}` is plain `http` to a host that is not loopback; use `https` (tokens would cross the network in clear)"
        ));
    }
    Ok(())
}

/// Rule: a scope is an RFC 6749 §3.3 scope-token, `1*( %x21 / %x23-5B / %x5D-7E )`: printable
/// ASCII without space, `"` or `\`.
pub(crate) fn scope(lit: &LitStr) -> Result<ScopeLit, Error> {
    let value = lit.value();
    let problem = if value.is_empty() {
        Some("a scope must not be empty".to_owned())
    } else {
        value
            .chars()
            .find(|&c| !(c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c)))
            .map(|c| {
                let what = match c {
                    ' ' => "a space (scopes are space-separated in OAuth, so one scope cannot hold one)".to_owned(),
                    '"' => "`\"`".to_owned(),
                    '\\' => "`\\`".to_owned(),
                    c => format!("{c:?}"),
                };
                format!(
                    "`{value}` is not a valid OAuth scope: it contains {what}; RFC 6749 §3.3 allows printable ASCII except space, `\"` and `\\`"
                )
            })
    };
    match problem {
        Some(message) => Err(Error::new(lit.span(), message)),
        None => Ok(ScopeLit {
            lit: lit.clone(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_follow_the_mcp_rules() {
        for ok in ["a", "get_note", "files.read-v2", &"x".repeat(MAX_TOOL_NAME)] {
            assert!(tool_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "café",
            "a/b",
            &"x".repeat(MAX_TOOL_NAME + 1),
        ] {
            assert!(tool_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn param_headers_are_rfc_9110_tokens() {
        for ok in ["Region", "tenant-id", "X_1", "a!#$%&'*+-.^_`|~z"] {
            assert!(param_header(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "a:b", "a\r\nb", "é", "a/b", "a\"b", "(x)"] {
            assert!(param_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn downstream_uris_are_https_resources() {
        for ok in [
            "https://api.mail.example",
            "https://api.mail.example/v1/",
            "https://api.example:8443/x",
            "http://127.0.0.1:9000/api",
            "http://localhost/api",
            "http://[::1]:80",
        ] {
            assert!(downstream_uri(ok).is_ok(), "{ok}: {:?}", downstream_uri(ok));
        }
        for (bad, why) in [
            ("", "not an absolute URI"),
            ("api.example", "not an absolute URI"),
            ("ftp://api.example", "not an `https` URI"),
            ("HTTPS://api.example", "lower case"),
            ("https://API.example", "lower case"),
            ("https://api.example/#x", "fragment"),
            ("https://api.example/?a=b", "query"),
            ("https://user@api.example", "user information"),
            ("https:///path", "no host"),
            ("https://api.example:x", "port"),
            ("https://api.example/a b", "' '"),
            ("http://api.example", "not loopback"),
            ("http://127.0.0.1.example.com", "not loopback"),
            ("https://[::1", "unclosed"),
        ] {
            let message = downstream_uri(bad).expect_err(bad);
            assert!(message.contains(why), "{bad}: {message}");
        }
    }

    #[test]
    fn scopes_follow_rfc_6749() {
        let lit = |s: &str| LitStr::new(s, proc_macro2::Span::call_site());
        assert_eq!(scope(&lit("files:read")).unwrap().value, "files:read");
        assert_eq!(
            scope(&lit("https://x/y!#~")).unwrap().value,
            "https://x/y!#~"
        );
        for bad in ["", "a b", "a\"b", "a\\b", "é", "tab\t"] {
            assert!(scope(&lit(bad)).is_err(), "{bad:?}");
        }
        let message = scope(&lit("a b")).err().unwrap().to_string();
        assert!(message.contains("space"), "{message}");
    }
}

//! Reading a `WWW-Authenticate` header's Bearer challenge (RFC 7235 §4.1, RFC 6750 §3).

/// The parameters of a Bearer challenge, names lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bearer {
    params: Vec<(String, String)>,
}

impl Bearer {
    /// The parameter `name` (lower case).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The first Bearer challenge among the header's values (a server may send several
/// challenges, e.g. `DPoP` beside `Bearer`, in one value or in several).
pub(super) fn bearer<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Bearer> {
    values.into_iter().find_map(parse)
}

fn parse(value: &str) -> Option<Bearer> {
    let bytes = value.as_bytes();
    let mut i = 0;
    let mut in_bearer = false;
    let mut found: Option<Bearer> = None;
    let is_token = |b: u8| !matches!(b, b' ' | b'\t' | b',' | b'=' | b'"');
    while i < bytes.len() {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && is_token(bytes[i]) {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = &value[start..i];
        let mut j = i;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' {
            // An auth-param: `name=token` or `name="quoted"`.
            j += 1;
            while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
                j += 1;
            }
            let mut param = String::new();
            if j < bytes.len() && bytes[j] == b'"' {
                j += 1;
                let mut chars = value[j..].char_indices();
                let mut end = value.len();
                while let Some((k, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                param.push(escaped);
                            }
                        }
                        '"' => {
                            end = j + k + 1;
                            break;
                        }
                        c => param.push(c),
                    }
                }
                j = end;
            } else {
                let begin = j;
                while j < bytes.len() && !matches!(bytes[j], b',' | b' ' | b'\t') {
                    j += 1;
                }
                param.push_str(&value[begin..j]);
            }
            if in_bearer && let Some(bearer) = found.as_mut() {
                bearer.params.push((name.to_ascii_lowercase(), param));
            }
            i = j;
        } else {
            // A new scheme; only the first Bearer one is read.
            if found.is_some() && in_bearer {
                break;
            }
            in_bearer = name.eq_ignore_ascii_case("bearer");
            if in_bearer {
                found = Some(Bearer::default());
            }
            i = j;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_token_params_of_the_bearer_challenge_are_read() {
        let found = bearer([
            r#"DPoP algs="ES256", Bearer error="invalid_token", error_description="a \"bad\" token", scope=notes:read, resource_metadata="http://h/.well-known/oauth-protected-resource/mcp""#,
        ])
        .unwrap();
        assert_eq!(found.get("error"), Some("invalid_token"));
        assert_eq!(found.get("error_description"), Some(r#"a "bad" token"#));
        assert_eq!(found.get("scope"), Some("notes:read"));
        assert_eq!(
            found.get("resource_metadata"),
            Some("http://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(found.get("algs"), None);
    }

    #[test]
    fn a_bare_bearer_has_no_params_and_other_schemes_are_not_bearer() {
        assert_eq!(bearer(["Bearer"]), Some(Bearer::default()));
        assert_eq!(bearer(["Basic realm=\"x\""]), None);
        let second = bearer(["Basic realm=\"x\"", "bearer scope=\"a b\""]).unwrap();
        assert_eq!(second.get("scope"), Some("a b"));
        assert_eq!(second.get("realm"), None);
    }
}

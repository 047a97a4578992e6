//! The [`Principal`] a verified token's claims describe.

use crate::challenge::AuthScheme;
use crate::principal::{KeyBinding, Principal};
use crate::scope::ScopeSet;

use super::verifier::AuthError;

/// `claims` with every granted scope that `aliases` names (`(granted, scope)`) written as the
/// server's `scope`, in `scope` (space-separated) and `scp` (a string or an array) alike;
/// anything else, malformed claims included, as it was.
pub(crate) fn alias_scopes(
    mut claims: serde_json::Map<String, serde_json::Value>,
    aliases: &[(String, String)],
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    if aliases.is_empty() {
        return claims;
    }
    let rename = |name: &str| -> String {
        aliases
            .iter()
            .find(|(granted, _)| granted == name)
            .map_or(name, |(_, scope)| scope.as_str())
            .to_owned()
    };
    for key in ["scope", "scp"] {
        match claims.get_mut(key) {
            Some(Value::String(text)) => {
                *text = text.split(' ').map(rename).collect::<Vec<_>>().join(" ");
            }
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::String(name) = item {
                        *name = rename(name);
                    }
                }
            }
            _ => {}
        }
    }
    claims
}

/// Builds the [`Principal`] for verified claims: `iss`, `sub`, `client_id` (or `azp`), and the
/// scopes from `scope` (space-separated) or `scp` (a string or an array).
///
/// The caller must have checked `iss` (a JWT's against the configured issuer): the principal's
/// issuer is what tells one authorization server's `alice` from another's.
pub fn principal_from_claims(
    claims: serde_json::Map<String, serde_json::Value>,
) -> Result<Principal, AuthError> {
    use serde_json::Value;
    let text = |key: &str| -> Result<Option<String>, AuthError> {
        match claims.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AuthError::Claims),
        }
    };
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => ScopeSet::from_space_separated(s),
        (Some(_), _) => return Err(AuthError::Claims),
        (None, Some(Value::String(s))) => ScopeSet::from_space_separated(s),
        (None, Some(Value::Array(items))) => {
            let mut scopes = Vec::with_capacity(items.len());
            for item in items {
                scopes.push(item.as_str().ok_or(AuthError::Claims)?);
            }
            scopes.into_iter().collect()
        }
        (None, Some(_)) => return Err(AuthError::Claims),
        (None, None) => ScopeSet::empty(),
    };
    let mut builder = Principal::builder().scopes(scopes);
    if let Some(issuer) = text("iss")? {
        builder = builder.issuer(issuer);
    }
    if let Some(subject) = text("sub")? {
        builder = builder.subject(subject);
    }
    if let Some(client) = text("client_id")?.or(text("azp")?) {
        builder = builder.client_id(client);
    }
    let binding = key_binding(&claims)?;
    Ok(builder.key_binding(binding).claims(claims).build())
}

/// What `cnf` (RFC 7800 §3.1) binds the token to: a DPoP key by its thumbprint (`jkt`, RFC 9449
/// §6.1), another confirmation method, or nothing.
pub(super) fn key_binding(
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<KeyBinding, AuthError> {
    use serde_json::Value;
    match claims.get("cnf") {
        None => Ok(KeyBinding::None),
        Some(Value::Object(cnf)) => match cnf.get("jkt") {
            Some(Value::String(jkt)) if !jkt.is_empty() => Ok(KeyBinding::Dpop(jkt.clone())),
            Some(_) => Err(AuthError::Claims),
            None => Ok(KeyBinding::Other),
        },
        Some(_) => Err(AuthError::Claims),
    }
}

/// Whether a verified principal may be used in `scheme`: a bearer request's token must be bound
/// to nothing (RFC 9449 §7.1: a bound token is no bearer token), a DPoP request's to a DPoP key
/// (whose thumbprint the transport then compares with the proof's).
pub(crate) fn fits_scheme(principal: &Principal, scheme: AuthScheme) -> Result<(), AuthError> {
    binding_fits(principal.key_binding(), scheme)
}

/// [`fits_scheme`] on a binding: the one rule, for a principal and for claims not yet made one.
pub(super) fn binding_fits(binding: &KeyBinding, scheme: AuthScheme) -> Result<(), AuthError> {
    match (scheme, binding) {
        (AuthScheme::Bearer, KeyBinding::None) | (AuthScheme::Dpop, KeyBinding::Dpop(_)) => Ok(()),
        (AuthScheme::Bearer, _) => Err(AuthError::Bound),
        (AuthScheme::Dpop, _) => Err(AuthError::NotBound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliased_scopes_read_as_the_servers_names() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let aliases = [("notes.read".to_owned(), "notes:read".to_owned())];
        let aliased = |value: serde_json::Value| {
            let claims = alias_scopes(claims(value), &aliases);
            principal_from_claims(claims).unwrap().scopes().to_string()
        };
        assert_eq!(
            aliased(serde_json::json!({"scp": "notes.read notes.write"})),
            "notes.write notes:read"
        );
        assert_eq!(
            aliased(serde_json::json!({"scp": ["notes.read"]})),
            "notes:read"
        );
        assert_eq!(
            aliased(serde_json::json!({"scope": "notes.read"})),
            "notes:read"
        );
        // Only whole names: a scope that merely contains the alias stays as it is.
        assert_eq!(
            aliased(serde_json::json!({"scope": "notes.read.all"})),
            "notes.read.all"
        );
        // Malformed claims are left for `principal_from_claims` to refuse.
        let bad = alias_scopes(claims(serde_json::json!({"scp": [1]})), &aliases);
        assert!(principal_from_claims(bad).is_err());
    }

    #[test]
    fn principals_take_scopes_from_scope_or_scp() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let p = principal_from_claims(claims(
            serde_json::json!({"iss":"https://as","sub":"a","scope":"x y","azp":"c"}),
        ))
        .unwrap();
        assert_eq!(
            (p.subject(), p.client_id(), p.scopes().to_string().as_str()),
            (Some("a"), Some("c"), "x y")
        );
        assert_eq!(p.issuer(), Some("https://as"));
        let p = principal_from_claims(claims(serde_json::json!({"scp":["y","x"]}))).unwrap();
        assert_eq!(p.scopes().to_string(), "x y");
        let p = principal_from_claims(claims(serde_json::json!({"scp":"x"}))).unwrap();
        assert_eq!(p.scopes().to_string(), "x");
        for bad in [
            serde_json::json!({"scope": ["x"]}),
            serde_json::json!({"scp": [1]}),
            serde_json::json!({"sub": 5}),
            serde_json::json!({"iss": ["https://as"]}),
            serde_json::json!({"cnf": "x"}),
            serde_json::json!({"cnf": {"jkt": 5}}),
            serde_json::json!({"cnf": {"jkt": ""}}),
        ] {
            assert_eq!(
                principal_from_claims(claims(bad)).unwrap_err(),
                AuthError::Claims
            );
        }
    }

    #[test]
    fn a_principal_is_bound_to_what_cnf_names_and_fits_that_scheme_only() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let bearer = principal_from_claims(claims(serde_json::json!({"sub": "a"}))).unwrap();
        let dpop =
            principal_from_claims(claims(serde_json::json!({"cnf": {"jkt": "abc"}}))).unwrap();
        let mtls =
            principal_from_claims(claims(serde_json::json!({"cnf": {"x5t#S256": "abc"}}))).unwrap();
        assert_eq!(bearer.key_binding(), &KeyBinding::None);
        assert_eq!(dpop.key_binding(), &KeyBinding::Dpop("abc".into()));
        assert_eq!(mtls.key_binding(), &KeyBinding::Other);
        assert_eq!(fits_scheme(&bearer, AuthScheme::Bearer), Ok(()));
        assert_eq!(fits_scheme(&dpop, AuthScheme::Dpop), Ok(()));
        assert_eq!(
            fits_scheme(&dpop, AuthScheme::Bearer),
            Err(AuthError::Bound)
        );
        assert_eq!(
            fits_scheme(&mtls, AuthScheme::Bearer),
            Err(AuthError::Bound)
        );
        assert_eq!(
            fits_scheme(&bearer, AuthScheme::Dpop),
            Err(AuthError::NotBound)
        );
        assert_eq!(
            fits_scheme(&mtls, AuthScheme::Dpop),
            Err(AuthError::NotBound)
        );
    }
}

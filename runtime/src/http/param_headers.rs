//! 2026-07-28 parameter headers (SEP-2243): a tool argument declared with
//! `#[arg(header = "Name")]` is mirrored by clients into `Mcp-Param-{Name}`, so a gateway can
//! route or meter on it without reading the body. The server reads the body, so it must check
//! that each header says what the body says (basic/transports/streamable-http, "Server
//! Behavior for Custom Headers"): otherwise a gateway and the tool would act on different
//! values.

use axum::http::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::headers::{NAME, decode_header_value};
use crate::clip::{TEXT_BYTES, clip};
use crate::protocol::{Arguments, Method, ModernParams, Request};
use crate::server::Core;

/// The header prefix a declared name is appended to.
const PREFIX: &str = "Mcp-Param-";

/// A `tools/call`'s arguments, all that the check reads from the body.
#[derive(Deserialize)]
struct CallArguments {
    #[serde(default)]
    arguments: Option<Arguments>,
}

/// 2026-07-28 `tools/call`: every argument the tool mirrors into a header is checked against
/// it. A value in the body needs its header, a header needs its value in the body (a `null` or
/// absent argument has none), and the two must agree once the header is decoded
/// (`=?base64?…?=`): strings exactly, booleans as `true`/`false`, integers numerically (`42.0`
/// is `42`). A mismatch names what differs.
///
/// Run after `Mcp-Name` has been checked against the body, so the tool is looked up by the
/// header. A tool that declares no header parameter is left at that lookup, and a server none of
/// whose tools declares one skips even that: nothing is parsed.
pub(super) fn check_param_headers(
    headers: &HeaderMap,
    request: &Request,
    modern: &ModernParams,
    server: &Core,
) -> Result<(), String> {
    if request.method != Method::CallTool || !server.any_param_headers() {
        return Ok(());
    }
    let Some(name) = headers
        .get(&NAME)
        .and_then(|v| v.to_str().ok())
        .and_then(decode_header_value)
    else {
        return Ok(());
    };
    let declared = server.param_headers(&name);
    if declared.is_empty() {
        return Ok(());
    }
    // As the dispatcher read them with the message, or read here from the raw params.
    let read;
    let arguments = match (&modern.named, request.params.as_deref()) {
        (Some(named), _) => named.arguments.as_ref(),
        (None, params) => {
            read = params
                .and_then(|p| serde_json::from_str::<CallArguments>(p.get()).ok())
                .and_then(|call| call.arguments);
            read.as_ref()
        }
    };
    for param in declared {
        let Some(header) = param.header else {
            continue;
        };
        check_one(headers, header, arguments.and_then(|a| a.get(param.name)))?;
    }
    Ok(())
}

/// One declared header against its argument's value in the body.
fn check_one(headers: &HeaderMap, header: &str, body: Option<&Value>) -> Result<(), String> {
    let name = format!("{PREFIX}{header}");
    let mut values = headers.get_all(name.as_str()).iter();
    let value = values.next();
    if values.next().is_some() {
        return Err(format!(
            "Header mismatch: the {name} header is given more than once"
        ));
    }
    let body = body.filter(|v| !v.is_null());
    match (value, body) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(format!(
            "Header mismatch: the {name} header is required: the body gives its argument"
        )),
        (Some(_), None) => Err(format!(
            "Header mismatch: the {name} header is given but the body has no value for its argument"
        )),
        (Some(value), Some(body)) => {
            let value = value.to_str().map_err(|_| {
                format!("Header mismatch: the {name} header has invalid characters")
            })?;
            let value = decode_header_value(value)
                .ok_or_else(|| format!("Header mismatch: the {name} header is not valid base64"))?;
            if agrees(&value, body) {
                Ok(())
            } else {
                let body = match body {
                    Value::String(text) => clip(text, TEXT_BYTES).into_owned(),
                    other => clip(&other.to_string(), TEXT_BYTES).into_owned(),
                };
                Err(format!(
                    "Header mismatch: {name} header value '{}' does not match body value '{body}'",
                    clip(&value, TEXT_BYTES)
                ))
            }
        }
    }
}

/// Whether a decoded header value says what the body's value says (streamable-http, "Value
/// Encoding" and "Server Validation"): integers compare as numbers.
fn agrees(header: &str, body: &Value) -> bool {
    match body {
        Value::String(text) => header == text,
        Value::Bool(true) => header == "true",
        Value::Bool(false) => header == "false",
        Value::Number(number) => {
            if let (Some(body), Ok(header)) = (number.as_i64(), header.parse::<i64>()) {
                return body == header;
            }
            if let (Some(body), Ok(header)) = (number.as_u64(), header.parse::<u64>()) {
                return body == header;
            }
            match (number.as_f64(), header.parse::<f64>()) {
                (Some(body), Ok(header)) => header.is_finite() && body == header,
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_agree_exactly() {
        assert!(agrees("us-west1", &json!("us-west1")));
        assert!(!agrees("us-west1", &json!("US-WEST1")));
        assert!(!agrees("us-west1 ", &json!("us-west1")));
    }

    #[test]
    fn booleans_agree_in_lowercase() {
        assert!(agrees("true", &json!(true)));
        assert!(agrees("false", &json!(false)));
        assert!(!agrees("True", &json!(true)));
        assert!(!agrees("1", &json!(true)));
        assert!(!agrees("true", &json!("yes")));
    }

    #[test]
    fn integers_agree_numerically() {
        assert!(agrees("42", &json!(42)));
        assert!(agrees("42.0", &json!(42)));
        assert!(agrees("-7", &json!(-7)));
        assert!(agrees("18446744073709551615", &json!(u64::MAX)));
        assert!(!agrees("43", &json!(42)));
        assert!(!agrees("forty-two", &json!(42)));
        assert!(!agrees("inf", &json!(42)));
        assert!(!agrees("NaN", &json!(42)));
        // A string argument is compared as text, never as a number.
        assert!(!agrees("42.0", &json!("42")));
    }

    #[test]
    fn objects_and_arrays_never_agree() {
        assert!(!agrees("{}", &json!({})));
        assert!(!agrees("[]", &json!([])));
    }

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn header_and_value_go_together() {
        let none = map(&[]);
        let given = map(&[("mcp-param-region", "eu")]);
        assert!(check_one(&none, "Region", None).is_ok());
        assert!(check_one(&none, "Region", Some(&Value::Null)).is_ok());
        assert!(check_one(&given, "Region", Some(&json!("eu"))).is_ok());
        let missing = check_one(&none, "Region", Some(&json!("eu"))).unwrap_err();
        assert!(
            missing.contains("Mcp-Param-Region header is required"),
            "{missing}"
        );
        let extra = check_one(&given, "Region", None).unwrap_err();
        assert!(extra.contains("no value"), "{extra}");
        let null = check_one(&given, "Region", Some(&Value::Null)).unwrap_err();
        assert!(null.contains("no value"), "{null}");
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let given = map(&[("MCP-PARAM-REGION", "eu")]);
        assert!(check_one(&given, "region", Some(&json!("eu"))).is_ok());
    }

    #[test]
    fn base64_values_are_decoded_and_checked() {
        // "Hello, 世界", the spec's own example.
        let given = map(&[("mcp-param-greeting", "=?base64?SGVsbG8sIOS4lueVjA==?=")]);
        assert!(check_one(&given, "Greeting", Some(&json!("Hello, 世界"))).is_ok());
        let bad = map(&[("mcp-param-greeting", "=?base64?not base64!?=")]);
        let error = check_one(&bad, "Greeting", Some(&json!("x"))).unwrap_err();
        assert!(error.contains("not valid base64"), "{error}");
    }

    #[test]
    fn a_repeated_header_is_refused() {
        let twice = map(&[("mcp-param-region", "eu"), ("mcp-param-region", "eu")]);
        let error = check_one(&twice, "Region", Some(&json!("eu"))).unwrap_err();
        assert!(error.contains("more than once"), "{error}");
    }

    #[test]
    fn a_mismatch_names_both_values() {
        let given = map(&[("mcp-param-region", "us")]);
        let error = check_one(&given, "Region", Some(&json!("eu"))).unwrap_err();
        assert_eq!(
            error,
            "Header mismatch: Mcp-Param-Region header value 'us' does not match body value 'eu'"
        );
    }
}

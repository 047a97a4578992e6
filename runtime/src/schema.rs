//! The JSON Schemas of handlers' parameters and results: the settings every schema is made
//! with, and a tool's input schema built from its parameters.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::handler::ParamDef;

/// The schema settings every tool schema is made with: JSON Schema 2020-12, `$defs`, no
/// `$schema` keyword (2020-12 is MCP's default dialect since 2025-11-25), and no schemars-specific
/// integer formats.
#[must_use]
pub fn schema_generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| settings.meta_schema = None)
        .with_transform(schemars::transform::RecursiveTransform(drop_numeric_format))
        .into_generator()
}

/// `format: "uint64"` and its kin are not JSON Schema formats: validators in the field (Ajv, in
/// the TypeScript SDK and the Inspector) warn about each one on every `tools/list`. The range
/// they imply stays in `minimum`/`maximum`.
fn drop_numeric_format(schema: &mut Schema) {
    let numeric = schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| {
            matches!(
                f,
                "int"
                    | "int8"
                    | "int16"
                    | "int32"
                    | "int64"
                    | "int128"
                    | "uint"
                    | "uint8"
                    | "uint16"
                    | "uint32"
                    | "uint64"
                    | "uint128"
                    | "float"
                    | "double"
            )
        });
    if numeric {
        schema.remove("format");
    }
}

/// The largest integer a header parameter may carry: JavaScript's safe integers (SEP-2243,
/// "Integer values MUST be within the safe range for JavaScript"), so that every client reads
/// the value it mirrors exactly.
pub(crate) const MAX_HEADER_INTEGER: i64 = (1 << 53) - 1;

/// An integer header parameter's schema says so: `minimum`/`maximum` narrowed to the safe range
/// (a narrower range the type already has, `u8`'s say, stays).
fn bound_header_integer(schema: &mut Map<String, Value>) {
    let is_integer = match schema.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
        _ => false,
    };
    if !is_integer {
        return;
    }
    let low = schema.get("minimum").and_then(Value::as_f64);
    if low.is_none_or(|low| low < -(MAX_HEADER_INTEGER as f64)) {
        schema.insert("minimum".into(), (-MAX_HEADER_INTEGER).into());
    }
    let high = schema.get("maximum").and_then(Value::as_f64);
    if high.is_none_or(|high| high > MAX_HEADER_INTEGER as f64) {
        schema.insert("maximum".into(), MAX_HEADER_INTEGER.into());
    }
}

/// Whether `value`, given to a header parameter, is an integer outside the safe range.
pub(crate) fn unsafe_header_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(v), _) => !(-MAX_HEADER_INTEGER..=MAX_HEADER_INTEGER).contains(&v),
            (None, Some(_)) => true,
            (None, None) => false,
        },
        _ => false,
    }
}

/// The input schema of a tool and the names of its JSON arguments.
pub(crate) fn input_schema(params: &[ParamDef]) -> (Value, Box<[&'static str]>) {
    let mut generator = schema_generator();
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut names = Vec::new();
    for param in params {
        let Some(arg) = (param.schema)(&mut generator) else {
            continue;
        };
        let mut schema: Schema = arg.schema;
        // Inline subschemas do not pass through the generator's transforms; definitions do.
        schemars::transform::Transform::transform(
            &mut schemars::transform::RecursiveTransform(drop_numeric_format),
            &mut schema,
        );
        if let Some(description) = param.description {
            schema
                .ensure_object()
                .insert("description".into(), description.into());
        }
        if let Some(header) = param.header {
            let object = schema.ensure_object();
            object.insert("x-mcp-header".into(), header.into());
            bound_header_integer(object);
        }
        properties.insert(param.name.into(), schema.into());
        if arg.required {
            required.push(Value::from(param.name));
        }
        names.push(param.name);
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    if !properties.is_empty() {
        schema.insert("properties".into(), properties.into());
    }
    if !required.is_empty() {
        schema.insert("required".into(), required.into());
    }
    schema.insert("additionalProperties".into(), false.into());
    let definitions = generator.take_definitions(true);
    if !definitions.is_empty() {
        schema.insert("$defs".into(), definitions.into());
    }
    (schema.into(), names.into_boxed_slice())
}

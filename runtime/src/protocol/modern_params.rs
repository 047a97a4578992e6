//! What the 2026-07-28 path reads of a request's params, in one pass that builds only what it
//! keeps: the per-request fields of its `_meta` (MCP 2026-07-28, basic/index "Per-request
//! protocol fields"), the target the `Mcp-Name` header mirrors (`name`, `uri` or `taskId`), and
//! whether it continues an input round. The transport checks its headers against it and the
//! dispatcher serves the request from it, so a request's params are read once, not once per
//! question (issue 24). A `tools/call`'s params are read so within the pass over its whole
//! message (`Message::read`), which then keeps no raw params at all.
//!
//! Every answer equals the one read from the params built as a `serde_json::Value` (the last of
//! a repeated member counts; JSON a `Value` refuses, too deep or with a lone surrogate, fails the
//! pass just as it fails the `Value`). Where the pass cannot promise that (params that are not an
//! object, a repeated `_meta`, a `_meta` that is neither an object nor `null`, any error), the
//! request is read the way [`modern_meta`] reads it, by building values.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::arguments::Arguments;
use super::client_capabilities::{CapabilitiesText, ClientCapabilities};
use super::method::Method;
use super::params_text::{MetaOf, ParamsText};
use super::skip::{Skip, SkipKey, skip_other_json};
use super::versions::{
    META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS,
};

/// The params of a `tools/call` or `prompts/get` whose `name` is given once, as a string, whose
/// `arguments` are given at most once, as an object or `null`, and whose `_meta`, if any, is an
/// object (the params the dispatcher's own reading accepts, read as it reads them).
#[derive(Debug)]
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) arguments: Option<Arguments>,
    /// Where the params are read again (their `_meta` map, a round's binding), when they were
    /// read with their message and carry `_meta`; otherwise the request's raw params are.
    pub(crate) text: Option<ParamsText>,
}

/// What the transport read of a `tools/call`'s params with its message (`Message::read`); the
/// request then has no raw `params`.
#[derive(Debug)]
pub(crate) enum CallRead {
    /// A request of the handshake's revisions (no protocol version in `_meta`).
    Legacy(Box<Named>),
    /// A 2026-07-28 request, its `named` read (boxed as the transport hands it on).
    Modern(Box<ModernParams>),
}

impl CallRead {
    /// The tool's name and arguments.
    pub(crate) fn into_named(self) -> Option<Named> {
        match self {
            Self::Legacy(named) => Some(*named),
            Self::Modern(modern) => modern.named,
        }
    }
}

/// What a 2026-07-28 request's params say to the transport and the dispatcher.
#[derive(Debug)]
pub(crate) struct ModernParams {
    /// `_meta`'s protocol version; `None` when it is not a string (it is there: that makes the
    /// request a 2026-07-28 one).
    pub(crate) version: Option<Cow<'static, str>>,
    /// `_meta`'s client capabilities, as sent (kept as text when the pass read them).
    pub(crate) capabilities: Option<ClientCapabilities>,
    /// `_meta`'s log level, as sent.
    pub(crate) log_level: Option<Value>,
    /// The member [`target_key`] names for the request's method, when it is a string and not
    /// in `named` (see [`Self::target`]).
    target: Option<String>,
    /// Whether the params carry `inputResponses` or `requestState`; `None` when they were read
    /// by building values, which then reads them again.
    pub(crate) continues_round: Option<bool>,
    /// A `tools/call`'s or `prompts/get`'s params as the dispatcher reads them, when reading
    /// them so would succeed; `None` leaves them to the dispatcher.
    pub(crate) named: Option<Named>,
}

impl ModernParams {
    /// The member [`target_key`] names for the request's method, when it is a string.
    pub(crate) fn target(&self) -> Option<&str> {
        match &self.named {
            Some(named) => Some(&named.name),
            None => self.target.as_deref(),
        }
    }
}

/// The member of a request's params that names its target, which `Mcp-Name` mirrors
/// (basic/transports/streamable-http, "Required headers"; SEP-2663 for a task's requests), and
/// which an input round's state is bound to.
pub(crate) fn target_key(method: &Method) -> Option<&'static str> {
    match method {
        Method::CallTool | Method::GetPrompt => Some("name"),
        Method::ReadResource => Some("uri"),
        Method::GetTask | Method::UpdateTask | Method::CancelTask => Some("taskId"),
        _ => None,
    }
}

/// The params of a 2026-07-28 request (one whose `_meta` names its protocol version), or `None`
/// for a legacy request: the same requests [`modern_meta`] tells apart. `announced` when the
/// transport already says the request is a 2026-07-28 one (its `MCP-Protocol-Version` header):
/// the cheap filters that spare legacy traffic the reading are then skipped, as they would not
/// spare it.
pub(super) fn read_modern(
    method: &Method,
    params: &RawValue,
    announced: bool,
) -> Option<ModernParams> {
    if !announced && !may_carry_modern_meta(params.get().as_bytes()) {
        return None;
    }
    let key = target_key(method);
    let named = matches!(method, Method::CallTool | Method::GetPrompt);
    let mut reader = serde_json::Deserializer::from_str(params.get());
    let read = OnePass { named }
        .deserialize(&mut reader)
        .and_then(|read| reader.end().map(|()| read));
    match read {
        Ok(Some(mut read)) => read.finish(key, named),
        _ => modern_meta(params).map(|meta| ModernParams::from_values(&meta, params, key)),
    }
}

/// The `_meta` of 2026-07-28 params (whose `_meta` names its protocol version), built; `None`
/// for a legacy request's.
pub(super) fn modern_meta(params: &RawValue) -> Option<Map<String, Value>> {
    if !may_carry_modern_meta(params.get().as_bytes()) {
        return None;
    }
    let meta = serde_json::from_str::<MetaOf>(params.get()).ok()?.meta?;
    meta.contains_key(META_PROTOCOL_VERSION).then_some(meta)
}

/// Whether params text may hold a `_meta` naming a protocol version: cheap filters, so that
/// legacy traffic (the hot path) never pays for a second parse.
fn may_carry_modern_meta(bytes: &[u8]) -> bool {
    // Most legacy params have no `_` at all (one `memchr`); `_meta` has one. Escapes spell the
    // names otherwise (`\u005fmeta`, `\/`): text with any is parsed. Without `_` or `\` (one
    // scan for both) there is no `_meta`.
    let Some(first) = memchr::memchr2(b'_', b'\\', bytes) else {
        return false;
    };
    memchr::memchr(b'\\', &bytes[first..]).is_some()
        || PROTOCOL_VERSION_FINDER.find(bytes).is_some()
}

/// The search for [`META_PROTOCOL_VERSION`], built once.
static PROTOCOL_VERSION_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(META_PROTOCOL_VERSION.as_bytes()));

/// A `tools/call`'s params read within its message's one pass: `None` when the pass cannot
/// promise the dispatcher's answer (see [`OnePass`]).
pub(super) struct CallParamsRead(Option<Box<Read>>);

impl<'de> de::Deserialize<'de> for CallParamsRead {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OnePass { named: true }.deserialize(d).map(Self)
    }
}

impl CallParamsRead {
    /// What the dispatcher reads of these params, as it would read them from the message's
    /// `text` (called once, and only for params with `_meta`, which the text is kept for); `None`
    /// for params the dispatcher refuses, or that continue an input round (their responses and
    /// state are read from raw params).
    pub(super) fn into_call(self, text: impl FnOnce() -> ParamsText) -> Option<CallRead> {
        let mut read = self.0?;
        if read.continues_round {
            return None;
        }
        match &read.meta {
            Some(meta) if meta.has_version => {
                let mut modern = read.finish(Some("name"), true)?;
                modern.named.as_mut()?.text = Some(text());
                Some(CallRead::Modern(Box::new(modern)))
            }
            meta => {
                let has_meta = meta.is_some();
                let mut named = read.take_named()?;
                if has_meta {
                    named.text = Some(text());
                }
                Some(CallRead::Legacy(Box::new(named)))
            }
        }
    }
}

impl ModernParams {
    /// The same, read from values built: `meta` and the params as a `Value`.
    fn from_values(meta: &Map<String, Value>, params: &RawValue, key: Option<&str>) -> Self {
        let target = key.and_then(|key| {
            let params = serde_json::from_str::<Value>(params.get()).ok()?;
            params.get(key)?.as_str().map(str::to_owned)
        });
        Self {
            version: meta
                .get(META_PROTOCOL_VERSION)
                .and_then(Value::as_str)
                .map(|version| Cow::Owned(version.to_owned())),
            capabilities: meta
                .get(META_CLIENT_CAPABILITIES)
                .cloned()
                .map(ClientCapabilities::Built),
            log_level: meta.get(META_LOG_LEVEL).cloned(),
            target,
            continues_round: None,
            named: None,
        }
    }
}

/// What one pass over a params object found; the target under each of the keys a method may
/// name it by, since the pass reads every member once.
#[derive(Default)]
struct Read {
    /// `_meta`, once: `None` when `null`.
    meta: Option<Meta>,
    name: Option<String>,
    /// How many times `name` is given.
    names: usize,
    /// `arguments`: given how many times, and the last one (when built).
    arguments: usize,
    last_arguments: Option<ArgumentsValue>,
    uri: Option<String>,
    task_id: Option<String>,
    continues_round: bool,
}

impl Read {
    /// `named`: the params are a `tools/call`'s or a `prompts/get`'s.
    fn finish(&mut self, key: Option<&str>, named: bool) -> Option<ModernParams> {
        let meta = self.meta.take().filter(|meta| meta.has_version)?;
        let named = if named { self.take_named() } else { None };
        let target = match key {
            Some("name") => self.name.take(),
            Some("uri") => self.uri.take(),
            Some("taskId") => self.task_id.take(),
            _ => None,
        };
        Some(ModernParams {
            version: meta.version,
            capabilities: meta.capabilities,
            log_level: meta.log_level,
            target,
            continues_round: Some(self.continues_round),
            named,
        })
    }

    /// The name and arguments, taken, when the dispatcher reads them: `name` once, as a
    /// string, and `arguments` at most once, as an object or `null`.
    fn take_named(&mut self) -> Option<Named> {
        if self.names != 1 || self.name.is_none() {
            return None;
        }
        let arguments = match (self.arguments, &mut self.last_arguments) {
            (0, _) | (1, Some(ArgumentsValue::Null)) => None,
            (1, Some(ArgumentsValue::Object(arguments))) => Some(std::mem::take(arguments)),
            _ => return None,
        };
        Some(Named {
            name: self.name.take()?,
            arguments,
            text: None,
        })
    }
}

#[derive(Default)]
struct Meta {
    has_version: bool,
    version: Option<Cow<'static, str>>,
    capabilities: Option<ClientCapabilities>,
    log_level: Option<Value>,
}

/// The pass over the params, building their `arguments` when `named`: `None` when its answer
/// may differ from the values' (the caller then builds them).
struct OnePass {
    named: bool,
}

impl<'de> DeserializeSeed<'de> for OnePass {
    type Value = Option<Box<Read>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Box<Read>>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnePass {
    type Value = Option<Box<Read>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Box<Read>>, A::Error> {
        // Boxed from the start: what is read (a few hundred bytes) is then never moved on its
        // way from the envelope to the dispatcher, only its pointer.
        let mut read = Box::<Read>::default();
        let mut seen_meta = false;
        while let Some(key) = map.next_key::<ParamsKey>()? {
            match key {
                ParamsKey::Meta => {
                    let MetaValue(meta) = map.next_value()?;
                    // A repeated `_meta`, or one of another type: not for this pass (the rest
                    // of the object is left unread, which fails it).
                    let Some(meta) = meta.filter(|_| !seen_meta) else {
                        return Ok(None);
                    };
                    seen_meta = true;
                    read.meta = meta;
                }
                ParamsKey::Name => {
                    read.names += 1;
                    read.name = map.next_value::<Text>()?.0;
                }
                ParamsKey::Arguments if self.named => {
                    read.arguments += 1;
                    read.last_arguments = Some(map.next_value()?);
                }
                ParamsKey::Uri => read.uri = map.next_value::<Text>()?.0,
                ParamsKey::TaskId => read.task_id = map.next_value::<Text>()?.0,
                ParamsKey::Round => {
                    read.continues_round = true;
                    map.next_value::<Skip>()?;
                }
                ParamsKey::Arguments | ParamsKey::Other => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(read))
    }
}

/// `arguments`, built as the dispatcher builds them: `null`, an object, or anything else.
enum ArgumentsValue {
    Null,
    Object(Arguments),
    Other,
}

impl<'de> de::Deserialize<'de> for ArgumentsValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = ArgumentsValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, _: &str) -> Result<ArgumentsValue, E> {
                Ok(ArgumentsValue::Other)
            }
            fn visit_unit<E>(self) -> Result<ArgumentsValue, E> {
                Ok(ArgumentsValue::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ArgumentsValue, A::Error> {
                Arguments::read(map).map(ArgumentsValue::Object)
            }
            skip_other_json!(ArgumentsValue::Other);
        }
        d.deserialize_any(Any)
    }
}

/// A member name of the params, told apart without allocating.
pub(super) enum ParamsKey {
    Meta,
    Name,
    Arguments,
    Uri,
    TaskId,
    /// `inputResponses` or `requestState`.
    Round,
    Other,
}

/// A member name of `_meta`.
enum MetaKey {
    Version,
    Capabilities,
    LogLevel,
    Other,
}

/// Keys read as strings (as a `Value` reads them: escapes decoded, lone surrogates refused),
/// compared, and dropped.
macro_rules! key {
    ($name:ident, $($text:pat => $variant:expr,)*) => {
        impl<'de> de::Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Key;
                impl Visitor<'_> for Key {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a member name")
                    }
                    fn visit_str<E>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($text => $variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                d.deserialize_str(Key)
            }
        }
    };
}

key!(ParamsKey,
    "_meta" => ParamsKey::Meta,
    "name" => ParamsKey::Name,
    "arguments" => ParamsKey::Arguments,
    "uri" => ParamsKey::Uri,
    "taskId" => ParamsKey::TaskId,
    "inputResponses" => ParamsKey::Round,
    "requestState" => ParamsKey::Round,
);
key!(MetaKey,
    META_PROTOCOL_VERSION => MetaKey::Version,
    META_CLIENT_CAPABILITIES => MetaKey::Capabilities,
    META_LOG_LEVEL => MetaKey::LogLevel,
);

/// A value kept only when it is a string.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<SkipKey, Skip>()?.is_some() {}
                Ok(Text(None))
            }
            skip_other_json!(Text(None));
        }
        d.deserialize_any(Any)
    }
}

/// The protocol version: kept only when it is a string, and then allocated only when it is no
/// revision served.
struct Version(Option<Cow<'static, str>>);

impl<'de> de::Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Version, E> {
                Ok(Version(Some(
                    match MODERN_PROTOCOL_VERSIONS.iter().find(|known| **known == v) {
                        Some(known) => Cow::Borrowed(*known),
                        None => Cow::Owned(v.to_owned()),
                    },
                )))
            }
            fn visit_unit<E>(self) -> Result<Version, E> {
                Ok(Version(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Version, A::Error> {
                while map.next_entry::<SkipKey, Skip>()?.is_some() {}
                Ok(Version(None))
            }
            skip_other_json!(Version(None));
        }
        d.deserialize_any(Any)
    }
}

/// `_meta`: `Some(None)` for `null`, `Some(Some(_))` for an object, `None` for anything else.
struct MetaValue(Option<Option<Meta>>);

impl<'de> de::Deserialize<'de> for MetaValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = MetaValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, _: &str) -> Result<MetaValue, E> {
                Ok(MetaValue(None))
            }
            fn visit_unit<E>(self) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(None)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetaValue, A::Error> {
                // As a map of values reads it: the last of a repeated name counts.
                let mut meta = Meta::default();
                while let Some(key) = map.next_key::<MetaKey>()? {
                    match key {
                        MetaKey::Version => {
                            meta.has_version = true;
                            meta.version = map.next_value::<Version>()?.0;
                        }
                        MetaKey::Capabilities => {
                            // Text a `Value` might refuse: not for this pass (the rest of the
                            // object is left unread, which fails it, and the reader that
                            // builds values refuses what a `Value` refuses).
                            let CapabilitiesText(Some(capabilities)) = map.next_value()? else {
                                return Ok(MetaValue(None));
                            };
                            meta.capabilities = Some(capabilities);
                        }
                        MetaKey::LogLevel => meta.log_level = Some(map.next_value()?),
                        MetaKey::Other => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(MetaValue(Some(Some(meta))))
            }
            skip_other_json!(MetaValue(None));
        }
        d.deserialize_any(Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Message, Request};

    fn request(method: &str, params: &str) -> Request {
        let text = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(request)) => request,
            other => panic!("{other:?}"),
        }
    }

    /// What building values reads: `modern_meta`, and the target from the params as a `Value`.
    fn by_values(request: &Request) -> Option<ModernParams> {
        let key = target_key(&request.method);
        let params = request.params.as_deref()?;
        request
            .modern_meta()
            .map(|meta| ModernParams::from_values(&meta, params, key))
    }

    fn same(a: &ModernParams, b: &ModernParams) -> bool {
        (&a.version, &a.capabilities, &a.log_level, a.target())
            == (&b.version, &b.capabilities, &b.log_level, b.target())
    }

    const V: &str = r#""io.modelcontextprotocol/protocolVersion""#;
    const C: &str = "io.modelcontextprotocol/clientCapabilities";

    fn deep(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn the_one_pass_reads_what_building_values_reads() {
        let cases = [
            // Legacy.
            r#"{}"#.to_owned(),
            r#"{"name":"echo","arguments":{"text":"_"}}"#.to_owned(),
            r#"{"_meta":{"progressToken":1}}"#.to_owned(),
            r#"{"_meta":null}"#.to_owned(),
            format!(r#"{{"_meta":{V}}}"#),
            format!(r#"{{"_meta":[{V}]}}"#),
            // Modern, plainly.
            format!(
                r#"{{"name":"echo","_meta":{{{V}:"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}},"io.modelcontextprotocol/clientInfo":{{"name":"a","version":"1"}}}}}}"#
            ),
            // Spelled with escapes.
            r#"{"n\u0061me":"e\u0063ho","\u005fmeta":{"io.modelcontextprotocol\/protocolVersion":"2026-07-28"}}"#.to_owned(),
            // A version of another type; a log level; capabilities that are not an object.
            format!(
                r#"{{"_meta":{{{V}:7,"io.modelcontextprotocol/logLevel":"debug","io.modelcontextprotocol/clientCapabilities":[1]}}}}"#
            ),
            format!(r#"{{"_meta":{{{V}:null}}}}"#),
            // The last of a repeated member counts.
            format!(r#"{{"name":"a","name":"b","_meta":{{{V}:"x",{V}:"2026-07-28"}}}}"#),
            format!(r#"{{"name":"a","name":5,"_meta":{{{V}:"2026-07-28"}}}}"#),
            // A repeated `_meta`.
            format!(r#"{{"_meta":{{{V}:"2026-07-28"}},"_meta":{{{V}:"2026-07-28"}}}}"#),
            format!(r#"{{"_meta":null,"_meta":{{{V}:"2026-07-28"}}}}"#),
            // Params of another shape.
            format!(r#"[{{{V}:"2026-07-28"}}]"#),
            // Too deep for a `Value`, inside `_meta` and beside it.
            format!(r#"{{"_meta":{{{V}:"2026-07-28","x":{}}}}}"#, deep(200)),
            format!(r#"{{"name":"echo","arguments":{},"_meta":{{{V}:"2026-07-28"}}}}"#, deep(200)),
            format!(r#"{{"name":"echo","arguments":{},"_meta":{{{V}:"2026-07-28"}}}}"#, deep(126)),
            format!(r#"{{"name":"echo","arguments":{},"_meta":{{{V}:"2026-07-28"}}}}"#, deep(127)),
            // A lone surrogate, which a `Value` refuses.
            format!(r#"{{"name":"\ud800","_meta":{{{V}:"2026-07-28"}}}}"#),
            format!(r#"{{"x":{{"\ud800":1}},"_meta":{{{V}:"2026-07-28"}}}}"#),
            // Capabilities kept as text, and `_meta` members beside them: plain, with escapes,
            // numbers in and out of range, deep, a lone surrogate.
            format!(
                r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{"sampling":{{}},"elicitation":{{"form":{{}}}},"n":2E5}}}}}}"#
            ),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{"\u0061":1.5e3}},"x":"\u00e9"}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{"a":"\ud800"}}}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{}},"x":{{"a":"\ud800"}}}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{"a":1e400}}}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{{}},"x":[1e400]}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","x":-1.5E+300,"{C}":{{}}}}}}"#),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{}}}}}"#, deep(100)),
            format!(r#"{{"_meta":{{{V}:"2026-07-28","{C}":{}}}}}"#, deep(200)),
        ];
        for method in ["tools/call", "resources/read", "tasks/get", "tools/list"] {
            for case in &cases {
                let case = case.replace(
                    r#""name""#,
                    &format!(
                        r#""{}""#,
                        target_key(&Method::parse(method)).unwrap_or("name")
                    ),
                );
                let request = request(method, &case);
                match (request.modern(), by_values(&request)) {
                    (None, None) => {}
                    (Some(one), Some(values)) => {
                        assert!(
                            same(&one, &values),
                            "{method} {case}: {one:?} != {values:?}"
                        );
                    }
                    (one, values) => panic!("{method} {case}: {one:?} != {values:?}"),
                }
            }
        }
    }

    #[test]
    fn params_a_value_refuses_are_read_the_old_way() {
        // Too deep for a `Value` beside `_meta`: still a 2026-07-28 request (only `_meta` tells),
        // but no target can be read from params a `Value` refuses, and the round is left to the
        // dispatcher's own reading (which refuses them).
        let params = format!(
            r#"{{"name":"echo","arguments":{},"_meta":{{{V}:"2026-07-28"}}}}"#,
            deep(200)
        );
        let read = request("tools/call", &params).modern().expect("modern");
        assert_eq!(read.version.as_deref(), Some("2026-07-28"));
        assert_eq!(read.target(), None);
        assert_eq!(read.continues_round, None);
        let plain = format!(r#"{{"name":"echo","_meta":{{{V}:"2026-07-28"}}}}"#);
        let read = request("tools/call", &plain).modern().expect("modern");
        assert_eq!(read.target(), Some("echo"));
        assert_eq!(read.continues_round, Some(false));
    }

    #[test]
    fn a_round_is_continued_by_its_responses_or_state() {
        let read = |params: &str| {
            request(
                "tools/call",
                &format!(r#"{{"name":"t","_meta":{{{V}:"2026-07-28"}}{params}}}"#),
            )
            .modern()
            .unwrap()
            .continues_round
        };
        assert_eq!(read(""), Some(false));
        assert_eq!(read(r#","inputResponses":{}"#), Some(true));
        assert_eq!(read(r#","requestState":"s""#), Some(true));
        assert_eq!(read(r#","requestState":null"#), Some(true));
    }

    #[test]
    fn the_target_is_the_methods_own_member() {
        let target = |method: &str| {
            request(
                method,
                &format!(r#"{{"name":"n","uri":"u","taskId":"t","_meta":{{{V}:"2026-07-28"}}}}"#),
            )
            .modern()
            .unwrap()
            .target()
            .map(str::to_owned)
        };
        assert_eq!(target("tools/call").as_deref(), Some("n"));
        assert_eq!(target("prompts/get").as_deref(), Some("n"));
        assert_eq!(target("resources/read").as_deref(), Some("u"));
        assert_eq!(target("tasks/cancel").as_deref(), Some("t"));
        assert_eq!(target("tools/list"), None);
    }
}

//! The raw JSON the dispatcher answers with.

use serde_json::value::RawValue;

use crate::protocol::to_raw;

pub(super) fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}

pub(super) fn raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    to_raw(value).expect("protocol values always serialize")
}

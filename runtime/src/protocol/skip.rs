//! JSON read and dropped, as a `serde_json::Value` reads it: every string decoded, every level
//! counted against the nesting limit, so that a reader that builds nothing refuses exactly what
//! building the value would.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};

/// Visitor methods for the JSON a reader skips: scalars taken, arrays and objects walked
/// through with [`Skip`] (so that what a `Value` refuses, this refuses too).
macro_rules! skip_other_json {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_seq<A: ::serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<$crate::protocol::Skip>()?.is_some() {}
            Ok($value)
        }
    };
}

/// Any JSON value, read as a `Value` reads it (every string decoded, every level counted
/// against the nesting limit) and dropped.
pub(crate) struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<SkipKey, Skip>()?.is_some() {}
                Ok(Skip)
            }
            skip_other_json!(Skip);
        }
        d.deserialize_any(Any)
    }
}

/// A member name, decoded and dropped.
pub(crate) struct SkipKey;

impl<'de> de::Deserialize<'de> for SkipKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = SkipKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, _: &str) -> Result<SkipKey, E> {
                Ok(SkipKey)
            }
        }
        d.deserialize_str(Key)
    }
}

pub(crate) use skip_other_json;

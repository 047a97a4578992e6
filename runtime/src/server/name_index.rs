//! [`NameIndex`]: names the code declares, looked up by the names clients send.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Names the code declares (tools, prompts, static resource URIs) -> their index.
pub(super) type NameIndex = HashMap<&'static str, usize, BuildHasherDefault<NameHash>>;

/// FNV-1a, for [`NameIndex`]. Its keys are fixed when the server is built, from the code, so a
/// client choosing the name looked up cannot lengthen a probe and there is no flooding for
/// SipHash to defend against; a short name hashes in a few instructions instead of ~100.
pub(super) struct NameHash(u64);

impl Default for NameHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHash {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_index_hashes_with_fnv_1a_and_finds_exactly_its_names() {
        // The published FNV-1a 64-bit test vectors.
        for (input, expected) in [
            ("", 0xcbf2_9ce4_8422_2325_u64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            let mut hash = NameHash::default();
            hash.write(input.as_bytes());
            assert_eq!(hash.finish(), expected, "{input:?}");
        }
        let names: Vec<&'static str> = (0..100)
            .map(|i| &*Box::leak(format!("tool_{i}").into_boxed_str()))
            .collect();
        let mut index = NameIndex::default();
        for (i, name) in names.iter().enumerate() {
            assert!(index.insert(name, i).is_none());
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(name), Some(&i));
        }
        for absent in ["", "tool_", "tool_100", "Tool_1", "tool_1\0"] {
            assert_eq!(index.get(absent), None, "{absent:?}");
        }
    }
}

//! Comparing secrets without telling, by the time it takes, how much of them matched.

/// Whether two secrets are equal, in a time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_compared_whole() {
        assert!(constant_time_eq(b"abc.def.ghi", b"abc.def.ghi"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"abc.def.ghj"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"xbc.def.ghi"));
        assert!(!constant_time_eq(b"abc.def.ghi", b"abc.def.gh"));
        assert!(constant_time_eq(b"", b""));
    }
}

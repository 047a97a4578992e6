//! Comparing secrets without telling, by the time it takes, how much of them matched.

/// Whether two secrets are equal, in a time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time (a bearer token is hundreds): the differences are gathered, never
    // tested, until the end.
    let ((a_words, a_tail), (b_words, b_tail)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    let tail = a_tail
        .iter()
        .zip(b_tail)
        .fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    a_words.iter().zip(b_words).fold(tail, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    }) == 0
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

    #[test]
    fn every_byte_counts_in_words_and_in_the_tail() {
        let token: Vec<u8> = (0..=255u8).cycle().take(643).collect();
        assert!(constant_time_eq(&token, &token.clone()));
        for at in [0, 7, 8, 100, 639, 640, 641, 642] {
            let mut other = token.clone();
            other[at] ^= 0x01;
            assert!(!constant_time_eq(&token, &other), "a change at {at}");
        }
        assert!(!constant_time_eq(&token, &token[..642]));
    }
}

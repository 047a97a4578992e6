//! Comparing secrets without telling, by the time it takes, how much of them matched.

/// Whether two secrets are equal, in a time that depends on their length only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Thirty-two bytes at a time in four lanes of eight (a bearer token is hundreds of bytes,
    // compared on every request; the lanes let the compiler use vector registers), then eight,
    // then one: the differences are gathered, never tested, until the end.
    let ((a_blocks, a_rest), (b_blocks, b_rest)) = (a.as_chunks::<32>(), b.as_chunks::<32>());
    let lanes = a_blocks
        .iter()
        .zip(b_blocks)
        .fold([0u64; 4], |mut acc, (x, y)| {
            let (x, y) = (x.as_chunks::<8>().0, y.as_chunks::<8>().0);
            for lane in 0..4 {
                acc[lane] |= u64::from_ne_bytes(x[lane]) ^ u64::from_ne_bytes(y[lane]);
            }
            acc
        });
    let ((a_words, a_tail), (b_words, b_tail)) = (a_rest.as_chunks::<8>(), b_rest.as_chunks::<8>());
    let words = a_words.iter().zip(b_words).fold(0u64, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    let tail = a_tail
        .iter()
        .zip(b_tail)
        .fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    (lanes[0] | lanes[1] | lanes[2] | lanes[3] | words | tail) == 0
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
        // Every length through two blocks, a word and a tail, with a change at every place:
        // each byte is compared in whichever part (block lanes, words, tail) holds it.
        for len in 0..=75 {
            let text = &token[..len];
            // A copy: two buffers, as a lookup compares.
            let copy = text.to_vec();
            assert!(constant_time_eq(text, &copy), "length {len}");
            for at in 0..len {
                let mut other = text.to_vec();
                other[at] ^= 0x80;
                assert!(
                    !constant_time_eq(text, &other),
                    "length {len}, a change at {at}"
                );
            }
        }
    }
}

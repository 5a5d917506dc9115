//! Weights of in-process cache entries. The caches that hold tokens' claims and users' ACL
//! facts are bounded by the bytes they hold rather than by their number of entries: one
//! entry may be a hundred times the size of another (a token with profile claims, a
//! workspace with many apps), so a count alone would let their memory follow the data.

/// The length of `value` written as JSON, counted without writing it anywhere: a stand-in
/// for the heap the value holds.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    let mut count = ByteCount(0);
    // Counting cannot fail; a value whose `Serialize` fails counts what it wrote before.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// An entry's weight in bytes as the `u32` the caches take (saturating: an entry of 4 GiB
/// or more is as heavy as one can be).
pub fn weight(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// A writer that only counts what is written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_length_is_that_of_the_written_text() {
        let value = serde_json::json!({"sub": "u1", "groups": ["a", "b"], "n": 12});
        assert_eq!(json_len(&value), serde_json::to_vec(&value).unwrap().len());
        assert_eq!(json_len("é"), "\"é\"".len());
        assert_eq!(weight(12), 12);
        assert_eq!(weight(usize::MAX), u32::MAX);
    }
}

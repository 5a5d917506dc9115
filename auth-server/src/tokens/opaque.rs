//! Opaque tokens (refresh tokens, opaque access tokens, codes, client secrets): 256 random
//! bits, stored only as a SHA-256 hash.
//!
//! A slow hash adds nothing for a uniformly random 256-bit value (DESIGN.md), and the
//! lookup by hash keeps the token endpoint fast. An opaque token is base64url without
//! padding (43 characters, no `.`), so it can never be mistaken for a compact JWT.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::zeroize::Zeroize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of entropy in a token.
const TOKEN_BYTES: usize = 32;

/// Generates a token: `(token, hash_token(token))`. Hand the first to the client, store
/// the second.
pub fn generate() -> (String, String) {
    let mut bytes = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    let hash = hash_token(&token);
    (token, hash)
}

/// A fixed-size in-process cache key over several parts (no allocation per lookup, no
/// secret kept in the key, collision-free across tenants).
pub fn digest_key(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") never share a key.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// SHA-256 of the token text, lowercase hex: the database lookup key.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `secret` hashes to `stored_hex` (a [`hash_token`] value), in constant time:
/// `hash_token(secret) == stored_hex`, with the hex written on the stack rather than into
/// a new string (client authentication runs on every token and introspection request).
pub fn secret_matches(secret: &str, stored_hex: &str) -> bool {
    let mut computed = [0u8; 64];
    // Cannot fail: 32 bytes are always 64 hex digits.
    let _ = hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut computed);
    constant_time_eq(&computed, stored_hex.as_bytes())
}

/// Constant-time equality (for values compared outside an indexed lookup, such as a
/// client secret hash or a PKCE verifier), so timing does not reveal the matching prefix.
/// Lengths are not secret: slices of different lengths are simply unequal.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_keys_keep_their_parts_apart() {
        assert_ne!(digest_key(&["ab", "c"]), digest_key(&["a", "bc"]));
        assert_eq!(digest_key(&["s", "t"]), digest_key(&["s", "t"]));
    }

    #[test]
    fn generated_tokens_are_43_url_safe_chars_and_hash_consistently() {
        let (token, hash) = generate();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(hash, hash_token(&token));
        assert_eq!(hash.len(), 64);
        let (other, _) = generate();
        assert_ne!(token, other);
    }

    #[test]
    fn hash_token_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_match_their_stored_hash_only() {
        let stored = hash_token("s3cret");
        assert!(secret_matches("s3cret", &stored));
        assert!(!secret_matches("s3cres", &stored));
        assert!(!secret_matches("s3cret", &stored[..62]));
        assert!(!secret_matches("s3cret", ""));
        let not_hex = format!("{}zz", &stored[..62]);
        assert!(!secret_matches("s3cret", &not_hex));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"samE"));
        assert!(!constant_time_eq(b"same", b"sam"));
        assert!(constant_time_eq(b"", b""));
    }
}

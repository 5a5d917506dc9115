//! Recovery codes: ten single-use codes of 80 random bits each, shown once, stored as
//! SHA-256 hashes bound to their user.
//!
//! Why SHA-256 and not a slow KDF: a slow hash protects guessable secrets; an 80-bit
//! random code cannot be brute-forced from its hash, and a fast hash lets the login
//! step look a code up by hash instead of trying ten argon2 verifications (the same
//! reasoning DESIGN.md applies to client secrets). Guessing online is throttled by the
//! same lock as TOTP codes.

use sha2::{Digest, Sha256};

/// How many codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes per code (80 bits, above SECURITY.md's 50-bit floor).
pub const CODE_BYTES: usize = 10;
/// Base32 characters per code (80 bits / 5).
const CODE_CHARS: usize = 16;

/// A recovery code as shown to the user: `xxxx-xxxx-xxxx-xxxx` (RFC 4648 base32, lower
/// case, so it cannot be confused with a 6-digit TOTP code).
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<secret>)")
    }
}

impl RecoveryCode {
    /// The code made from `CODE_BYTES` random bytes.
    pub fn from_random(bytes: &[u8; CODE_BYTES]) -> RecoveryCode {
        let raw = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, bytes)
            .to_ascii_lowercase();
        RecoveryCode(raw)
    }

    /// The display form with dashes every four characters.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The stored hash of this code for `user_id`.
    pub fn hash(&self, user_id: &str) -> String {
        hash(user_id, &self.0)
    }
}

/// The normalised form of a typed recovery code (dashes and case ignored), or `None`
/// when it cannot be one.
pub fn normalise(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == CODE_CHARS && s.chars().all(|c| matches!(c, 'a'..='z' | '2'..='7'))).then_some(s)
}

/// SHA-256 of `user_id:code` in hex: a code copied into another user's row is useless.
pub fn hash(user_id: &str, normalised: &str) -> String {
    let mut h = Sha256::new();
    h.update(user_id.as_bytes());
    h.update(b":");
    h.update(normalised.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_round_trips_through_its_display_form() {
        let code = RecoveryCode::from_random(&[0xA5; CODE_BYTES]);
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        let typed = normalise(&shown.to_uppercase()).unwrap();
        assert_eq!(hash("u1", &typed), code.hash("u1"));
    }

    #[test]
    fn the_hash_is_bound_to_the_user() {
        let code = RecoveryCode::from_random(&[7; CODE_BYTES]);
        assert_ne!(code.hash("u1"), code.hash("u2"));
    }

    #[test]
    fn wrong_shapes_are_not_recovery_codes() {
        for bad in [
            "abcd-efgh-ijkl",
            "abcd-efgh-ijkl-mno1",
            "abcd-efgh-ijkl-mnop-q",
            "äbcd-efgh-ijkl-mnop",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }
}

//! Unguessable identifiers and secrets from the OS CSPRNG.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// `bytes` random bytes, base64url without padding (32 bytes = 256 bits).
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new internal id.
pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

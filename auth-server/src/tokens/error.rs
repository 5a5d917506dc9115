//! Errors of the `tokens` module.
//!
//! Two enums: [`KeyError`] for key material (master key, signing keys) and [`TokenError`]
//! for JWT signing and verification. No variant carries key bytes, token text or library
//! error text that could echo either: an error message may end up in a log line.

use thiserror::Error;

/// Failure to parse, generate, load or use key material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The master key text is neither base64 nor 64 hex characters.
    #[error(
        "master key is not valid base64 (standard or URL-safe) or 64 hex characters; \
         expected the encoding of exactly 32 random bytes"
    )]
    MasterKeyEncoding,
    /// The master key decoded to the wrong number of bytes.
    #[error("master key must be exactly 32 bytes, got {got} bytes after decoding")]
    MasterKeyLength {
        /// How many bytes the text decoded to.
        got: usize,
    },
    /// An encrypted blob has a version byte this build does not know.
    #[error("encrypted blob has unsupported format version {0}")]
    UnsupportedBlobVersion(u8),
    /// An encrypted blob is shorter than version + nonce + tag.
    #[error("encrypted blob is truncated")]
    TruncatedBlob,
    /// AES-GCM authentication failed: wrong master key, wrong AAD or a tampered blob.
    #[error("decryption failed: wrong master key, wrong associated data or tampered ciphertext")]
    Decrypt,
    /// AES-GCM refused to encrypt (only possible for absurdly large inputs).
    #[error("encryption failed")]
    Encrypt,
    /// The algorithm name is not one this server signs with.
    #[error("unsupported signing algorithm {0:?}; expected RS256, ES256 or EdDSA")]
    UnsupportedAlg(String),
    /// The key status name is not `next`, `active` or `retired`.
    #[error("unknown key status {0:?}; expected next, active or retired")]
    UnknownStatus(String),
    /// Key generation failed inside the crypto crate.
    #[error("key generation failed for {0}")]
    Generate(&'static str),
    /// The private key DER could not be parsed as PKCS#8 for the stated algorithm.
    #[error("private key for kid {kid} is not valid PKCS#8 DER for {alg}")]
    InvalidPrivateKey {
        /// The key id of the offending row.
        kid: String,
        /// The algorithm the row claims.
        alg: &'static str,
    },
    /// The stored public JWK does not describe the public half of the stored private key.
    #[error("public JWK for kid {kid} does not match its private key ({field})")]
    JwkMismatch {
        /// The key id of the offending row.
        kid: String,
        /// The first JWK member that differs.
        field: &'static str,
    },
}

/// Failure to sign or verify a JWT.
///
/// Verification errors are deliberately coarse: callers map all of them to
/// `invalid_token` / `invalid_grant`, and a finer split would only help an attacker probe.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not a compact JWS, bad base64/JSON, an `alg` we do not know (including `none`),
    /// a `crit` header, or a missing/non-numeric `exp`.
    #[error("malformed token")]
    Malformed,
    /// No `kid`, or a `kid` that is not (or no longer) published in the key ring.
    #[error("token signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify, or the header `alg` is not the key's algorithm.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is at or before `now - leeway`.
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is after `now + leeway`.
    #[error("token not yet valid")]
    NotYetValid,
    /// The header `typ` is not the expected one (e.g. an ID token offered as an access token).
    #[error("wrong token type")]
    WrongType,
    /// The `iss` claim is missing or not the expected issuer.
    #[error("wrong token issuer")]
    WrongIssuer,
    /// A failure that is not the token's fault (e.g. claims that do not serialize).
    #[error("internal token error: {0}")]
    Internal(String),
}

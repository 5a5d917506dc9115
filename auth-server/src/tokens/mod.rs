//! Tokens and keys (DESIGN.md "Tokens and keys"): claim sets (RFC 9068 access tokens,
//! OIDC ID tokens), JWT signing and verification, opaque tokens and their SHA-256 hashes,
//! signing keys and the per-subscription [`KeyRing`] (active, next, retired), the rotation
//! policy, and the [`MasterKey`] that encrypts private keys at rest.
//!
//! Pure and synchronous: every time-dependent function takes `now` (unix seconds) and no
//! clock is read here; no IO, no async runtime, no web or database types. Randomness comes
//! from the OS RNG (key generation, nonces, opaque tokens). RSA key generation is slow:
//! callers run [`generate`] on a blocking thread.
//!
//! JOSE and crypto come from jsonwebtoken (rust_crypto), rsa, p256, ed25519-dalek,
//! aes-gcm and sha2; nothing here implements a primitive.

pub mod assertion;
pub mod claims;
pub mod error;
pub mod jwt;
pub mod keyring;
pub mod keys;
pub mod master_key;
pub mod opaque;

pub use assertion::{VerifiedAssertion, assertion_subject, verify_client_assertion};
pub use claims::{AccessTokenClaims, Audience, IdTokenClaims, RESERVED_ID_TOKEN_CLAIMS, at_hash};
pub use error::{KeyError, TokenError};
pub use jwt::{Claims, TYP_ACCESS_TOKEN, TYP_ID_TOKEN, expect_issuer, sign, verify};
pub use keyring::{
    KeyMeta, KeyRing, Retirement, RotationPlan, plan_rotation, retired_publish_until,
};
pub use keys::{Alg, GeneratedKey, KeyStatus, SigningKey, generate};
pub use master_key::MasterKey;
pub use opaque::{constant_time_eq, digest_key, hash_token, secret_matches};

//! PKCE (RFC 7636) through oxide-auth's `Pkce::required()`: S256 only, `plain` and an
//! omitted method (which defaults to `plain`) refused, and no downgrade (a verifier is
//! never accepted without a stored challenge). oxide-auth types stay in this file.

use oxide_auth::code_grant::extensions::Pkce;
use oxide_auth::primitives::grant::Value;
use std::borrow::Cow;

/// Validate an authorization request's challenge; returns the encoded form to store
/// with the code, or a description of what is wrong (`invalid_request`).
pub fn challenge(method: Option<&str>, challenge: Option<&str>) -> Result<String, &'static str> {
    let Some(ch) = challenge else {
        return Err("code_challenge is required (PKCE, S256)");
    };
    match method {
        Some("S256") => {}
        None => return Err("code_challenge_method is required and must be S256"),
        Some(_) => return Err("code_challenge_method must be S256"),
    }
    // An S256 challenge is a base64url SHA-256: exactly 43 characters.
    if ch.len() != 43
        || !ch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("code_challenge must be the base64url SHA-256 of the verifier (43 characters)");
    }
    let value = Pkce::required()
        .challenge(method.map(Cow::Borrowed), Some(Cow::Borrowed(ch)))
        .map_err(|()| "unsupported code_challenge")?;
    match value.map(Value::into_private_value) {
        Some(Ok(Some(encoded))) => Ok(encoded),
        _ => Err("unsupported code_challenge"),
    }
}

/// Whether `verifier` is well-formed (RFC 7636 §4.1: 43–128 unreserved characters).
pub fn verifier_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Check a token request's verifier against the stored challenge.
pub fn verify(stored: &str, verifier: &str) -> bool {
    Pkce::required()
        .verify(
            Some(Value::private(Some(stored.to_owned()))),
            Some(Cow::Borrowed(verifier)),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    #[test]
    fn s256_round_trip_and_refusals() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let ch =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
        let stored = challenge(Some("S256"), Some(&ch)).unwrap();
        assert!(verify(&stored, verifier));
        assert!(!verify(
            &stored,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"
        ));
        assert!(challenge(Some("plain"), Some(&ch)).is_err());
        assert!(challenge(None, Some(&ch)).is_err());
        assert!(challenge(Some("S512"), Some(&ch)).is_err());
        assert!(challenge(Some("S256"), None).is_err());
        assert!(challenge(Some("S256"), Some("abc")).is_err());
        assert!(!verifier_well_formed(&"a".repeat(42)));
        assert!(!verifier_well_formed(&"a".repeat(129)));
        assert!(!verifier_well_formed(&format!("{}!", "a".repeat(43))));
    }
}

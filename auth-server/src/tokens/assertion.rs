//! Client authentication with a signed JWT (RFC 7523 §3, `private_key_jwt`): verified
//! against the client's registered JWK set. Asymmetric algorithms only (no `none`, no
//! HMAC keyed with public material), `iss` = `sub` = client id, `aud` naming this
//! issuer or its token endpoint, `exp` required, `jti` required (single use is enforced
//! by the caller, which has the shared store).

use super::TokenError;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Clock skew tolerated on `nbf`/`iat` (FAPI 2: 8 s in the future must pass, 61 s not).
const LEEWAY: i64 = 10;

/// The parts of a verified assertion the caller needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// Its `jti`, to be remembered until `exp`.
    pub jti: String,
    /// Its expiry.
    pub exp: i64,
}

/// The `sub` of an assertion, read unverified only to find the client whose keys then
/// verify it.
pub fn assertion_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_owned)
}

fn usable(jwk: &Jwk) -> bool {
    // jsonwebtoken slices Ed25519 keys to 32 bytes and would panic on a shorter one.
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(okp) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&okp.x)
            .map(|x| x.len() == 32)
            .unwrap_or(false),
        AlgorithmParameters::OctetKey(_) => false,
        _ => true,
    }
}

/// Verify `assertion` for `client_id` with the client's `jwks` at time `now`.
pub fn verify_client_assertion(
    jwks: &Value,
    assertion: &str,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<VerifiedAssertion, TokenError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| TokenError::Malformed)?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(TokenError::BadSignature);
    }
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|_| TokenError::UnknownKey)?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
    .filter(|k| usable(k))
    .ok_or(TokenError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| TokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(assertion, &key, &validation)
        .map_err(|_| TokenError::BadSignature)?;
    let c = data.claims;
    let text = |k: &str| c.get(k).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(TokenError::Malformed);
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenError::Malformed);
    }
    let exp = c
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(TokenError::Malformed)?;
    if exp <= now {
        return Err(TokenError::Expired);
    }
    for k in ["nbf", "iat"] {
        if c.get(k)
            .and_then(Value::as_i64)
            .is_some_and(|t| t > now + LEEWAY)
        {
            return Err(TokenError::NotYetValid);
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(TokenError::Malformed)?;
    Ok(VerifiedAssertion {
        jti: jti.to_owned(),
        exp,
    })
}

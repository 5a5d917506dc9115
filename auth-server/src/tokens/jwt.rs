//! JWT signing and verification (RFC 7515/7519, RFC 9068 for access tokens, OIDC Core
//! §2 for ID tokens): compact serialization and signing with the key's parsed ring key
//! pair, verification with jsonwebtoken.
//!
//! Verification is pinned to the ring: the `kid` picks a published key and the header
//! `alg` must equal that key's algorithm, so `none`, `HS*` with the public key as secret, or
//! any other algorithm confusion fails before a signature is even checked.
//! jsonwebtoken's own time checks read the system clock, so they are switched off and
//! `exp`/`nbf`/`iat` are checked here against the caller's `now`. `aud` and `iss` are the
//! caller's business: a resource's audience and the tenant's issuer are not known here
//! ([`expect_issuer`] helps with the latter).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::TokenError;
use super::keyring::KeyRing;
use super::keys::{KeyStatus, SigningKey};

/// `typ` of access tokens (RFC 9068 §2.1).
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
/// `typ` of ID tokens.
pub const TYP_ID_TOKEN: &str = "JWT";

/// The decoded claims of a verified token.
pub type Claims = Map<String, Value>;

/// Signs `claims` with `key`; header `{alg, kid, typ}`. Only an `Active` key signs: a
/// `Next` key must first be published long enough, a `Retired` one has been replaced.
pub fn sign<C: Serialize>(key: &SigningKey, typ: &str, claims: &C) -> Result<String, TokenError> {
    if key.status() != KeyStatus::Active {
        return Err(TokenError::Internal(format!(
            "refusing to sign with {} key {}",
            key.status(),
            key.kid()
        )));
    }
    #[derive(Serialize)]
    struct JwsHeader<'a> {
        alg: &'static str,
        kid: &'a str,
        typ: &'a str,
    }
    let internal = |what: &str| TokenError::Internal(format!("{what} (kid {})", key.kid()));
    let header = serde_json::to_vec(&JwsHeader {
        alg: key.alg().as_str(),
        kid: key.kid(),
        typ,
    })
    .map_err(|_| internal("header does not serialize"))?;
    // Only the kind of failure: never serde's text, in case it quotes a claim.
    let payload = serde_json::to_vec(claims).map_err(|_| internal("claims do not serialize"))?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key
        .sign_raw(token.as_bytes())
        .ok_or_else(|| internal("signing failed"))?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// The `kid` of a compact JWS's header, unverified (to pick the keys to verify with).
pub fn header_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// Verifies `token` against `ring` at `now` (unix seconds) and returns its claims.
///
/// Checks, in order: compact form and known header; no `crit`; `kid` names a key that is
/// published at `now`; header `alg` is that key's; the signature; `typ` matches
/// `expected_typ` (case-insensitive, `application/` prefix optional, RFC 9068 §4 and
/// RFC 7515 §4.1.9); `exp > now - leeway` (required); `nbf` and `iat`, when present, are
/// not after `now + leeway`.
pub fn verify(
    ring: &KeyRing,
    token: &str,
    expected_typ: &str,
    now: i64,
    leeway: i64,
) -> Result<Claims, TokenError> {
    // An unknown `alg` (including "none") fails to deserialize here.
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we know none.
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
    let key = ring
        .find(kid)
        .filter(|key| key.is_published(now))
        .ok_or(TokenError::UnknownKey)?;
    let alg = key.alg().jwt_algorithm();
    if header.alg != alg {
        return Err(TokenError::BadSignature);
    }

    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    let data =
        jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &validation).map_err(|err| {
            match err.kind() {
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_)
                | ErrorKind::InvalidClaimFormat(_) => TokenError::Malformed,
                ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidKeyFormat => {
                    TokenError::Internal(format!("verification key {kid} is unusable"))
                }
                // Signature mismatch, algorithm trouble, anything new: reject as unsigned.
                _ => TokenError::BadSignature,
            }
        })?;

    if !typ_matches(header.typ.as_deref(), expected_typ) {
        return Err(TokenError::WrongType);
    }
    let claims = data.claims;
    let exp = numeric_claim(&claims, "exp")?.ok_or(TokenError::Malformed)?;
    if exp <= now.saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    for name in ["nbf", "iat"] {
        if let Some(at) = numeric_claim(&claims, name)?
            && at > now.saturating_add(leeway)
        {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(claims)
}

/// Checks that `iss` is exactly `issuer` (the tenant's issuer URL; no normalization, as
/// OIDC Core §3.1.3.7 requires an exact match).
pub fn expect_issuer(claims: &Claims, issuer: &str) -> Result<(), TokenError> {
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == issuer => Ok(()),
        _ => Err(TokenError::WrongIssuer),
    }
}

/// `typ` values compare case-insensitively, with the `application/` prefix optional.
fn typ_matches(actual: Option<&str>, expected: &str) -> bool {
    fn normalize(typ: &str) -> String {
        let lower = typ.trim().to_ascii_lowercase();
        match lower.strip_prefix("application/") {
            Some(rest) => rest.to_owned(),
            None => lower,
        }
    }
    actual.is_some_and(|actual| normalize(actual) == normalize(expected))
}

/// A NumericDate claim (RFC 7519 §2): integer or fractional seconds; anything else is
/// malformed. `Ok(None)` when absent.
fn numeric_claim(claims: &Claims, name: &str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                    // Truncation is fine: sub-second precision is below any leeway.
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(TokenError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::{Alg, generate};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn active(alg: Alg) -> SigningKey {
        SigningKey::from_generated(&generate(alg).unwrap(), KeyStatus::Active, None).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.test/t/acme", "sub": "u1", "aud": "api",
               "iat": NOW, "exp": NOW + 300, "jti": "j1"})
    }

    /// Replaces the header or payload segment of a compact JWS.
    fn with_segment(token: &str, index: usize, json: &Value) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[index] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap());
        parts.join(".")
    }

    fn header_of(token: &str) -> Value {
        let first = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
    }

    #[test]
    fn sign_then_verify_round_trips_for_every_alg() {
        for alg in Alg::ALL {
            let key = active(alg);
            let ring = KeyRing::new(vec![key.clone()]);
            let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
            let header = header_of(&token);
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], key.kid());
            assert_eq!(header["typ"], "at+jwt");
            let got = verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0).unwrap();
            assert_eq!(Value::Object(got.clone()), claims());
            expect_issuer(&got, "https://idp.test/t/acme").unwrap();
            assert_eq!(
                expect_issuer(&got, "https://idp.test/t/other"),
                Err(TokenError::WrongIssuer)
            );
        }
    }

    #[test]
    fn the_published_jwk_verifies_tokens_with_plain_jsonwebtoken() {
        for alg in Alg::ALL {
            let key = active(alg);
            let token = sign(&key, TYP_ID_TOKEN, &claims()).unwrap();
            let jwks = KeyRing::new(vec![key.clone()]).jwks(NOW);
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
            let jwk = set.find(key.kid()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            let mut validation = Validation::new(alg.jwt_algorithm());
            validation.validate_exp = false;
            validation.validate_aud = false;
            let data = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "u1");
        }
    }

    #[test]
    fn a_token_of_a_retired_key_verifies_while_the_key_is_published() {
        let generated = generate(Alg::ES256).unwrap();
        let key = SigningKey::from_generated(&generated, KeyStatus::Active, None).unwrap();
        let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let retired =
            SigningKey::from_generated(&generated, KeyStatus::Retired, Some(NOW + 400)).unwrap();
        let ring = KeyRing::new(vec![active(Alg::ES256), retired]);
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0).is_ok());
        // Once unpublished the key no longer verifies anything.
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW + 400, 1_000),
            Err(TokenError::UnknownKey)
        );
        // And a retired key does not sign.
        let retired = ring.find(generated.kid.as_str()).unwrap();
        assert!(matches!(
            sign(retired, TYP_ACCESS_TOKEN, &claims()),
            Err(TokenError::Internal(_))
        ));
    }

    #[test]
    fn a_token_of_a_next_key_verifies_on_an_instance_that_has_not_seen_the_promotion() {
        let generated = generate(Alg::EdDSA).unwrap();
        let promoted = SigningKey::from_generated(&generated, KeyStatus::Active, None).unwrap();
        let token = sign(&promoted, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let stale = SigningKey::from_generated(&generated, KeyStatus::Next, None).unwrap();
        let ring = KeyRing::new(vec![stale]);
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0).is_ok());
    }

    #[test]
    fn a_tampered_payload_has_a_bad_signature() {
        for alg in Alg::ALL {
            let key = active(alg);
            let ring = KeyRing::new(vec![key.clone()]);
            let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
            let mut forged = claims();
            forged["sub"] = json!("admin");
            let tampered = with_segment(&token, 1, &forged);
            assert_eq!(
                verify(&ring, &tampered, TYP_ACCESS_TOKEN, NOW, 0),
                Err(TokenError::BadSignature)
            );
        }
    }

    #[test]
    fn a_header_alg_other_than_the_keys_is_rejected() {
        let key = active(Alg::RS256);
        let ring = KeyRing::new(vec![key.clone()]);
        let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let mut header = header_of(&token);
        for (alg, expected) in [
            ("HS256", TokenError::BadSignature),
            ("ES256", TokenError::BadSignature),
            ("none", TokenError::Malformed),
            ("None", TokenError::Malformed),
        ] {
            header["alg"] = json!(alg);
            let swapped = with_segment(&token, 0, &header);
            assert_eq!(
                verify(&ring, &swapped, TYP_ACCESS_TOKEN, NOW, 0),
                Err(expected.clone()),
                "{alg}"
            );
            // The classic "alg: none" form with an empty signature.
            let mut parts: Vec<&str> = swapped.split('.').collect();
            parts[2] = "";
            assert_eq!(
                verify(&ring, &parts.join("."), TYP_ACCESS_TOKEN, NOW, 0),
                Err(expected),
                "{alg} without signature"
            );
        }
        // An HS256 token whose secret is the published JWK text: still refused.
        let jwk_text = serde_json::to_vec(key.public_jwk()).unwrap();
        let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs.kid = Some(key.kid().to_owned());
        hs.typ = Some(TYP_ACCESS_TOKEN.into());
        let hs_token = jsonwebtoken::encode(
            &hs,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(&jwk_text),
        )
        .unwrap();
        assert_eq!(
            verify(&ring, &hs_token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_crit_header_is_rejected() {
        let key = active(Alg::EdDSA);
        let ring = KeyRing::new(vec![key.clone()]);
        let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let mut header = header_of(&token);
        header["crit"] = json!(["exp"]);
        let token = with_segment(&token, 0, &header);
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn the_type_must_match_case_insensitively_with_optional_application_prefix() {
        let key = active(Alg::EdDSA);
        let ring = KeyRing::new(vec![key.clone()]);
        let id_token = sign(&key, TYP_ID_TOKEN, &claims()).unwrap();
        assert_eq!(
            verify(&ring, &id_token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::WrongType)
        );
        assert!(verify(&ring, &id_token, "jwt", NOW, 0).is_ok());
        for typ in ["application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
            let token = sign(&key, typ, &claims()).unwrap();
            assert!(
                verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0).is_ok(),
                "{typ}"
            );
        }
    }

    #[test]
    fn expiry_and_not_before_use_the_given_now_and_leeway() {
        let key = active(Alg::ES256);
        let ring = KeyRing::new(vec![key.clone()]);
        let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let exp = NOW + 300;
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, exp - 1, 0).is_ok());
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, exp, 0),
            Err(TokenError::Expired)
        );
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, exp + 29, 30).is_ok());
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, exp + 30, 30),
            Err(TokenError::Expired)
        );
        // iat = NOW: a verifier whose clock is behind sees it in the future.
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW - 31, 30),
            Err(TokenError::NotYetValid)
        );
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, NOW - 30, 30).is_ok());

        let mut later = claims();
        later["nbf"] = json!(NOW + 100);
        let token = sign(&key, TYP_ACCESS_TOKEN, &later).unwrap();
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 30),
            Err(TokenError::NotYetValid)
        );
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, NOW + 70, 30).is_ok());
    }

    #[test]
    fn missing_or_non_numeric_exp_is_malformed() {
        let key = active(Alg::EdDSA);
        let ring = KeyRing::new(vec![key.clone()]);
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        let token = sign(&key, TYP_ACCESS_TOKEN, &no_exp).unwrap();
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::Malformed)
        );
        let mut text_exp = claims();
        text_exp["exp"] = json!("tomorrow");
        let token = sign(&key, TYP_ACCESS_TOKEN, &text_exp).unwrap();
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::Malformed)
        );
        let mut float_exp = claims();
        float_exp["exp"] = json!(NOW as f64 + 10.5);
        let token = sign(&key, TYP_ACCESS_TOKEN, &float_exp).unwrap();
        assert!(verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0).is_ok());
    }

    #[test]
    fn an_unknown_or_missing_kid_is_an_unknown_key() {
        let key = active(Alg::EdDSA);
        let token = sign(&key, TYP_ACCESS_TOKEN, &claims()).unwrap();
        let other_ring = KeyRing::new(vec![active(Alg::EdDSA)]);
        assert_eq!(
            verify(&other_ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::UnknownKey)
        );
        let ring = KeyRing::new(vec![key.clone()]);
        let mut header = header_of(&token);
        header.as_object_mut().unwrap().remove("kid");
        let token = with_segment(&token, 0, &header);
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let ring = KeyRing::new(vec![active(Alg::EdDSA)]);
        for token in [
            "",
            "abc",
            "a.b.c",
            "a.b",
            "....",
            "eyJhbGciOiJFZERTQSJ9.e30",
        ] {
            assert_eq!(
                verify(&ring, token, TYP_ACCESS_TOKEN, NOW, 0),
                Err(TokenError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn a_non_object_payload_is_malformed() {
        let key = active(Alg::EdDSA);
        let ring = KeyRing::new(vec![key.clone()]);
        let token = sign(&key, TYP_ACCESS_TOKEN, &json!([1, 2])).unwrap();
        assert_eq!(
            verify(&ring, &token, TYP_ACCESS_TOKEN, NOW, 0),
            Err(TokenError::Malformed)
        );
    }
}

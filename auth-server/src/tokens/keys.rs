//! Signing keys: generation, public JWK (RFC 7517/7518/8037), loading for signing (ring,
//! ed25519-dalek) and for verification (jsonwebtoken).
//!
//! Private keys travel as PKCS#8 DER (the row's `private_key`, sealed by
//! [`MasterKey`](super::MasterKey)). The `kid` is the RFC 7638 JWK thumbprint (SHA-256,
//! base64url): deterministic, 43 characters, and it reveals nothing beyond the public key.
//!
//! Signing uses key pairs parsed once per key load (ring's for RSA and P-256,
//! ed25519-dalek's for Ed25519): jsonwebtoken's `EncodingKey` keeps
//! only bytes and re-parses them (and, for ECDSA, recomputes the public point) on every
//! signature, which cost more than the signature itself and capped token issuance.
//! Verification keys for jsonwebtoken are built from the public members:
//! - RS256: `DecodingKey` from the raw `n`/`e`.
//! - ES256: `DecodingKey` from the uncompressed SEC1 point (`from_ec_components`).
//! - EdDSA: `DecodingKey::from_ed_der` wants the **raw 32-byte** public key (not SPKI), so
//!   `from_ed_components` is used.
//!
//! The verification key is always derived from the private key, and the stored public JWK
//! must match it: a row whose JWK was altered is refused rather than published.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey};
use rand::rngs::OsRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::KeyError;

/// RSA modulus size for new keys; also the minimum accepted when loading.
const RSA_BITS: usize = 2048;

/// A JWS algorithm this server signs with.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256; the OIDC default for ID tokens.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl Alg {
    /// Every supported algorithm.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JWA name (`"RS256"`, `"ES256"`, `"EdDSA"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The jsonwebtoken algorithm with the same name.
    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            Alg::RS256 => Algorithm::RS256,
            Alg::ES256 => Algorithm::ES256,
            Alg::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = KeyError;

    /// Exact, case-sensitive JWA names: `alg` values are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| KeyError::UnsupportedAlg(s.to_owned()))
    }
}

/// Where a key is in its life: published before it signs, signing, then published until
/// the tokens it signed have expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Published in JWKS, not yet signing.
    Next,
    /// Signing (one per algorithm) and published.
    Active,
    /// No longer signing; published until `publish_until`.
    Retired,
}

impl KeyStatus {
    /// The stored name (`"next"`, `"active"`, `"retired"`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Next => "next",
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyStatus {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [KeyStatus::Next, KeyStatus::Active, KeyStatus::Retired]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| KeyError::UnknownStatus(s.to_owned()))
    }
}

/// A freshly generated key pair, ready to be encrypted and stored.
#[derive(Clone)]
pub struct GeneratedKey {
    /// RFC 7638 SHA-256 thumbprint of the public key, base64url.
    pub kid: String,
    /// The algorithm the key signs with.
    pub alg: Alg,
    /// The private key as PKCS#8 DER. Encrypt it with the master key before storing.
    pub private_der: Vec<u8>,
    /// The public JWK with `kty`, `kid`, `alg`, `use: "sig"` and the key members.
    pub public_jwk: Value,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_der", &"[REDACTED]")
            .finish()
    }
}

/// Generates a new key: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA.
///
/// CPU-heavy for RS256 (tens to hundreds of milliseconds): callers on an async executor
/// run it on a blocking thread.
pub fn generate(alg: Alg) -> Result<GeneratedKey, KeyError> {
    let private_der = match alg {
        Alg::RS256 => rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
            .ok()
            .and_then(|key| key.to_pkcs8_der().ok()),
        Alg::ES256 => p256::ecdsa::SigningKey::random(&mut OsRng)
            .to_pkcs8_der()
            .ok(),
        Alg::EdDSA => ed25519_dalek::SigningKey::generate(&mut OsRng)
            .to_pkcs8_der()
            .ok(),
    }
    .map(|doc| doc.as_bytes().to_vec())
    .ok_or(KeyError::Generate(alg.as_str()))?;
    let loaded = load_private(alg, &private_der).ok_or(KeyError::Generate(alg.as_str()))?;
    let kid = thumbprint(&loaded.members).ok_or(KeyError::Generate(alg.as_str()))?;
    let public_jwk = full_jwk(&kid, alg, &loaded.members);
    Ok(GeneratedKey {
        kid,
        alg,
        private_der,
        public_jwk,
    })
}

/// A key loaded for use: the parsed private key (signing) and the jsonwebtoken decoding key,
/// built once, plus the metadata the key ring needs.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Alg,
    status: KeyStatus,
    publish_until: Option<i64>,
    public_jwk: Value,
    signer: Arc<Signer>,
    decoding: DecodingKey,
}

impl SigningKey {
    /// Loads a stored key. `private_der` is the decrypted PKCS#8 DER; `public_jwk` is the
    /// stored public JWK, which must match the private key (and carry this `kid` and `alg`).
    /// `publish_until` (unix seconds) matters only for retired keys.
    pub fn from_parts(
        kid: String,
        alg: Alg,
        status: KeyStatus,
        private_der: &[u8],
        public_jwk: Value,
        publish_until: Option<i64>,
    ) -> Result<SigningKey, KeyError> {
        let loaded = load_private(alg, private_der).ok_or_else(|| KeyError::InvalidPrivateKey {
            kid: kid.clone(),
            alg: alg.as_str(),
        })?;
        let mismatch = |field: &'static str| KeyError::JwkMismatch {
            kid: kid.clone(),
            field,
        };
        let stored = public_jwk.as_object().ok_or_else(|| mismatch("object"))?;
        for (name, value) in &loaded.members {
            if stored.get(name) != Some(value) {
                return Err(mismatch(member_name(name)));
            }
        }
        if stored.get("kid").and_then(Value::as_str) != Some(kid.as_str()) {
            return Err(mismatch("kid"));
        }
        if stored.get("alg").and_then(Value::as_str) != Some(alg.as_str()) {
            return Err(mismatch("alg"));
        }
        Ok(SigningKey {
            kid,
            alg,
            status,
            publish_until,
            public_jwk,
            signer: Arc::new(loaded.signer),
            decoding: loaded.decoding,
        })
    }

    /// Loads a key straight from [`generate`]'s output (tests, bootstrap).
    pub fn from_generated(
        key: &GeneratedKey,
        status: KeyStatus,
        publish_until: Option<i64>,
    ) -> Result<SigningKey, KeyError> {
        SigningKey::from_parts(
            key.kid.clone(),
            key.alg,
            status,
            &key.private_der,
            key.public_jwk.clone(),
            publish_until,
        )
    }

    /// The key id (`kid` header and JWK member).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with; the only `alg` accepted for its tokens.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key's life-cycle status.
    pub fn status(&self) -> KeyStatus {
        self.status
    }

    /// Until when (unix seconds) a retired key stays in JWKS.
    pub fn publish_until(&self) -> Option<i64> {
        self.publish_until
    }

    /// The public JWK as published in JWKS.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Whether the key is in JWKS (and so verifies tokens) at `now`: next and active keys
    /// always; a retired key while `now < publish_until`. A retired key without
    /// `publish_until` is not published: [`super::plan_rotation`] always sets one.
    pub fn is_published(&self, now: i64) -> bool {
        match self.status {
            KeyStatus::Next | KeyStatus::Active => true,
            KeyStatus::Retired => self.publish_until.is_some_and(|until| now < until),
        }
    }

    /// The raw JWS signature of `message` (RFC 7518 §3: PKCS#1 v1.5, fixed-size `r‖s`, or
    /// Ed25519); `None` only if the crypto library fails.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Option<Vec<u8>> {
        self.signer.sign(message)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("status", &self.status)
            .field("publish_until", &self.publish_until)
            .finish_non_exhaustive()
    }
}

/// What a parsed private key yields: the JWK key members, the signer and the verifier.
struct LoadedKey {
    /// `kty`, `crv`, `n`, `e`, `x`, `y` as applicable: the RFC 7638 required members.
    members: Map<String, Value>,
    signer: Signer,
    decoding: DecodingKey,
}

/// A private key parsed once for signing. Ed25519 signs with ed25519-dalek rather than
/// ring: on the host measured it signs in about 20 µs against ring's 25 µs
/// (docs/performance.md session 15; `benches/signing.rs` compares them), the largest part
/// of an EdDSA token's cost.
enum Signer {
    Rsa(ring::signature::RsaKeyPair),
    Ecdsa(ring::signature::EcdsaKeyPair),
    Ed25519(ed25519_dalek::SigningKey),
}

impl Signer {
    fn from_pkcs8(alg: Alg, der: &[u8]) -> Option<Signer> {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        Some(match alg {
            Alg::RS256 => Signer::Rsa(ring::signature::RsaKeyPair::from_pkcs8(der).ok()?),
            Alg::ES256 => Signer::Ecdsa(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                    &ring::rand::SystemRandom::new(),
                )
                .ok()?,
            ),
            Alg::EdDSA => Signer::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(der).ok()?),
        })
    }

    fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let rng = ring::rand::SystemRandom::new();
        match self {
            Signer::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut signature,
                )
                .ok()?;
                Some(signature)
            }
            Signer::Ecdsa(key) => key.sign(&rng, message).ok().map(|s| s.as_ref().to_vec()),
            Signer::Ed25519(key) => Some(ed25519_dalek::Signer::sign(key, message).to_vec()),
        }
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

/// Parses PKCS#8 DER for `alg`; `None` if it is not a valid key of that type.
fn load_private(alg: Alg, der: &[u8]) -> Option<LoadedKey> {
    // The key is parsed once, by its signer; the public half comes from there.
    let signer = Signer::from_pkcs8(alg, der)?;
    let mut members = Map::new();
    let decoding = match &signer {
        Signer::Rsa(key) => {
            if key.public().modulus_len() * 8 < RSA_BITS {
                return None;
            }
            let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
            members.insert("kty".into(), "RSA".into());
            members.insert("n".into(), b64(&public.n));
            members.insert("e".into(), b64(&public.e));
            DecodingKey::from_rsa_raw_components(&public.n, &public.e)
        }
        Signer::Ecdsa(key) => {
            use ring::signature::KeyPair;
            // The uncompressed point: 0x04, then x and y of 32 bytes each.
            let point = key.public_key().as_ref();
            let (x, y) = point.get(1..)?.split_at_checked(32)?;
            let (x, y) = (b64(x), b64(y));
            let decoding = DecodingKey::from_ec_components(x.as_str()?, y.as_str()?).ok()?;
            members.insert("kty".into(), "EC".into());
            members.insert("crv".into(), "P-256".into());
            members.insert("x".into(), x);
            members.insert("y".into(), y);
            decoding
        }
        Signer::Ed25519(key) => {
            let x = b64(key.verifying_key().as_bytes());
            let decoding = DecodingKey::from_ed_components(x.as_str()?).ok()?;
            members.insert("kty".into(), "OKP".into());
            members.insert("crv".into(), "Ed25519".into());
            members.insert("x".into(), x);
            decoding
        }
    };
    Some(LoadedKey {
        members,
        signer,
        decoding,
    })
}

/// RFC 7638 thumbprint via jsonwebtoken (which builds the canonical member order).
fn thumbprint(members: &Map<String, Value>) -> Option<String> {
    let jwk: Jwk = serde_json::from_value(Value::Object(members.clone())).ok()?;
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

/// The published JWK: key members plus `kid`, `alg` and `use`.
fn full_jwk(kid: &str, alg: Alg, members: &Map<String, Value>) -> Value {
    let mut jwk = members.clone();
    jwk.insert("kid".into(), kid.into());
    jwk.insert("alg".into(), alg.as_str().into());
    jwk.insert("use".into(), "sig".into());
    Value::Object(jwk)
}

/// Maps a member name to a `'static` name for the error (the names are a fixed set).
fn member_name(name: &str) -> &'static str {
    match name {
        "kty" => "kty",
        "crv" => "crv",
        "n" => "n",
        "e" => "e",
        "x" => "x",
        "y" => "y",
        _ => "member",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_signs_rfc_8032s_first_test_vector_byte_for_byte() {
        // RFC 8032 §7.1, TEST 1: the secret key as PKCS#8 v1 (RFC 8410), the empty message.
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let der = hex::decode(format!("302e020100300506032b657004220420{seed}")).unwrap();
        let signer = Signer::from_pkcs8(Alg::EdDSA, &der).unwrap();
        assert_eq!(
            hex::encode(signer.sign(b"").unwrap()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn alg_names_round_trip_through_str_and_serde() {
        for alg in Alg::ALL {
            assert_eq!(alg.as_str().parse::<Alg>().unwrap(), alg);
            let json = serde_json::to_value(alg).unwrap();
            assert_eq!(json, Value::String(alg.as_str().into()));
            assert_eq!(serde_json::from_value::<Alg>(json).unwrap(), alg);
        }
        assert!("HS256".parse::<Alg>().is_err());
        assert!("none".parse::<Alg>().is_err());
        assert!("rs256".parse::<Alg>().is_err());
        assert_eq!("retired".parse::<KeyStatus>().unwrap(), KeyStatus::Retired);
        assert_eq!(
            "gone".parse::<KeyStatus>(),
            Err(KeyError::UnknownStatus("gone".into()))
        );
        assert_eq!(
            serde_json::to_value(KeyStatus::Next).unwrap(),
            Value::String("next".into())
        );
    }

    #[test]
    fn generated_keys_have_the_expected_public_jwk() {
        for (alg, kty, members) in [
            (Alg::RS256, "RSA", &["n", "e"][..]),
            (Alg::ES256, "EC", &["crv", "x", "y"][..]),
            (Alg::EdDSA, "OKP", &["crv", "x"][..]),
        ] {
            let key = generate(alg).unwrap();
            let jwk = key.public_jwk.as_object().unwrap();
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["kid"], key.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            for member in members {
                let text = jwk[*member].as_str().unwrap();
                assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
            }
            assert!(!jwk.contains_key("d"), "private member published");
            assert_eq!(key.kid.len(), 43);
            let loaded = SigningKey::from_generated(&key, KeyStatus::Active, None).unwrap();
            assert_eq!(loaded.kid(), key.kid);
            assert!(!format!("{loaded:?}").contains("EncodingKey"));
            assert!(!format!("{key:?}").contains(&format!("{:?}", key.private_der[0..8].to_vec())));
        }
    }

    #[test]
    fn rsa_exponent_and_curve_members_are_standard() {
        let rsa = generate(Alg::RS256).unwrap();
        assert_eq!(rsa.public_jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD
            .decode(rsa.public_jwk["n"].as_str().unwrap())
            .unwrap();
        assert_eq!(n.len(), 256);
        let ec = generate(Alg::ES256).unwrap();
        assert_eq!(ec.public_jwk["crv"], "P-256");
        let ed = generate(Alg::EdDSA).unwrap();
        assert_eq!(ed.public_jwk["crv"], "Ed25519");
    }

    #[test]
    fn a_jwk_that_does_not_match_the_private_key_is_refused() {
        let a = generate(Alg::EdDSA).unwrap();
        let b = generate(Alg::EdDSA).unwrap();
        let err = SigningKey::from_parts(
            a.kid.clone(),
            Alg::EdDSA,
            KeyStatus::Active,
            &a.private_der,
            b.public_jwk.clone(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::JwkMismatch { field: "x", .. }));
        let err = SigningKey::from_parts(
            "other".into(),
            Alg::EdDSA,
            KeyStatus::Active,
            &a.private_der,
            a.public_jwk.clone(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::JwkMismatch { field: "kid", .. }));
    }

    #[test]
    fn a_private_key_of_another_algorithm_is_refused() {
        let ed = generate(Alg::EdDSA).unwrap();
        let err = SigningKey::from_parts(
            ed.kid.clone(),
            Alg::ES256,
            KeyStatus::Active,
            &ed.private_der,
            ed.public_jwk.clone(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::InvalidPrivateKey { .. }));
        assert!(!err.to_string().contains("MC4C"));
        let err = SigningKey::from_parts(
            ed.kid.clone(),
            Alg::RS256,
            KeyStatus::Active,
            b"garbage",
            ed.public_jwk,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::InvalidPrivateKey { .. }));
    }

    #[test]
    fn published_means_next_active_or_retired_before_publish_until() {
        let key = generate(Alg::EdDSA).unwrap();
        let at = |status, until| {
            SigningKey::from_generated(&key, status, until)
                .unwrap()
                .is_published(1_000)
        };
        assert!(at(KeyStatus::Next, None));
        assert!(at(KeyStatus::Active, None));
        assert!(at(KeyStatus::Retired, Some(1_001)));
        assert!(!at(KeyStatus::Retired, Some(1_000)));
        assert!(!at(KeyStatus::Retired, None));
    }
}

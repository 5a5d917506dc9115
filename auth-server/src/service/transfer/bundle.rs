//! The subscription bundle file: versioned JSON whose payload is encrypted under a key
//! derived from an operator passphrase. Pure: no IO, no clock (the caller passes the
//! summary it wants in clear).
//!
//! ```text
//! {"format": "auth-server-subscription-bundle/1",
//!  "summary": {…cleartext: slug, id, time, schema, row counts…},
//!  "kdf": {"alg": "argon2id", "m_kib": 65536, "t": 3, "p": 1, "salt": b64},
//!  "check": b64(nonce ‖ AES-256-GCM("", aad = format ‖ " passphrase check")),
//!  "nonce": b64, "ciphertext": b64(AES-256-GCM(payload, aad = format, summary, kdf))}
//! ```
//!
//! Why this shape:
//! - The whole payload is encrypted, not only the master-key secrets: it also holds
//!   password hashes and personal data (e-mail, names) that must not sit in clear in a
//!   file that travels between deployments.
//! - argon2id (RFC 9106's second recommended setting: 64 MiB, 3 passes) makes each
//!   passphrase guess cost what a login costs many times over; a fresh random salt per
//!   bundle gives each bundle its own key, so a random 96-bit GCM nonce is safe.
//! - The summary and KDF parameters are authenticated as AAD: editing the clear part
//!   makes the bundle fail as corrupted, never decrypt under other parameters.
//! - `check` lets a wrong passphrase be told apart from a damaged payload (AEAD alone
//!   fails the same way for both). It gives a guesser nothing the payload would not:
//!   each guess still costs one argon2id derivation.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `format` of the bundles this server writes and reads.
pub const FORMAT: &str = "auth-server-subscription-bundle/1";

/// The shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 16;

/// argon2id cost written into new bundles (RFC 9106 §4, second recommended option).
const M_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;
/// Upper bounds accepted when reading, so a crafted bundle cannot make an import
/// allocate gigabytes or spin for minutes before failing.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// Why a bundle could not be written or read. No variant carries secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// The passphrase is empty or too short.
    #[error(
        "the export passphrase must be at least {MIN_PASSPHRASE_CHARS} characters (got {0}); use a long random one, e.g. `openssl rand -base64 32`"
    )]
    WeakPassphrase(usize),
    /// The file is not JSON or has no `format` member.
    #[error("not a subscription bundle: {0}")]
    NotABundle(String),
    /// A bundle of another format version.
    #[error("unsupported bundle format {got:?}: this server reads {FORMAT:?}")]
    UnknownFormat {
        /// The `format` found.
        got: String,
    },
    /// The passphrase does not open this bundle.
    #[error("wrong passphrase: it does not decrypt this bundle")]
    WrongPassphrase,
    /// The passphrase is right but the file was altered or damaged.
    #[error("the bundle is corrupted: {0}")]
    Corrupted(&'static str),
    /// Encryption or key derivation refused its input (not expected).
    #[error("bundle encryption failed: {0}")]
    Crypto(&'static str),
}

/// The key-derivation parameters stored in a bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Kdf {
    alg: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
}

/// The file, as JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    summary: Value,
    kdf: Kdf,
    check: String,
    nonce: String,
    ciphertext: String,
}

/// A passphrase long enough to protect a bundle.
pub fn check_passphrase(passphrase: &SecretString) -> Result<(), BundleError> {
    let n = passphrase.expose_secret().chars().count();
    if n < MIN_PASSPHRASE_CHARS {
        return Err(BundleError::WeakPassphrase(n));
    }
    Ok(())
}

fn derive(passphrase: &SecretString, kdf: &Kdf) -> Result<Zeroizing<[u8; 32]>, BundleError> {
    let salt = STANDARD
        .decode(&kdf.salt)
        .map_err(|_| BundleError::Corrupted("the salt is not base64"))?;
    let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|_| BundleError::Corrupted("invalid key-derivation parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, &mut *key)
        .map_err(|_| BundleError::Corrupted("invalid key-derivation parameters"))?;
    Ok(key)
}

fn check_aad() -> Vec<u8> {
    format!("{FORMAT} passphrase check").into_bytes()
}

fn payload_aad(summary: &Value, kdf: &Kdf) -> Vec<u8> {
    // Re-serialised on reading: serde_json writes a parsed value back byte for byte
    // the same (member order as read, canonical escapes), whatever the file's spacing.
    serde_json::to_vec(&(FORMAT, summary, kdf)).unwrap_or_default()
}

/// `(nonce, ciphertext ‖ tag)` under a fresh random nonce.
fn seal_with(
    cipher: &Aes256Gcm,
    msg: &[u8],
    aad: &[u8],
) -> Result<([u8; NONCE_LEN], Vec<u8>), BundleError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg, aad })
        .map_err(|_| BundleError::Crypto("AES-GCM refused the payload"))?;
    Ok((nonce, ct))
}

fn open_with(
    cipher: &Aes256Gcm,
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Option<&'static str>> {
    if sealed.len() < NONCE_LEN {
        return Err(Some("a nonce is truncated"));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| Some("a nonce is truncated"))?;
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| None)
}

/// Encrypt `payload` under `passphrase` and return the bundle file's bytes, with
/// `summary` in clear (authenticated). CPU- and memory-heavy (argon2id): call it off
/// the async executor.
pub fn seal(
    summary: &Value,
    payload: &[u8],
    passphrase: &SecretString,
) -> Result<Vec<u8>, BundleError> {
    check_passphrase(passphrase)?;
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let kdf = Kdf {
        alg: "argon2id".into(),
        m_kib: M_KIB,
        t: T_COST,
        p: P_COST,
        salt: STANDARD.encode(salt),
    };
    let key = derive(passphrase, &kdf)?;
    let cipher = Aes256Gcm::new_from_slice(&*key).map_err(|_| BundleError::Crypto("key"))?;
    let (check_nonce, check) = seal_with(&cipher, b"", &check_aad())?;
    let (nonce, ciphertext) = seal_with(&cipher, payload, &payload_aad(summary, &kdf))?;
    let envelope = Envelope {
        format: FORMAT.into(),
        summary: summary.clone(),
        kdf,
        check: STANDARD.encode([check_nonce.as_slice(), &check].concat()),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
    };
    serde_json::to_vec_pretty(&envelope).map_err(|_| BundleError::Crypto("JSON"))
}

/// The cleartext summary of a bundle, without decrypting it (for messages that need
/// no passphrase, e.g. "this slug already exists").
pub fn summary(file: &[u8]) -> Result<Value, BundleError> {
    Ok(envelope(file)?.summary)
}

fn envelope(file: &[u8]) -> Result<Envelope, BundleError> {
    let v: Value = serde_json::from_slice(file)
        .map_err(|e| BundleError::NotABundle(format!("not JSON ({e})")))?;
    let format = v
        .get("format")
        .ok_or_else(|| BundleError::NotABundle("no \"format\" member".into()))?;
    match format.as_str() {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(BundleError::UnknownFormat {
                got: other.to_owned(),
            });
        }
        None => {
            return Err(BundleError::UnknownFormat {
                got: format.to_string(),
            });
        }
    }
    serde_json::from_value(v).map_err(|_| BundleError::Corrupted("unexpected or missing members"))
}

/// Decrypt a bundle: its summary and payload. Tells a wrong passphrase from a damaged
/// file. CPU- and memory-heavy (argon2id): call it off the async executor.
pub fn open(
    file: &[u8],
    passphrase: &SecretString,
) -> Result<(Value, Zeroizing<Vec<u8>>), BundleError> {
    let env = envelope(file)?;
    if env.kdf.alg != "argon2id"
        || env.kdf.m_kib > MAX_M_KIB
        || env.kdf.t > MAX_T_COST
        || env.kdf.p > MAX_P_COST
    {
        return Err(BundleError::Corrupted(
            "unsupported key-derivation parameters",
        ));
    }
    // A short passphrase never sealed a bundle: say so before spending the derivation.
    if check_passphrase(passphrase).is_err() {
        return Err(BundleError::WrongPassphrase);
    }
    let key = derive(passphrase, &env.kdf)?;
    let cipher = Aes256Gcm::new_from_slice(&*key).map_err(|_| BundleError::Crypto("key"))?;
    let b64 =
        |s: &str, what: &'static str| STANDARD.decode(s).map_err(|_| BundleError::Corrupted(what));
    let check = b64(&env.check, "the passphrase check is not base64")?;
    match open_with(&cipher, &check, &check_aad()) {
        Ok(_) => {}
        Err(Some(why)) => return Err(BundleError::Corrupted(why)),
        Err(None) => return Err(BundleError::WrongPassphrase),
    }
    let mut sealed = b64(&env.nonce, "the nonce is not base64")?;
    sealed.extend_from_slice(&b64(&env.ciphertext, "the ciphertext is not base64")?);
    let payload =
        open_with(&cipher, &sealed, &payload_aad(&env.summary, &env.kdf)).map_err(|why| {
            BundleError::Corrupted(
                why.unwrap_or("the payload or its summary was altered (authentication failed)"),
            )
        })?;
    Ok((env.summary, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    const GOOD: &str = "correct horse battery staple";

    fn sealed() -> Vec<u8> {
        seal(&json!({"slug": "acme"}), b"the rows", &pass(GOOD)).unwrap()
    }

    fn edit(file: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(file).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_sealed_bundle_opens_with_its_passphrase_and_hides_the_payload() {
        let file = sealed();
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(!text.contains("the rows"));
        assert!(text.contains(FORMAT));
        let (summary, payload) = open(&file, &pass(GOOD)).unwrap();
        assert_eq!(summary, json!({"slug": "acme"}));
        assert_eq!(payload.as_slice(), b"the rows");
        // Reformatting the JSON (pretty → compact) keeps it readable.
        let compact = edit(&file, |_| {});
        assert_eq!(
            open(&compact, &pass(GOOD)).unwrap().1.as_slice(),
            b"the rows"
        );
    }

    #[test]
    fn two_bundles_of_the_same_payload_differ() {
        assert_ne!(sealed(), sealed());
    }

    #[test]
    fn a_wrong_passphrase_is_named_as_such() {
        let file = sealed();
        assert_eq!(
            open(&file, &pass("correct horse battery stapler")).unwrap_err(),
            BundleError::WrongPassphrase
        );
        assert_eq!(
            open(&file, &pass("")).unwrap_err(),
            BundleError::WrongPassphrase
        );
    }

    #[test]
    fn short_or_empty_passphrases_are_refused_when_sealing() {
        for p in ["", "short", "fifteen chars!!"] {
            let err = seal(&json!({}), b"x", &pass(p)).unwrap_err();
            assert_eq!(err, BundleError::WeakPassphrase(p.chars().count()));
            assert!(err.to_string().contains("at least 16 characters"), "{err}");
        }
        assert!(seal(&json!({}), b"x", &pass("sixteen chars!!!")).is_ok());
    }

    #[test]
    fn an_altered_payload_or_summary_is_corrupted_not_a_wrong_passphrase() {
        let file = sealed();
        let flipped = edit(&file, |v| {
            let mut ct = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
            ct[0] ^= 1;
            v["ciphertext"] = STANDARD.encode(ct).into();
        });
        assert!(matches!(
            open(&flipped, &pass(GOOD)).unwrap_err(),
            BundleError::Corrupted(_)
        ));
        let renamed = edit(&file, |v| v["summary"]["slug"] = "evil".into());
        assert!(matches!(
            open(&renamed, &pass(GOOD)).unwrap_err(),
            BundleError::Corrupted(_)
        ));
        let cheaper = edit(&file, |v| v["kdf"]["t"] = 1.into());
        assert!(matches!(
            open(&cheaper, &pass(GOOD)).unwrap_err(),
            // The key changes with the parameters: the check fails first.
            BundleError::WrongPassphrase | BundleError::Corrupted(_)
        ));
        let truncated = &file[..file.len() / 2];
        assert!(matches!(
            open(truncated, &pass(GOOD)).unwrap_err(),
            BundleError::NotABundle(_)
        ));
        let missing = edit(&file, |v| {
            v.as_object_mut().unwrap().remove("nonce");
        });
        assert!(matches!(
            open(&missing, &pass(GOOD)).unwrap_err(),
            BundleError::Corrupted(_)
        ));
    }

    #[test]
    fn an_unknown_format_is_named() {
        let file = edit(&sealed(), |v| {
            v["format"] = "auth-server-subscription-bundle/2".into()
        });
        let err = open(&file, &pass(GOOD)).unwrap_err();
        assert_eq!(
            err,
            BundleError::UnknownFormat {
                got: "auth-server-subscription-bundle/2".into()
            }
        );
        assert!(err.to_string().contains(FORMAT));
        assert!(matches!(
            open(b"{\"rows\": []}", &pass(GOOD)).unwrap_err(),
            BundleError::NotABundle(_)
        ));
    }

    #[test]
    fn crafted_costly_parameters_are_refused_before_deriving() {
        let file = edit(&sealed(), |v| v["kdf"]["m_kib"] = (MAX_M_KIB + 1).into());
        assert!(matches!(
            open(&file, &pass(GOOD)).unwrap_err(),
            BundleError::Corrupted(_)
        ));
    }
}

//! The server master key (`AUTH_MASTER_KEY`) and the envelope it seals private keys in.
//!
//! Signing keys are stored encrypted at rest (DESIGN.md, "Tokens and keys"). The blob
//! format is `version (1 byte) || nonce (12 bytes) || AES-256-GCM ciphertext+tag`.
//! The version byte is also fed into the AAD, so it cannot be swapped without failing
//! authentication, and a later format can be introduced beside this one. The caller's AAD
//! should bind the blob to its row (e.g. subscription id and kid), so that a ciphertext
//! copied into another tenant's row does not decrypt.
//!
//! Nonces are random 96-bit values: with at most a few keys per tenant per rotation, the
//! number of encryptions under one master key stays far below the ~2^32 where random GCM
//! nonces start to risk a collision.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};

use super::error::KeyError;

/// The current blob format version.
const BLOB_VERSION: u8 = 1;
/// AES-GCM standard nonce length (96 bits).
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Master key length: AES-256.
const KEY_LEN: usize = 32;

/// The 32-byte master key that encrypts signing keys (and connection secrets) at rest.
///
/// The bytes live in a [`SecretBox`], zeroized on drop; `Debug` prints nothing of them.
pub struct MasterKey(SecretBox<[u8; KEY_LEN]>);

impl MasterKey {
    /// Parses `AUTH_MASTER_KEY`: 32 bytes given as base64 (standard or URL-safe alphabet,
    /// padding optional) or as 64 hex characters. Surrounding whitespace is ignored, so a
    /// key file with a trailing newline works.
    ///
    /// Hex is tried first for exactly 64 hex digits: such a string is also valid base64,
    /// but would decode to 48 bytes, so there is no real ambiguity. A wrong length is
    /// reported as such (in bytes), for hex and base64 alike.
    pub fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        let all_hex = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
        let unpadded = text.trim_end_matches('=');
        let base64 = STANDARD_NO_PAD
            .decode(unpadded)
            .or_else(|_| URL_SAFE_NO_PAD.decode(unpadded))
            .ok()
            .map(Zeroizing::new);
        let bytes = match base64 {
            _ if all_hex && text.len() == 2 * KEY_LEN => decode_hex(text)
                .map(Zeroizing::new)
                .ok_or(KeyError::MasterKeyEncoding)?,
            Some(bytes) if bytes.len() == KEY_LEN => bytes,
            // Most likely a hex key of the wrong length: report its length as hex.
            _ if all_hex && text.len().is_multiple_of(2) => {
                return Err(KeyError::MasterKeyLength {
                    got: text.len() / 2,
                });
            }
            Some(bytes) => return Err(KeyError::MasterKeyLength { got: bytes.len() }),
            None => return Err(KeyError::MasterKeyEncoding),
        };
        if bytes.len() != KEY_LEN {
            return Err(KeyError::MasterKeyLength { got: bytes.len() });
        }
        // Filled in place on the heap, so no stack copy of the key is left behind.
        Ok(MasterKey(SecretBox::init_with_mut(
            |key: &mut [u8; KEY_LEN]| key.copy_from_slice(&bytes),
        )))
    }

    /// Generates a fresh random master key and its encoded form (standard base64 with
    /// padding) to write to the key file in the data directory.
    pub fn generate() -> (MasterKey, String) {
        let key = SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| OsRng.fill_bytes(key));
        let encoded = STANDARD.encode(key.expose_secret());
        (MasterKey(key), encoded)
    }

    /// Encrypts `plaintext` with AES-256-GCM under a fresh random nonce, authenticating
    /// `aad` too. Returns `version || nonce || ciphertext+tag`.
    ///
    /// Fails only if AES-GCM refuses the input (plaintexts beyond 64 GiB).
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let full_aad = versioned_aad(BLOB_VERSION, aad);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| KeyError::Encrypt)?;
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// Decrypts a blob made by [`MasterKey::encrypt`] with the same `aad`.
    pub fn decrypt(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let (&version, rest) = blob.split_first().ok_or(KeyError::TruncatedBlob)?;
        if version != BLOB_VERSION {
            return Err(KeyError::UnsupportedBlobVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::TruncatedBlob);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| KeyError::TruncatedBlob)?;
        let full_aad = versioned_aad(version, aad);
        self.cipher()?
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| KeyError::Decrypt)
    }

    fn cipher(&self) -> Result<Aes256Gcm, KeyError> {
        // The length is fixed by the type, so this cannot fail; map it anyway to stay
        // panic-free.
        Aes256Gcm::new_from_slice(self.0.expose_secret()).map_err(|_| KeyError::Encrypt)
    }
}

impl Clone for MasterKey {
    fn clone(&self) -> Self {
        MasterKey(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| {
            key.copy_from_slice(self.0.expose_secret())
        }))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// Prefixes the blob version to the caller's AAD; a fixed one-byte prefix keeps the
/// concatenation unambiguous.
fn versioned_aad(version: u8, aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(1 + aad.len());
    full.push(version);
    full.extend_from_slice(aad);
    full
}

/// Decodes an even-length hex string; `None` on any non-hex character.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        // `to_digit(16)` accepts both cases, as the hex form of a key may be either.
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    const BYTES: [u8; 32] = [
        0xfb, 0xff, 0x00, 0x01, 0x3e, 0x3f, 0xfe, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80,
        0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x0f, 0x1f, 0x2f, 0x3f, 0x4f, 0x5f, 0x6f, 0x7f,
        0x8f, 0x9f,
    ];

    fn raw(key: &MasterKey) -> [u8; 32] {
        *key.0.expose_secret()
    }

    #[test]
    fn encrypt_then_decrypt_round_trips() {
        let (key, _) = MasterKey::generate();
        let blob = key.encrypt(b"private key der", b"sub-1/kid-1").unwrap();
        assert_eq!(blob[0], BLOB_VERSION);
        assert_eq!(blob.len(), 1 + 12 + 15 + 16);
        assert_eq!(
            key.decrypt(&blob, b"sub-1/kid-1").unwrap(),
            b"private key der"
        );
    }

    #[test]
    fn two_encryptions_use_different_nonces() {
        let (key, _) = MasterKey::generate();
        let a = key.encrypt(b"x", b"").unwrap();
        let b = key.encrypt(b"x", b"").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_aad_wrong_key_or_tampering_fails() {
        let (key, _) = MasterKey::generate();
        let (other, _) = MasterKey::generate();
        let blob = key.encrypt(b"secret", b"sub-1/kid-1").unwrap();
        assert_eq!(key.decrypt(&blob, b"sub-2/kid-1"), Err(KeyError::Decrypt));
        assert_eq!(other.decrypt(&blob, b"sub-1/kid-1"), Err(KeyError::Decrypt));
        let mut tampered = blob.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.decrypt(&tampered, b"sub-1/kid-1"),
            Err(KeyError::Decrypt)
        );
        let mut versioned = blob.clone();
        versioned[0] = 2;
        assert_eq!(
            key.decrypt(&versioned, b"sub-1/kid-1"),
            Err(KeyError::UnsupportedBlobVersion(2))
        );
        assert_eq!(
            key.decrypt(&blob[..20], b"sub-1/kid-1"),
            Err(KeyError::TruncatedBlob)
        );
        assert_eq!(key.decrypt(&[], b""), Err(KeyError::TruncatedBlob));
    }

    #[test]
    fn parse_accepts_the_four_encodings() {
        let hex: String = BYTES.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            STANDARD.encode(BYTES),
            STANDARD_NO_PAD.encode(BYTES),
            URL_SAFE.encode(BYTES),
            URL_SAFE_NO_PAD.encode(BYTES),
            hex.clone(),
            hex.to_uppercase(),
            format!("  {}\n", STANDARD.encode(BYTES)),
        ];
        // The sample bytes contain 0xfb/0xff so the two base64 alphabets really differ.
        assert_ne!(STANDARD.encode(BYTES), URL_SAFE.encode(BYTES));
        for form in forms {
            let key = MasterKey::parse(&form).unwrap();
            assert_eq!(raw(&key), BYTES, "form {form:?}");
        }
    }

    #[test]
    fn parse_rejects_wrong_lengths_with_a_clear_message() {
        for len in [31usize, 33] {
            let bytes = vec![7u8; len];
            for text in [
                STANDARD.encode(&bytes),
                URL_SAFE_NO_PAD.encode(&bytes),
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            ] {
                let err = MasterKey::parse(&text).unwrap_err();
                assert_eq!(err, KeyError::MasterKeyLength { got: len });
                let message = err.to_string();
                assert!(message.contains("exactly 32 bytes"), "{message}");
                assert!(message.contains(&format!("got {len}")), "{message}");
            }
        }
        assert_eq!(
            MasterKey::parse("not a key!").unwrap_err(),
            KeyError::MasterKeyEncoding
        );
        assert_eq!(
            MasterKey::parse("").unwrap_err(),
            KeyError::MasterKeyLength { got: 0 }
        );
    }

    #[test]
    fn generated_encoding_parses_back_to_the_same_key() {
        let (key, encoded) = MasterKey::generate();
        assert_eq!(raw(&MasterKey::parse(&encoded).unwrap()), raw(&key));
        assert_eq!(raw(&key.clone()), raw(&key));
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let key = MasterKey::parse(&STANDARD.encode(BYTES)).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "MasterKey([REDACTED])");
        assert!(!shown.contains("251"));
    }
}

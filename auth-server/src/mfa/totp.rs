//! TOTP (RFC 6238 over RFC 4226): SHA-1, 6 digits, 30 s, ±1 step, through totp-rs.
//!
//! [`Totp::matched_step`] returns *which* step a code matched, so the caller can store
//! it and accept only later steps (RFC 6238 §5.2: "the verifier MUST NOT accept the
//! second attempt of the OTP after the successful validation"). totp-rs compares
//! tokens in constant time.

/// Seconds per step (RFC 6238 §5.2 recommends 30).
pub const STEP: u64 = 30;
/// Digits per code: the value every authenticator app reads by default.
pub const DIGITS: usize = 6;
/// Secret length: 160 bits, the length RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// A TOTP failure that is a bug or bad stored data, never a user mistake.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    /// totp-rs refused the parameters (secret too short…).
    #[error("invalid TOTP parameters: {0}")]
    Parameters(String),
}

/// One user's TOTP credential.
pub struct Totp(totp_rs::Totp);

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Totp(<secret>)")
    }
}

/// `:` separates issuer and account in an otpauth label, so it may appear in neither.
fn label_part(s: &str) -> String {
    s.replace(':', " ").trim().to_owned()
}

impl Totp {
    /// A credential from its secret, labelled `issuer:account` for authenticator apps.
    pub fn new(secret: &[u8], issuer: &str, account: &str) -> Result<Totp, TotpError> {
        let issuer = label_part(issuer);
        let account = match label_part(account) {
            a if a.is_empty() => "user".to_owned(),
            a => a,
        };
        totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_step_duration(STEP)
            .with_skew(1)
            .with_secret(secret.to_vec())
            .with_issuer((!issuer.is_empty()).then_some(issuer))
            .with_account_name(account)
            .build()
            .map(Totp)
            .map_err(|e| TotpError::Parameters(e.to_string()))
    }

    /// The `otpauth://totp/…` URI an authenticator app enrols from (shown once).
    pub fn uri(&self) -> Result<String, TotpError> {
        self.0
            .to_url()
            .map_err(|e| TotpError::Parameters(e.to_string()))
    }

    /// The step (`now / 30`) a code of exactly six digits matches within ±1 step of
    /// `now`, or `None`.
    pub fn matched_step(&self, code: &str, now: i64) -> Option<u64> {
        let now = u64::try_from(now).ok()?;
        self.0.check(code, now)
    }

    /// The code of step `step` (tests and diagnostics; never logged).
    pub fn code_at_step(&self, step: u64) -> String {
        self.0.generate(step * STEP).to_string()
    }
}

/// The step that contains `now`.
pub fn step_of(now: i64) -> u64 {
    u64::try_from(now).unwrap_or(0) / STEP
}

/// What the user typed in the one `code` field, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeInput {
    /// Six digits: a TOTP code.
    Totp(String),
    /// Something shaped like a recovery code (normalised).
    Recovery(String),
    /// Neither; the message says what is expected.
    Malformed(&'static str),
}

impl CodeInput {
    /// Classify the `code` field. Spaces are ignored (apps show codes as `123 456`),
    /// anything else that is not six digits or a recovery code is refused by shape, so
    /// `12345`, `1234567` or letters never reach the verifier.
    pub fn parse(raw: &str) -> CodeInput {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return CodeInput::Malformed("Enter the 6-digit code from your authenticator app.");
        }
        if compact.chars().all(|c| c.is_ascii_digit()) {
            return if compact.len() == DIGITS {
                CodeInput::Totp(compact)
            } else {
                CodeInput::Malformed("The code must have exactly 6 digits.")
            };
        }
        match super::recovery::normalise(&compact) {
            Some(r) => CodeInput::Recovery(r),
            None => CodeInput::Malformed(
                "Enter the 6-digit code from your authenticator app or one of your recovery codes.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890"; the RFC lists 8-digit
    // values, whose last six digits are the 6-digit codes.
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        let t = Totp::new(SEED, "Acme", "alice").unwrap();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(t.matched_step(code, time), Some(time as u64 / 30), "{time}");
        }
    }

    #[test]
    fn accepts_one_step_of_skew_and_refuses_two() {
        let t = Totp::new(SEED, "Acme", "alice").unwrap();
        let now = 1_700_000_000;
        let step = step_of(now);
        assert_eq!(
            t.matched_step(&t.code_at_step(step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            t.matched_step(&t.code_at_step(step + 1), now),
            Some(step + 1)
        );
        assert_eq!(t.matched_step(&t.code_at_step(step - 2), now), None);
        assert_eq!(t.matched_step(&t.code_at_step(step + 2), now), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account_with_sha1_6_digits_30_seconds() {
        let t = Totp::new(SEED, "Acme: Corp", "alice").unwrap();
        let uri = t.uri().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Acme%20%20Corp:alice?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        // totp-rs leaves out the parameters that equal the defaults apps assume.
        assert!(
            !uri.contains("digits=") && !uri.contains("period=") && !uri.contains("algorithm=")
        );
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(Totp::new(&[1; 10], "Acme", "alice").is_err());
    }

    #[test]
    fn the_code_field_is_classified_by_shape() {
        assert_eq!(
            CodeInput::parse(" 123 456 "),
            CodeInput::Totp("123456".into())
        );
        for bad in ["12345", "1234567", "", "   "] {
            assert!(
                matches!(CodeInput::parse(bad), CodeInput::Malformed(_)),
                "{bad:?}"
            );
        }
        assert!(matches!(
            CodeInput::parse("12a456"),
            CodeInput::Malformed(_)
        ));
        assert!(matches!(
            CodeInput::parse("abcd-efgh-ijkl-mnop"),
            CodeInput::Recovery(_)
        ));
    }
}

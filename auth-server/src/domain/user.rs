//! Users of a subscription and the one normalisation of their login name.

use super::ValidationError;
use unicode_normalization::UnicodeNormalization;

/// A login name, normalised once (NFKC, then lower-cased) so that one person has one
/// account and one lock counter whatever the keyboard produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Normalise and check a login name: 1–256 characters after normalisation, no control
    /// characters, no leading or trailing spaces.
    pub fn parse(value: &str) -> Result<Username, ValidationError> {
        let normalised = Self::normalise(value);
        if normalised.is_empty() || normalised.chars().count() > 256 {
            return Err(ValidationError::new(
                "username",
                "must be 1 to 256 characters",
            ));
        }
        if normalised.chars().any(char::is_control) || normalised.trim() != normalised {
            return Err(ValidationError::new(
                "username",
                "must not contain control characters or leading/trailing spaces",
            ));
        }
        Ok(Username(normalised))
    }

    /// The normalisation alone (NFKC, then Unicode lower case), without the checks:
    /// compatibility forms (`ﬁ`, full-width letters) and NFD input collapse to one name.
    pub fn normalise(value: &str) -> String {
        value.nfkc().collect::<String>().to_lowercase()
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user as the services see it (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The `sub`.
    pub id: String,
    /// Normalised login name.
    pub username: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Attributes used by field-based ACL rules.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// System administrator (everything everywhere).
    pub system_admin: bool,
    /// Administrator of its own subscription.
    pub subscription_admin: bool,
    /// Disabled users cannot log in or refresh.
    pub disabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_once() {
        let a = Username::parse("Alice").unwrap();
        let b = Username::parse("ＡＬＩＣＥ").unwrap();
        assert_eq!(a, b);
        let nfd = Username::parse("jose\u{301}").unwrap();
        let nfc = Username::parse("jos\u{e9}").unwrap();
        assert_eq!(nfd, nfc);
    }

    #[test]
    fn bad_usernames_are_refused() {
        assert!(Username::parse("").is_err());
        assert!(Username::parse(" bob").is_err());
        assert!(Username::parse("bob\u{0}").is_err());
    }
}

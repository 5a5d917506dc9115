//! Identifiers: subscription ids and URL slugs.

use super::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Internal id of a subscription. Every tenant-scoped repository call takes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscriptionId(pub String);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL slug: `[a-z0-9][a-z0-9-]{1,62}` (subscriptions, workspaces, apps).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    /// Parse a slug, naming `field` on error.
    pub fn parse(value: &str, field: &str) -> Result<Slug, ValidationError> {
        let bytes = value.as_bytes();
        let ok = (2..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if ok {
            Ok(Slug(value.to_owned()))
        } else {
            Err(ValidationError::new(
                field,
                "must match [a-z0-9][a-z0-9-]{1,62} (lower-case letters, digits and '-', 2 to 63 characters)",
            ))
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_contract() {
        for ok in ["ab", "a1", "0-x", "acme-corp"] {
            assert!(Slug::parse(ok, "slug").is_ok(), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["a", "-ab", "Ab", "a_b", "a b", "", long.as_str(), "ü1"] {
            assert!(Slug::parse(bad, "slug").is_err(), "{bad}");
        }
    }
}

//! OAuth scopes (RFC 6749 §3.3): a set of space-separated tokens, order irrelevant.

use super::ValidationError;
use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parse a space-separated scope string; each token is `%x21 / %x23-5B / %x5D-7E`.
    pub fn parse(value: &str) -> Result<Scope, ValidationError> {
        let mut set = BTreeSet::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(ValidationError::new(
                    "scope",
                    format!("invalid scope token {token:?}"),
                ));
            }
            set.insert(token.to_owned());
        }
        Ok(Scope(set))
    }

    /// Whether the scope holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the scope is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens in canonical (sorted) order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that are also in `other`.
    pub fn intersect(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens in either `self` or `other` (a remembered consent only grows: a
    /// narrower request must not forget what the user already granted).
    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// `self` without `token`.
    pub fn without(&self, token: &str) -> Scope {
        let mut set = self.0.clone();
        set.remove(token);
        Scope(set)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.iter().collect();
        f.write_str(&joined.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_duplicates_do_not_matter() {
        let a = Scope::parse("openid profile  openid").unwrap();
        let b = Scope::parse("profile openid").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "openid profile");
    }

    #[test]
    fn invalid_characters_are_refused() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("ä").is_err());
    }

    #[test]
    fn subset_and_intersection() {
        let wide = Scope::parse("openid a b").unwrap();
        let narrow = Scope::parse("openid").unwrap();
        assert!(narrow.is_subset(&wide));
        assert!(!wide.is_subset(&narrow));
        assert_eq!(wide.intersect(&narrow), narrow);
    }

    #[test]
    fn union_keeps_the_tokens_of_both() {
        let a = Scope::parse("openid a").unwrap();
        let b = Scope::parse("openid b").unwrap();
        assert_eq!(a.union(&b), Scope::parse("a b openid").unwrap());
        assert_eq!(a.union(&Scope::default()), a);
    }
}

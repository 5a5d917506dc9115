//! ACL use cases (DESIGN.md "ACL model", "ACL calls"): administering workspaces,
//! participants, groups, members, apps and run-as grants (`admin.rs`, `apps.rs`,
//! `run_as.rs`); loading and caching a user's facts (`facts.rs`); and answering the
//! introspection extension and `/acl/evaluate` with the pure evaluator of
//! [`crate::acl`] (`introspection.rs`).
//!
//! Every change runs in one transaction with its audit event, so a validation error
//! leaves nothing half-written, and announces itself to the facts caches of every
//! instance after the commit ([`facts::changed`]).

pub mod admin;
pub mod apps;
pub mod explain;
pub mod facts;
pub mod introspection;
pub mod run_as;

pub use facts::FactsCache;

use crate::domain::ValidationError;
use crate::service::AdminError;
use crate::store::StoreError;

/// A group name: 1–128 characters, no control characters, no leading or trailing
/// spaces (names are compared exactly, so invisible differences are refused).
pub fn group_name(value: &str, field: &str) -> Result<String, ValidationError> {
    let ok = !value.is_empty()
        && value.chars().count() <= 128
        && !value.chars().any(char::is_control)
        && value.trim() == value;
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1 to 128 characters without control characters or leading/trailing spaces",
        ))
    }
}

/// A display name: 1–200 characters.
pub fn display_name(value: &str, field: &str) -> Result<String, ValidationError> {
    let n = value.trim().chars().count();
    if (1..=200).contains(&n) && !value.chars().any(char::is_control) {
        Ok(value.trim().to_owned())
    } else {
        Err(ValidationError::new(field, "must be 1 to 200 characters"))
    }
}

/// Map a store `Conflict` to a 409 naming `field`, anything else as usual.
fn conflict(field: &'static str) -> impl Fn(StoreError) -> AdminError {
    move |e| match e {
        StoreError::Conflict { .. } => AdminError::Conflict(field),
        other => other.into(),
    }
}

/// A user reference in a body or path that does not exist in the subscription: 400
/// naming the field (DESIGN.md: unknown names are validation errors).
fn unknown(field: &str, what: &str) -> impl Fn(StoreError) -> AdminError {
    let (field, what) = (field.to_owned(), what.to_owned());
    move |e| match e {
        StoreError::NotFound => {
            ValidationError::new(field.clone(), format!("no such {what}")).into()
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_exact_and_visible() {
        assert!(group_name("Managers", "name").is_ok());
        assert!(group_name("QA team", "name").is_ok());
        for bad in ["", " Managers", "Managers ", "a\u{0}b", &"x".repeat(129)] {
            assert_eq!(
                group_name(bad, "name").unwrap_err().field,
                "name",
                "{bad:?}"
            );
        }
    }
}

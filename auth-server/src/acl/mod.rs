//! The four-layer ACL evaluator (DESIGN.md, "ACL model" and "ACL calls").
//!
//! This module owns one pure function, [`evaluate`]: given everything the service has
//! loaded for one (user, workspace, app) as [`AclFacts`] and an optional record as
//! [`AclQuery`], it answers a [`Decision`]. For many records of one user, [`prepare`]
//! does the record-independent layers once and [`Prepared::decide`] the rest. It does no I/O, reads no clock and is not
//! async (STYLE.md §2); the service does the loading, introspection and
//! `/acl/evaluate` serialise the answer.
//!
//! The layers (in `layers.rs`) are folded in order and the first that denies wins:
//! 1. workspace: system admin → everything; not a participant → deny at `workspace`;
//!    workspace admin → everything in that workspace;
//! 2. app: the union of the actions of the grants whose group the user is in;
//!    empty (or no such app) → deny at `app`;
//! 3. record (only when record facts are given): grants whose `records` rule admits the
//!    record, and the user on the record's allow-list if it has one; nothing left → deny
//!    at `record`;
//! 4. field: per covered field `edit` / `read` / `hidden`.
//!
//! Choices made where DESIGN.md is silent (each is pinned by a test in `tests.rs`):
//! - Admins short-circuit before the app layer, so a system or workspace admin is
//!   allowed even for an app slug that has no `AppFacts`; rejecting unknown app slugs
//!   for admins is the service's job. Record allow-lists do not restrict admins either.
//! - Actions do not imply each other: `edit` or `admin` without `read` stays so.
//! - A field follows the record as `edit` if `edit` is allowed, `read` if `read` is, and
//!   `hidden` otherwise (a user who may not even read a record sees none of its fields).
//!   A `readonly` policy caps at `read` and never raises a `hidden` field.
//! - Several policies on one field: every unmet one applies its cap; the lowest wins.
//! - `{field, equals_user_attribute}`: JSON equality, or the record value is an array
//!   containing the attribute value; `null` or a missing value on either side never
//!   matches.
//! - An allow-list that is present but empty admits nobody (it is an allow-list, and
//!   there is nobody on it).
//! - The record `id` is echoed in denied decisions too, so `/acl/evaluate` callers can
//!   match answers to records.

pub mod explain;
pub mod model;

mod layers;
#[cfg(test)]
mod tests;

pub use explain::{Explanation, explain};
pub use model::*;

use layers::Standing;

/// Evaluates the four ACL layers for one (user, workspace, app, record?).
///
/// Denied decisions carry no actions and no fields; allowed ones list the actions in
/// canonical order and a level for every field with a policy in the app plus every
/// field named in the record facts.
pub fn evaluate(facts: &AclFacts, query: &AclQuery) -> Decision {
    prepare(facts).decide(query.record.as_ref())
}

/// Layers 1 and 2 and the field policies the user does not meet depend only on the
/// (user, workspace, app) facts: `prepare` computes them once, and [`Prepared::decide`]
/// applies layers 3 and 4 to each record (`/acl/evaluate` answers up to 10,000 records
/// for one user; [`evaluate`] is `prepare` + one `decide`).
pub fn prepare(facts: &AclFacts) -> Prepared<'_> {
    let outcome = layers::workspace(facts).and_then(|standing| {
        let held = match standing {
            Standing::Everything => Vec::new(),
            Standing::Member(_) => layers::app(facts)?,
        };
        Ok(Ready {
            caps: layers::field_caps(facts, standing),
            standing,
            held,
        })
    });
    Prepared { facts, outcome }
}

/// The record-independent part of an evaluation (see [`prepare`]).
#[derive(Debug)]
pub struct Prepared<'a> {
    facts: &'a AclFacts,
    outcome: Result<Ready<'a>, Layer>,
}

/// What layers 1–2 leave for the record and field layers.
#[derive(Debug)]
struct Ready<'a> {
    standing: Standing,
    /// The grants the user holds (members only).
    held: Vec<&'a AppGrant>,
    /// Per field with a policy: the cap of the policies the user does not meet.
    caps: Vec<(&'a str, FieldAccessLevel)>,
}

impl Prepared<'_> {
    /// The decision for one record (or for the app as a whole when `record` is `None`).
    pub fn decide(&self, record: Option<&RecordFacts>) -> Decision {
        let id = record.and_then(|r| r.id.clone());
        let ready = match &self.outcome {
            Ok(ready) => ready,
            Err(layer) => return Decision::denied(id, *layer),
        };
        let actions = match ready.standing {
            Standing::Everything => layers::ActionSet::all(),
            Standing::Member(_) => match layers::record(self.facts, &ready.held, record) {
                Ok(actions) => actions,
                Err(layer) => return Decision::denied(id, layer),
            },
        };
        Decision {
            id,
            allowed: true,
            denied_at: None,
            actions: actions.to_vec(),
            fields: layers::field(ready.standing, &ready.caps, actions, record),
        }
    }
}

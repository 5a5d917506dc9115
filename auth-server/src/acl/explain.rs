//! "Why can't I see this record?": the same four layers as [`super::evaluate`], but
//! reporting, for every layer, what admitted or denied and why: each grant of the app
//! (held or not, admitting the record or not), the record's allow-list, and per field
//! the level the record gives, every policy on it and whether the user meets it.
//!
//! A separate function, so the hot path ([`super::Prepared::decide`]) stays as it is;
//! both use the same layer helpers, and the explanation's `decision` is the evaluator's
//! own answer, so the two cannot disagree (a test checks the layers agree with it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::layers::{self, Standing};
use super::model::{
    AclFacts, AclQuery, Action, AppGrant, Decision, FieldAccessLevel, FieldPolicy, RecordRule, Role,
};

/// How a layer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The layer let the request through (possibly narrowed).
    Pass,
    /// The layer denied: the decision stops here.
    Deny,
    /// An admin short circuit: this layer granted everything, later ones are skipped.
    Everything,
    /// Not evaluated (an earlier layer decided, or no record facts were given).
    Skipped,
}

/// One grant of the app as the app and record layers saw it.
#[derive(Debug, Clone, Serialize)]
pub struct GrantTrace {
    /// The grant's group.
    pub group: String,
    /// The grant's actions.
    pub actions: Vec<Action>,
    /// The grant's record rule.
    pub records: RecordRule,
    /// Whether the user is in the group (app layer).
    pub held: bool,
    /// Whether the record rule admits the record (record layer; `None` without record).
    pub admits_record: Option<bool>,
}

/// One policy on a field and whether the user meets it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTrace {
    /// The policy.
    pub policy: FieldPolicy,
    /// Whether the user meets it (admins meet every policy).
    pub met: bool,
}

/// One row of the field table.
#[derive(Debug, Clone, Serialize)]
pub struct FieldTrace {
    /// Field name.
    pub field: String,
    /// What the record's actions give (`edit` / `read` / `hidden`).
    pub from_record: FieldAccessLevel,
    /// The policies on this field.
    pub policies: Vec<PolicyTrace>,
    /// The final level.
    pub level: FieldAccessLevel,
}

/// One layer's report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerTrace {
    /// `workspace`, `app`, `record` or `field`.
    pub layer: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, in a sentence for an administrator.
    pub reason: String,
}

/// The whole explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The evaluator's decision (exactly what introspection would answer).
    pub decision: Decision,
    /// The four layers in order.
    pub layers: Vec<LayerTrace>,
    /// The user's facts the layers used: role, groups, system admin flag.
    pub user: UserTrace,
    /// The app's grants as the app and record layers saw them.
    pub grants: Vec<GrantTrace>,
    /// The field table (empty when denied before the field layer).
    pub fields: Vec<FieldTrace>,
}

/// The user's standing as the workspace layer read it.
#[derive(Debug, Clone, Serialize)]
pub struct UserTrace {
    /// The `sub`.
    pub sub: String,
    /// System administrator.
    pub system_admin: bool,
    /// Role in the workspace (`null`: not a participant).
    pub workspace_role: Option<Role>,
    /// Group names in the workspace.
    pub groups: Vec<String>,
}

fn layer(layer: &'static str, outcome: Outcome, reason: impl Into<String>) -> LayerTrace {
    LayerTrace {
        layer,
        outcome,
        reason: reason.into(),
    }
}

fn names(actions: impl IntoIterator<Item = Action>) -> String {
    let v: Vec<String> = actions
        .into_iter()
        .map(|a| {
            serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// Explain the decision for (user, workspace, app, record?) layer by layer.
pub fn explain(facts: &AclFacts, query: &AclQuery) -> Explanation {
    let decision = super::evaluate(facts, query);
    let record = query.record.as_ref();
    let user = UserTrace {
        sub: facts.user_sub.clone(),
        system_admin: facts.system_admin,
        workspace_role: facts.workspace_role,
        groups: facts.user_groups.iter().cloned().collect(),
    };
    let app_grants: &[AppGrant] = facts.app.as_ref().map_or(&[], |a| a.grants.as_slice());
    let mut grants: Vec<GrantTrace> = app_grants
        .iter()
        .map(|g| GrantTrace {
            group: g.group.clone(),
            actions: g.actions.clone(),
            records: g.records.clone(),
            held: facts.user_groups.contains(&g.group),
            admits_record: record.map(|r| layers::admits(&g.records, facts, r)),
        })
        .collect();
    let mut out = Vec::with_capacity(4);
    let skipped = |name| layer(name, Outcome::Skipped, "an earlier layer decided");

    // Layer 1.
    let standing = match layers::workspace(facts) {
        Err(_) => {
            out.push(layer(
                "workspace",
                Outcome::Deny,
                "the user is not a participant of the workspace",
            ));
            out.extend(["app", "record", "field"].map(skipped));
            return Explanation {
                decision,
                layers: out,
                user,
                grants,
                fields: Vec::new(),
            };
        }
        Ok(s) => s,
    };
    match (standing, facts.system_admin) {
        (Standing::Everything, true) => out.push(layer(
            "workspace",
            Outcome::Everything,
            "system administrator: every action, every field editable",
        )),
        (Standing::Everything, false) => out.push(layer(
            "workspace",
            Outcome::Everything,
            "workspace admin: every action in this workspace, every field editable",
        )),
        (Standing::Member(role), _) => out.push(layer(
            "workspace",
            Outcome::Pass,
            format!(
                "participant with role {}",
                serde_json::to_value(role)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        )),
    }

    // Layer 2.
    let actions = if let Standing::Member(_) = standing {
        match layers::app(facts) {
            Err(_) if facts.app.is_none() => {
                out.push(layer("app", Outcome::Deny, "the workspace has no such app"));
                out.extend(["record", "field"].map(skipped));
                return Explanation {
                    decision,
                    layers: out,
                    user,
                    grants,
                    fields: Vec::new(),
                };
            }
            Err(_) => {
                out.push(layer("app", Outcome::Deny, "no grant of the app is held through the user's groups (or the held grants give no action)"));
                out.extend(["record", "field"].map(skipped));
                return Explanation {
                    decision,
                    layers: out,
                    user,
                    grants,
                    fields: Vec::new(),
                };
            }
            Ok(held) => {
                let groups: Vec<&str> = held.iter().map(|g| g.group.as_str()).collect();
                out.push(layer(
                    "app",
                    Outcome::Pass,
                    format!(
                        "held through group(s) {}: {}",
                        groups.join(", "),
                        names(
                            held.iter()
                                .flat_map(|g| g.actions.iter().copied())
                                .collect::<std::collections::BTreeSet<_>>()
                        )
                    ),
                ));
                // Layer 3.
                match (record, layers::record(facts, &held, record)) {
                    (None, Ok(a)) => {
                        out.push(layer(
                            "record",
                            Outcome::Skipped,
                            "no record facts given: the app layer's actions stand",
                        ));
                        a
                    }
                    (Some(r), Err(_)) => {
                        let reason = match &r.acl {
                            Some(list) if !layers::on_allow_list(facts, list) => "the record's allow-list names neither the user nor one of their groups".to_owned(),
                            _ => "no held grant's record rule admits this record".to_owned(),
                        };
                        out.push(layer("record", Outcome::Deny, reason));
                        out.push(skipped("field"));
                        return Explanation {
                            decision,
                            layers: out,
                            user,
                            grants,
                            fields: Vec::new(),
                        };
                    }
                    (Some(r), Ok(a)) => {
                        let admitted: Vec<&str> = held
                            .iter()
                            .filter(|g| layers::admits(&g.records, facts, r))
                            .map(|g| g.group.as_str())
                            .collect();
                        let list = if r.acl.is_some() {
                            "; the user is on the record's allow-list"
                        } else {
                            ""
                        };
                        out.push(layer(
                            "record",
                            Outcome::Pass,
                            format!(
                                "admitted by the grant(s) of {}: {}{list}",
                                admitted.join(", "),
                                names(a.to_vec())
                            ),
                        ));
                        a
                    }
                    (None, Err(_)) => layers::ActionSet::default(),
                }
            }
        }
    } else {
        out.push(layer(
            "app",
            Outcome::Skipped,
            "admin: the app layer is not consulted",
        ));
        out.push(layer(
            "record",
            Outcome::Skipped,
            "admin: record rules and allow-lists do not restrict admins",
        ));
        layers::ActionSet::all()
    };

    // Layer 4.
    let from_record = match standing {
        Standing::Everything => FieldAccessLevel::Edit,
        Standing::Member(_) if actions.contains(Action::Edit) => FieldAccessLevel::Edit,
        Standing::Member(_) if actions.contains(Action::Read) => FieldAccessLevel::Read,
        Standing::Member(_) => FieldAccessLevel::Hidden,
    };
    let policies: &[FieldPolicy] = facts.app.as_ref().map_or(&[], |a| a.fields.as_slice());
    let mut fields: Vec<FieldTrace> = decision
        .fields
        .iter()
        .map(|(name, level)| FieldTrace {
            field: name.clone(),
            from_record,
            policies: policies
                .iter()
                .filter(|p| &p.field == name)
                .map(|p| PolicyTrace {
                    policy: p.clone(),
                    met: match standing {
                        Standing::Everything => true,
                        Standing::Member(role) => layers::meets(p, role, facts),
                    },
                })
                .collect(),
            level: *level,
        })
        .collect();
    fields.sort_by(|a, b| a.field.cmp(&b.field));
    let limited: Vec<&str> = fields
        .iter()
        .filter(|f| f.level < f.from_record)
        .map(|f| f.field.as_str())
        .collect();
    out.push(layer(
        "field",
        Outcome::Pass,
        if limited.is_empty() {
            "every field follows the record".to_owned()
        } else {
            format!(
                "limited by a field policy the user does not meet: {}",
                limited.join(", ")
            )
        },
    ));
    // Grants are reported in app order; nothing more to narrow.
    grants.shrink_to_fit();
    Explanation {
        decision,
        layers: out,
        user,
        grants,
        fields,
    }
}

/// A field-level view of the explanation, keyed by field (for callers that index).
pub fn field_levels(e: &Explanation) -> BTreeMap<&str, FieldAccessLevel> {
    e.fields
        .iter()
        .map(|f| (f.field.as_str(), f.level))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::model::{AppFacts, FieldAccess, Layer, RecordFacts, WhenDenied};
    use serde_json::json;

    fn facts(role: Option<Role>, groups: &[&str]) -> AclFacts {
        AclFacts {
            user_sub: "u1".into(),
            workspace_role: role,
            user_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            app: Some(AppFacts {
                slug: "deals".into(),
                grants: vec![
                    AppGrant {
                        group: "sales".into(),
                        actions: vec![Action::Read, Action::Edit],
                        records: RecordRule::Own,
                    },
                    AppGrant {
                        group: "viewers".into(),
                        actions: vec![Action::Read],
                        records: RecordRule::All,
                    },
                ],
                fields: vec![FieldPolicy {
                    field: "cost".into(),
                    access: FieldAccess::Groups,
                    groups: vec!["finance".into()],
                    when_denied: WhenDenied::Hidden,
                }],
            }),
            ..AclFacts::default()
        }
    }

    fn record(creator: &str) -> AclQuery {
        AclQuery {
            record: Some(RecordFacts {
                creator: Some(creator.into()),
                fields: [
                    ("cost".to_owned(), json!(5)),
                    ("title".to_owned(), json!("x")),
                ]
                .into(),
                ..RecordFacts::default()
            }),
        }
    }

    fn outcomes(e: &Explanation) -> Vec<Outcome> {
        e.layers.iter().map(|l| l.outcome).collect()
    }

    #[test]
    fn a_hidden_cost_field_names_the_unmet_policy() {
        let e = explain(&facts(Some(Role::Participant), &["sales"]), &record("u1"));
        assert!(e.decision.allowed);
        assert_eq!(outcomes(&e), [Outcome::Pass; 4]);
        let cost = e.fields.iter().find(|f| f.field == "cost").unwrap();
        assert_eq!(
            (cost.from_record, cost.level),
            (FieldAccessLevel::Edit, FieldAccessLevel::Hidden)
        );
        assert!(!cost.policies[0].met);
        assert!(e.layers[3].reason.contains("cost"));
        assert_eq!(field_levels(&e)["title"], FieldAccessLevel::Edit);
        assert_eq!(
            e.grants
                .iter()
                .map(|g| (g.held, g.admits_record))
                .collect::<Vec<_>>(),
            [(true, Some(true)), (false, Some(true))]
        );
    }

    #[test]
    fn each_denying_layer_is_named_and_later_ones_skipped() {
        let e = explain(&facts(None, &[]), &record("u1"));
        assert_eq!(
            outcomes(&e),
            [
                Outcome::Deny,
                Outcome::Skipped,
                Outcome::Skipped,
                Outcome::Skipped
            ]
        );
        let e = explain(&facts(Some(Role::Team), &["other"]), &record("u1"));
        assert_eq!(outcomes(&e)[..2], [Outcome::Pass, Outcome::Deny]);
        let e = explain(
            &facts(Some(Role::Team), &["sales"]),
            &record("someone-else"),
        );
        assert_eq!(
            outcomes(&e)[..3],
            [Outcome::Pass, Outcome::Pass, Outcome::Deny]
        );
        assert_eq!(e.decision.denied_at, Some(Layer::Record));
        assert!(e.fields.is_empty());
    }

    #[test]
    fn admins_short_circuit_and_agree_with_the_evaluator() {
        let e = explain(&facts(Some(Role::Admin), &[]), &record("x"));
        assert_eq!(
            outcomes(&e),
            [
                Outcome::Everything,
                Outcome::Skipped,
                Outcome::Skipped,
                Outcome::Pass
            ]
        );
        assert!(
            e.fields
                .iter()
                .all(|f| f.level == FieldAccessLevel::Edit && f.policies.iter().all(|p| p.met))
        );
        for (role, groups, creator) in [
            (Some(Role::Participant), &["viewers"][..], "x"),
            (Some(Role::Team), &["sales", "finance"][..], "u1"),
        ] {
            let f = facts(role, groups);
            let q = record(creator);
            let e = explain(&f, &q);
            assert_eq!(e.decision, crate::acl::evaluate(&f, &q));
            assert_eq!(
                field_levels(&e)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<BTreeMap<_, _>>(),
                e.decision.fields
            );
        }
    }

    #[test]
    fn without_record_facts_the_record_layer_is_skipped() {
        let e = explain(
            &facts(Some(Role::Participant), &["viewers"]),
            &AclQuery::default(),
        );
        assert_eq!(
            outcomes(&e),
            [
                Outcome::Pass,
                Outcome::Pass,
                Outcome::Skipped,
                Outcome::Pass
            ]
        );
        assert_eq!(e.grants[1].admits_record, None);
    }
}

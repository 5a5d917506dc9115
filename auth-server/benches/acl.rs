//! Criterion benchmarks of the pure ACL evaluator (issue 3, "Measure"): one decision,
//! and 10,000 record decisions for one user, as `/acl/evaluate` computes them after the
//! facts are loaded (target: 10,000 decisions in under 5 ms on one core).
//!
//! The facts are the team pattern of the product documents with a few more groups and
//! policies than strictly needed, so every layer does real work: the user is in two of
//! six groups, the app has six grants with different record rules and four field
//! policies, and the records alternate between own, assigned, foreign and allow-listed.

use auth_server::acl::{
    AclFacts, AclQuery, Action, AllowList, AppFacts, AppGrant, FieldAccess, FieldPolicy,
    RecordFacts, RecordRule, Role, WhenDenied, evaluate, prepare,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::collections::BTreeMap;
use std::hint::black_box;

fn grant(group: &str, actions: &[Action], records: RecordRule) -> AppGrant {
    AppGrant {
        group: group.into(),
        actions: actions.to_vec(),
        records,
    }
}

fn policy(
    field: &str,
    access: FieldAccess,
    groups: &[&str],
    when_denied: WhenDenied,
) -> FieldPolicy {
    FieldPolicy {
        field: field.into(),
        access,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        when_denied,
    }
}

fn facts() -> AclFacts {
    use Action::*;
    let rce = [Read, Create, Edit];
    AclFacts {
        user_sub: "u-me".into(),
        system_admin: false,
        user_attributes: BTreeMap::from([("department".into(), json!("sales"))]),
        workspace_role: Some(Role::Participant),
        user_groups: ["Contributors", "Viewers"]
            .iter()
            .map(|g| g.to_string())
            .collect(),
        app: Some(AppFacts {
            slug: "projects".into(),
            grants: vec![
                grant("Managers", &Action::ALL, RecordRule::All),
                grant("Contributors", &rce, RecordRule::OwnOrAssigned),
                grant("Viewers", &[Read], RecordRule::Group),
                grant(
                    "Sales",
                    &[Read, Edit],
                    RecordRule::FieldEqualsUserAttribute {
                        field: "department".into(),
                        equals_user_attribute: "department".into(),
                    },
                ),
                grant("Auditors", &[Read], RecordRule::All),
                grant("Admins", &Action::ALL, RecordRule::All),
            ],
            fields: vec![
                policy(
                    "budget",
                    FieldAccess::Groups,
                    &["Managers", "Viewers"],
                    WhenDenied::Hidden,
                ),
                policy(
                    "salary",
                    FieldAccess::Groups,
                    &["Managers"],
                    WhenDenied::Hidden,
                ),
                policy(
                    "notes",
                    FieldAccess::WorkspaceTeam,
                    &[],
                    WhenDenied::Readonly,
                ),
                policy("cost", FieldAccess::WorkspaceAdmin, &[], WhenDenied::Hidden),
            ],
        }),
    }
}

fn record(i: usize) -> RecordFacts {
    let who = |n: usize| {
        if n == 0 {
            "u-me".to_string()
        } else {
            format!("u-{n}")
        }
    };
    RecordFacts {
        id: Some(format!("r{i}")),
        creator: Some(who(i % 3)),
        assignee: Some(who(i % 5)),
        group: Some(
            if i.is_multiple_of(2) {
                "Viewers"
            } else {
                "Other"
            }
            .into(),
        ),
        acl: i.is_multiple_of(7).then(|| AllowList {
            users: vec!["u-1".into()],
            groups: vec!["Contributors".into()],
        }),
        fields: BTreeMap::from([
            ("title".into(), json!("t")),
            ("budget".into(), json!(i)),
            (
                "department".into(),
                json!(if i.is_multiple_of(4) { "sales" } else { "eng" }),
            ),
        ]),
    }
}

fn bench(c: &mut Criterion) {
    let facts = facts();
    let one = AclQuery {
        record: Some(record(1)),
    };
    c.bench_function("acl/one_decision", |b| {
        b.iter(|| evaluate(black_box(&facts), black_box(&one)))
    });

    // As `/acl/evaluate` does: layers 1–2 once for the user, then each record.
    let records: Vec<RecordFacts> = (0..10_000).map(record).collect();
    c.bench_function("acl/10k_decisions_one_user", |b| {
        b.iter(|| {
            let prepared = prepare(black_box(&facts));
            records
                .iter()
                .map(|r| prepared.decide(Some(r)))
                .filter(|d| d.allowed)
                .count()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

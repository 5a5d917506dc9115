//! Tests for the ACL evaluator: one table case per rule sentence of DESIGN.md ("ACL
//! model", "ACL calls"), each named by the sentence it proves, and proptest properties
//! for the algebra (union within a layer, narrowing across layers, empty denials, system
//! admin, JSON round trip). The JSON spellings themselves are pinned in `model.rs`.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use Action as A;

mod examples;
use FieldAccessLevel as L;

const ME: &str = "u-me";
const OTHER: &str = "u-other";

// ---------------------------------------------------------------- builders

/// A plain participant of the workspace, in no group, with an app "tasks" that has
/// no grants and no field policies yet.
fn member(role: Role) -> AclFacts {
    AclFacts {
        user_sub: ME.into(),
        workspace_role: Some(role),
        app: Some(AppFacts {
            slug: "tasks".into(),
            ..AppFacts::default()
        }),
        ..AclFacts::default()
    }
}

fn participant() -> AclFacts {
    member(Role::Participant)
}

fn field_rule(field: &str, attribute: &str) -> RecordRule {
    RecordRule::FieldEqualsUserAttribute {
        field: field.into(),
        equals_user_attribute: attribute.into(),
    }
}

/// Test-only builder steps on the facts.
trait Given: Sized {
    fn with(self, change: impl FnOnce(&mut AclFacts)) -> Self;
    fn in_groups(self, groups: &[&str]) -> Self {
        self.with(|f| f.user_groups.extend(groups.iter().map(|g| g.to_string())))
    }
    fn grant(self, group: &str, actions: &[Action], records: RecordRule) -> Self {
        self.with(|f| {
            f.app
                .get_or_insert_with(AppFacts::default)
                .grants
                .push(AppGrant {
                    group: group.into(),
                    actions: actions.to_vec(),
                    records,
                })
        })
    }
    fn policy(self, field: &str, access: FieldAccess, groups: &[&str], when: WhenDenied) -> Self {
        self.with(|f| {
            f.app
                .get_or_insert_with(AppFacts::default)
                .fields
                .push(FieldPolicy {
                    field: field.into(),
                    access,
                    groups: groups.iter().map(|g| g.to_string()).collect(),
                    when_denied: when,
                })
        })
    }
    fn attr(self, name: &str, value: Value) -> Self {
        self.with(|f| {
            f.user_attributes.insert(name.into(), value);
        })
    }
    fn system_admin(self) -> Self {
        self.with(|f| f.system_admin = true)
    }
    fn not_participant(self) -> Self {
        self.with(|f| f.workspace_role = None)
    }
    fn no_app(self) -> Self {
        self.with(|f| f.app = None)
    }
}

impl Given for AclFacts {
    fn with(mut self, change: impl FnOnce(&mut AclFacts)) -> Self {
        change(&mut self);
        self
    }
}

/// A record "r1" with no facts yet.
fn rec() -> RecordFacts {
    RecordFacts {
        id: Some("r1".into()),
        ..RecordFacts::default()
    }
}

trait Record: Sized {
    fn with(self, change: impl FnOnce(&mut RecordFacts)) -> Self;
    fn creator(self, sub: &str) -> Self {
        self.with(|r| r.creator = Some(sub.into()))
    }
    fn assignee(self, sub: &str) -> Self {
        self.with(|r| r.assignee = Some(sub.into()))
    }
    fn group(self, group: &str) -> Self {
        self.with(|r| r.group = Some(group.into()))
    }
    fn allow(self, users: &[&str], groups: &[&str]) -> Self {
        self.with(|r| {
            r.acl = Some(AllowList {
                users: users.iter().map(|u| u.to_string()).collect(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            })
        })
    }
    fn field(self, name: &str, value: Value) -> Self {
        self.with(|r| {
            r.fields.insert(name.into(), value);
        })
    }
}

impl Record for RecordFacts {
    fn with(mut self, change: impl FnOnce(&mut RecordFacts)) -> Self {
        change(&mut self);
        self
    }
}

/// The expected allowed decision (the runner fills in the echoed id).
fn allow(actions: &[Action], fields: &[(&str, FieldAccessLevel)]) -> Decision {
    Decision {
        id: None,
        allowed: true,
        denied_at: None,
        actions: actions.to_vec(),
        fields: fields.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

fn deny(layer: Layer) -> Decision {
    Decision::denied(None, layer)
}

/// One table row: (rule sentence, facts, record facts, expected decision).
type Case = (&'static str, AclFacts, Option<RecordFacts>, Decision);

/// Runs every case and reports all failures at once, by sentence.
fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (name, facts, record, mut expect) in cases {
        // "The record id is echoed", allowed or denied: checked on every case.
        expect.id = record.as_ref().and_then(|r| r.id.clone());
        let got = evaluate(&facts, &AclQuery { record });
        if got != expect {
            failures.push(format!(
                "{name}:\n  expected {expect:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const RW: &[Action] = &[A::Read, A::Edit];

// ---------------------------------------------------------------- layer 1
// The tables keep one case per line so they read as tables; rustfmt would explode them.

#[rustfmt::skip]
#[test]
fn layer_1_workspace() {
    use FieldAccess::*;
    use WhenDenied::*;
    let policed = |f: AclFacts| {
        f.policy("salary", WorkspaceAdmin, &[], Hidden).policy("budget", Groups, &["finance"], Readonly)
    };
    let fenced = rec().creator(OTHER).allow(&[OTHER], &["finance"]).field("title", json!("t"));
    let all_edit = [("budget", L::Edit), ("salary", L::Edit), ("title", L::Edit)];
    run(vec![
        ("system admin → everything (all six actions, edit on every field, past allow-lists)",
            policed(participant().not_participant().system_admin()), Some(fenced.clone()), allow(&A::ALL, &all_edit)),
        ("system admin → everything, even for an app without facts (admins short-circuit)",
            participant().no_app().not_participant().system_admin(), Some(rec().field("title", json!("t"))),
            allow(&A::ALL, &[("title", L::Edit)])),
        ("not a participant of the workspace → deny at workspace",
            participant().not_participant().in_groups(&["staff"]).grant("staff", &[A::Read], RecordRule::All),
            None, deny(Layer::Workspace)),
        ("workspace admin → everything in that workspace (no grant needed, past allow-lists)",
            policed(member(Role::Admin)), Some(fenced), allow(&A::ALL, &all_edit)),
        ("workspace admin → everything, even for an app without facts (admins short-circuit)",
            member(Role::Admin).no_app(), None, allow(&A::ALL, &[])),
    ]);
}

// ---------------------------------------------------------------- layer 2

#[rustfmt::skip]
#[test]
fn layer_2_app() {
    use RecordRule::All;
    run(vec![
        ("app: the union of the actions of the grants whose group the user is in",
            participant().in_groups(&["staff", "editors"])
                .grant("staff", &[A::Read], All).grant("editors", &[A::Edit, A::Delete], All),
            None, allow(&[A::Read, A::Edit, A::Delete], &[])),
        ("app: grants of groups the user is not in give nothing",
            participant().in_groups(&["staff"]).grant("staff", &[A::Read], All).grant("managers", &[A::Admin], All),
            None, allow(&[A::Read], &[])),
        ("app: empty → deny at app",
            participant().in_groups(&["visitors"]).grant("staff", &[A::Read], All), None, deny(Layer::App)),
        ("app: a held grant with no actions leaves the union empty → deny at app",
            participant().in_groups(&["staff"]).grant("staff", &[], All), None, deny(Layer::App)),
        ("app: an app that does not exist → deny at app",
            participant().no_app().in_groups(&["staff"]), None, deny(Layer::App)),
        ("app: a team member still needs a grant", member(Role::Team), None, deny(Layer::App)),
        ("app: actions are listed in canonical order without duplicates",
            participant().in_groups(&["a", "b"])
                .grant("a", &[A::Admin, A::ManageLists, A::Delete], All)
                .grant("b", &[A::Edit, A::Create, A::Read, A::Admin], All),
            None, allow(&A::ALL, &[])),
    ]);
}

// ---------------------------------------------------------------- layer 3

#[rustfmt::skip]
#[test]
fn layer_3_record() {
    use RecordRule::*;
    let with = |rule: RecordRule| participant().in_groups(&["g"]).grant("g", RW, rule);
    let region = || field_rule("region", "region");
    let by_region = || with(region()).attr("region", json!("emea"));
    let ok = || allow(RW, &[]);
    let ok_region = || allow(RW, &[("region", L::Edit)]);
    let no = || deny(Layer::Record);
    run(vec![
        ("record: without record facts the app layer's union stands", with(Own), None, ok()),
        ("record: `all` admits every record", with(All), Some(rec()), ok()),
        ("record: `own` admits a record whose creator is the user (sub)", with(Own), Some(rec().creator(ME)), ok()),
        ("record: `own` does not admit another user's record", with(Own), Some(rec().creator(OTHER).assignee(ME)), no()),
        ("record: `own` does not admit a record without creator", with(Own), Some(rec()), no()),
        ("record: `assigned` admits a record assigned to the user", with(Assigned), Some(rec().assignee(ME)), ok()),
        ("record: `assigned` does not admit a record the user only created", with(Assigned), Some(rec().creator(ME)), no()),
        ("record: `own_or_assigned` admits the creator", with(OwnOrAssigned), Some(rec().creator(ME).assignee(OTHER)), ok()),
        ("record: `own_or_assigned` admits the assignee", with(OwnOrAssigned), Some(rec().creator(OTHER).assignee(ME)), ok()),
        ("record: `own_or_assigned` does not admit a stranger", with(OwnOrAssigned), Some(rec().creator(OTHER).assignee(OTHER)), no()),
        ("record: `group` admits a record whose group is one of the user's", with(Group), Some(rec().group("g")), ok()),
        ("record: `group` does not admit a record of another group", with(Group), Some(rec().group("h")), no()),
        ("record: `group` does not admit a record without group", with(Group), Some(rec()), no()),
        ("record: field equals user attribute admits equal JSON values",
            by_region(), Some(rec().field("region", json!("emea"))), ok_region()),
        ("record: field equals user attribute does not admit a different value",
            by_region(), Some(rec().field("region", json!("apac"))), no()),
        ("record: field equals user attribute compares JSON types strictly (1 ≠ \"1\")",
            with(region()).attr("region", json!(1)), Some(rec().field("region", json!("1"))), no()),
        ("record: field equals user attribute needs the user attribute",
            with(region()), Some(rec().field("region", json!("emea"))), no()),
        ("record: field equals user attribute needs the record field", by_region(), Some(rec()), no()),
        ("record: field equals user attribute never matches null to null",
            with(region()).attr("region", Value::Null), Some(rec().field("region", Value::Null)), no()),
        ("record: field equals user attribute admits a record array containing the attribute value",
            by_region(), Some(rec().field("region", json!(["apac", "emea"]))), ok_region()),
        ("record: field equals user attribute does not admit an array without the value",
            by_region(), Some(rec().field("region", json!(["apac"]))), no()),
        ("record: keep only grants whose records rule admits the record (union of those left)",
            participant().in_groups(&["staff", "editors", "owners"])
                .grant("staff", &[A::Read], All).grant("editors", &[A::Edit], Assigned).grant("owners", &[A::Delete], Own),
            Some(rec().creator(OTHER).assignee(ME)), allow(RW, &[])),
        ("record: nothing left → deny at record", with(Assigned), Some(rec().assignee(OTHER)), no()),
        ("record: with an allow-list, the user on it by sub passes", with(All), Some(rec().allow(&[ME], &[])), ok()),
        ("record: with an allow-list, one of the user's groups on it is enough",
            with(All), Some(rec().allow(&[OTHER], &["g"])), ok()),
        ("record: with an allow-list the user is not on → deny at record",
            with(All), Some(rec().allow(&[OTHER], &["h"])), no()),
        ("record: an empty allow-list admits nobody", with(All), Some(rec().allow(&[], &[])), no()),
        ("record: allow-lists only narrow: being on one admits nothing no grant admits",
            with(Own), Some(rec().creator(OTHER).allow(&[ME], &[])), no()),
        ("record: allow-lists only narrow: being on one adds no action",
            participant().in_groups(&["g"]).grant("g", &[A::Read], All), Some(rec().allow(&[ME], &["g"])),
            allow(&[A::Read], &[])),
        ("record: allow-lists only narrow: a group on the list that grants nothing does not help",
            participant().in_groups(&["staff", "guests"]).grant("staff", &[A::Read], Own),
            Some(rec().creator(OTHER).allow(&[], &["guests"])), no()),
    ]);
}

// ---------------------------------------------------------------- layer 4

#[rustfmt::skip]
#[test]
fn layer_4_field() {
    use FieldAccess::*;
    use WhenDenied::*;
    let can = |role: Role, actions: &[Action]| member(role).in_groups(&["g"]).grant("g", actions, RecordRule::All);
    let title = || Some(rec().field("title", json!("t")));
    let one = |level: FieldAccessLevel, actions: &[Action]| allow(actions, &[("f", level)]);
    let (pr, team) = (Role::Participant, Role::Team);
    run(vec![
        ("field: a field without policy follows the record: edit if the user may edit",
            can(pr, RW), title(), allow(RW, &[("title", L::Edit)])),
        ("field: a field without policy follows the record: read if only read",
            can(pr, &[A::Read]), title(), allow(&[A::Read], &[("title", L::Read)])),
        ("field: a user who may not even read sees every field hidden",
            can(pr, &[A::Create]), title(), allow(&[A::Create], &[("title", L::Hidden)])),
        ("field: edit without read still edits (actions do not imply each other)",
            can(pr, &[A::Edit]), title(), allow(&[A::Edit], &[("title", L::Edit)])),
        ("field: with a policy the user does not meet: hidden as configured",
            can(pr, RW).policy("f", WorkspaceAdmin, &[], Hidden), None, one(L::Hidden, RW)),
        ("field: with a policy the user does not meet: readonly as configured",
            can(pr, RW).policy("f", WorkspaceAdmin, &[], Readonly), None, one(L::Read, RW)),
        ("field: readonly never raises a field the record hides",
            can(pr, &[A::Create]).policy("f", WorkspaceAdmin, &[], Readonly), None, one(L::Hidden, &[A::Create])),
        ("field: workspaceAdmin is not met by team",
            can(team, RW).policy("f", WorkspaceAdmin, &[], Readonly), None, one(L::Read, RW)),
        ("field: workspaceTeam is met by team participants",
            can(team, RW).policy("f", WorkspaceTeam, &[], Hidden), None, one(L::Edit, RW)),
        ("field: workspaceTeam is not met by participant",
            can(pr, RW).policy("f", WorkspaceTeam, &[], Hidden), None, one(L::Hidden, RW)),
        ("field: workspaceTeam is met by admin participants (who get edit everywhere)",
            member(Role::Admin).policy("f", WorkspaceTeam, &[], Hidden), None, allow(&A::ALL, &[("f", L::Edit)])),
        ("field: groups is met when the user is in one of the groups",
            can(pr, RW).in_groups(&["finance"]).policy("f", Groups, &["hr", "finance"], Hidden), None, one(L::Edit, RW)),
        ("field: groups is not met when the user is in none of them",
            can(pr, RW).policy("f", Groups, &["hr", "finance"], Hidden), None, one(L::Hidden, RW)),
        ("field: groups with an empty list is met by nobody",
            can(pr, RW).policy("f", Groups, &[], Readonly), None, one(L::Read, RW)),
        ("field: a met policy follows the record like a field without policy",
            can(team, &[A::Read]).policy("f", WorkspaceTeam, &[], Hidden), None, one(L::Read, &[A::Read])),
        ("field: several unmet policies on one field: the most restrictive wins",
            can(pr, RW).policy("f", WorkspaceTeam, &[], Readonly).policy("f", Groups, &["hr"], Hidden),
            None, one(L::Hidden, RW)),
        ("field: several policies on one field: a met one does not lift an unmet one",
            can(team, RW).policy("f", WorkspaceTeam, &[], Hidden).policy("f", WorkspaceAdmin, &[], Readonly),
            None, one(L::Read, RW)),
        ("field: the level follows the record layer, not the app layer",
            can(pr, &[A::Read]).grant("g", &[A::Edit], RecordRule::Own),
            Some(rec().creator(OTHER).field("title", json!("t"))), allow(&[A::Read], &[("title", L::Read)])),
    ]);
}

// ---------------------------------------------------------------- ACL calls

#[rustfmt::skip]
#[test]
fn acl_calls_decision_shape() {
    use FieldAccess::*;
    use WhenDenied::*;
    let app = || {
        participant().in_groups(&["g"]).grant("g", &[A::Read], RecordRule::Own)
            .policy("salary", WorkspaceAdmin, &[], Hidden).policy("notes", WorkspaceTeam, &[], Readonly)
    };
    let record = || rec().creator(ME).field("title", json!("t")).field("salary", json!(1));
    run(vec![
        ("fields cover every field with a policy in the app plus every field named in the record facts",
            app(), Some(record()), allow(&[A::Read], &[("notes", L::Read), ("salary", L::Hidden), ("title", L::Read)])),
        ("fields: without record facts only the fields with a policy are covered",
            app(), None, allow(&[A::Read], &[("notes", L::Read), ("salary", L::Hidden)])),
        ("denied decisions carry actions [] and fields {} (and still echo the record id)",
            app(), Some(record().creator(OTHER)), deny(Layer::Record)),
        ("denied decisions carry no fields at workspace either",
            app().not_participant(), Some(record()), deny(Layer::Workspace)),
        ("system and workspace admins get all six actions and edit everywhere",
            app().with(|f| f.workspace_role = Some(Role::Admin)), Some(record().creator(OTHER)),
            allow(&A::ALL, &[("notes", L::Edit), ("salary", L::Edit), ("title", L::Edit)])),
    ]);
}

// ---------------------------------------------------------------- properties

const USERS: [&str; 3] = [ME, OTHER, "u-third"];
const GROUPS: [&str; 3] = ["g1", "g2", "g3"];
const FIELDS: [&str; 3] = ["f1", "f2", "f3"];

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_string)
}

fn some_names(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(pool, 0..=pool.len())
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn value() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!("x"),
        json!("y"),
        json!(["x", "y"]),
        Value::Null,
        json!(1),
    ])
}

fn rule() -> impl Strategy<Value = RecordRule> {
    prop_oneof![
        Just(RecordRule::All),
        Just(RecordRule::Own),
        Just(RecordRule::Assigned),
        Just(RecordRule::OwnOrAssigned),
        Just(RecordRule::Group),
        (names(&FIELDS), names(&["a1", "a2"])).prop_map(|(f, a)| field_rule(&f, &a)),
    ]
}

fn grant() -> impl Strategy<Value = AppGrant> {
    (
        names(&GROUPS),
        prop::sample::subsequence(A::ALL.to_vec(), 0..=6),
        rule(),
    )
        .prop_map(|(group, actions, records)| AppGrant {
            group,
            actions,
            records,
        })
}

fn policy() -> impl Strategy<Value = FieldPolicy> {
    let access = prop::sample::select(vec![
        FieldAccess::WorkspaceAdmin,
        FieldAccess::WorkspaceTeam,
        FieldAccess::Groups,
    ]);
    let when = prop::sample::select(vec![WhenDenied::Hidden, WhenDenied::Readonly]);
    (names(&FIELDS), access, some_names(&GROUPS), when).prop_map(
        |(field, access, groups, when_denied)| FieldPolicy {
            field,
            access,
            groups,
            when_denied,
        },
    )
}

fn allow_list() -> impl Strategy<Value = AllowList> {
    (some_names(&USERS), some_names(&GROUPS))
        .prop_map(|(users, groups)| AllowList { users, groups })
}

fn facts() -> impl Strategy<Value = AclFacts> {
    let role = prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            Role::Admin,
            Role::Team,
            Role::Participant,
            Role::Participant,
        ]),
    );
    let app = prop::option::weighted(
        0.9,
        (
            prop::collection::vec(grant(), 0..5),
            prop::collection::vec(policy(), 0..3),
        )
            .prop_map(|(grants, fields)| AppFacts {
                slug: "tasks".into(),
                grants,
                fields,
            }),
    );
    let attrs = prop::collection::btree_map(names(&["a1", "a2"]), value(), 0..3);
    (
        prop::bool::weighted(0.1),
        role,
        some_names(&GROUPS),
        attrs,
        app,
    )
        .prop_map(
            |(system_admin, workspace_role, groups, user_attributes, app)| AclFacts {
                user_sub: ME.into(),
                system_admin,
                user_attributes,
                workspace_role,
                user_groups: groups.into_iter().collect(),
                app,
            },
        )
}

fn record() -> impl Strategy<Value = RecordFacts> {
    let who = || prop::option::of(names(&USERS));
    (
        prop::option::of(Just("r".to_string())),
        who(),
        who(),
        prop::option::of(names(&GROUPS)),
        prop::option::weighted(0.3, allow_list()),
        prop::collection::btree_map(names(&FIELDS), value(), 0..3),
    )
        .prop_map(|(id, creator, assignee, group, acl, fields)| RecordFacts {
            id,
            creator,
            assignee,
            group,
            acl,
            fields,
        })
}

fn eval(facts: &AclFacts, record: Option<&RecordFacts>) -> Decision {
    evaluate(
        facts,
        &AclQuery {
            record: record.cloned(),
        },
    )
}

/// `narrow` allows no more than `wide`: fewer actions, no field above its level in `wide`.
fn no_wider(narrow: &Decision, wide: &Decision) -> Result<(), TestCaseError> {
    if narrow.allowed {
        prop_assert!(
            wide.allowed,
            "narrow allowed, wide denied: {narrow:?} vs {wide:?}"
        );
    }
    let wide_actions: BTreeSet<_> = wide.actions.iter().collect();
    prop_assert!(
        narrow.actions.iter().all(|a| wide_actions.contains(a)),
        "{narrow:?} vs {wide:?}"
    );
    for (name, level) in &narrow.fields {
        if let Some(wide_level) = wide.fields.get(name) {
            prop_assert!(level <= wide_level, "field {name}: {narrow:?} vs {wide:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Within a layer grants add up: adding one never removes an action or lowers a field.
    #[test]
    fn adding_a_grant_never_removes_an_allowed_action(
        facts in facts(), record in prop::option::of(record()), extra in grant(),
    ) {
        let before = eval(&facts, record.as_ref());
        let mut more = facts.clone();
        if let Some(app) = more.app.as_mut() {
            app.grants.push(extra);
        }
        let after = eval(&more, record.as_ref());
        no_wider(&before, &after)?;
    }

    /// Across layers each only narrows: record facts never add an action.
    #[test]
    fn adding_record_facts_never_adds_actions(facts in facts(), record in record()) {
        no_wider(&eval(&facts, Some(&record)), &eval(&facts, None))?;
    }

    /// Allow-lists only narrow: putting one on a record never adds an action.
    #[test]
    fn adding_an_allow_list_never_adds_actions(facts in facts(), record in record(), list in allow_list()) {
        let open = RecordFacts { acl: None, ..record.clone() };
        let fenced = RecordFacts { acl: Some(list), ..record };
        no_wider(&eval(&facts, Some(&fenced)), &eval(&facts, Some(&open)))?;
    }

    /// A denied decision has no actions and no fields; an allowed one has a canonical,
    /// non-empty action list and no `denied_at`.
    #[test]
    fn a_denied_decision_has_no_actions_and_no_fields(facts in facts(), record in prop::option::of(record())) {
        let d = eval(&facts, record.as_ref());
        prop_assert_eq!(d.id.clone(), record.as_ref().and_then(|r| r.id.clone()));
        if d.allowed {
            prop_assert!(d.denied_at.is_none());
            prop_assert!(!d.actions.is_empty());
            prop_assert!(d.actions.windows(2).all(|w| w[0] < w[1]), "canonical order: {:?}", d.actions);
        } else {
            prop_assert!(d.denied_at.is_some());
            prop_assert!(d.actions.is_empty());
            prop_assert!(d.fields.is_empty());
        }
    }

    /// The system admin is always allowed everything, with `edit` on every covered field.
    #[test]
    fn a_system_admin_is_always_allowed(facts in facts(), record in prop::option::of(record())) {
        let facts = AclFacts { system_admin: true, ..facts };
        let d = eval(&facts, record.as_ref());
        prop_assert!(d.allowed);
        prop_assert_eq!(&d.actions, &A::ALL.to_vec());
        let covered: BTreeSet<&String> = facts.app.iter().flat_map(|a| a.fields.iter().map(|p| &p.field))
            .chain(record.iter().flat_map(|r| r.fields.keys()))
            .collect();
        prop_assert_eq!(d.fields.keys().collect::<BTreeSet<_>>(), covered);
        prop_assert!(d.fields.values().all(|l| *l == L::Edit));
    }

    /// Facts, queries and decisions survive a JSON round trip (the service and the
    /// introspection extension move them as JSON).
    #[test]
    fn facts_and_decisions_round_trip_through_json(facts in facts(), record in prop::option::of(record())) {
        let query = AclQuery { record };
        let back: AclFacts = serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
        prop_assert_eq!(&back, &facts);
        let back: AclQuery = serde_json::from_str(&serde_json::to_string(&query).unwrap()).unwrap();
        prop_assert_eq!(&back, &query);
        let d = evaluate(&facts, &query);
        let back: Decision = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        prop_assert_eq!(back, d);
    }
}

//! The product documents' examples (issue 3, "Every example of the product documents is
//! a test") as evaluator table cases, and the properties the issue lists that
//! `tests.rs` does not already state. The same examples run end to end through
//! `/introspect` and `/acl/evaluate` in `tests/tests/e2e/introspect_acl.rs`.

use super::*;

const ALICE: &str = ME;

#[rustfmt::skip]
#[test]
fn product_examples() {
    use FieldAccess::*;
    use RecordRule::*;
    use WhenDenied::*;
    let rce: &[Action] = &[A::Read, A::Create, A::Edit];

    let bug_tracker = participant().in_groups(&["Engineering"]).grant("Engineering", rce, All);
    let qa_bug = rec().allow(&[], &["QA"]).field("title", json!("crash"));

    let corp = |groups: &[&str]| participant().in_groups(groups)
        .grant("Legal", &[A::Read, A::Edit], All);
    let deals = |groups: &[&str]| participant().in_groups(groups)
        .grant("Sales", rce, All).grant("Legal", &[A::Read], All);

    let cost = |role: Role| member(role).in_groups(&["Sales"]).grant("Sales", &[A::Read], All)
        .policy("cost", WorkspaceAdmin, &[], Hidden);
    let deal = rec().field("title", json!("t")).field("cost", json!(1));

    let team = |groups: &[&str]| participant().in_groups(groups)
        .grant("Managers", &A::ALL, All).grant("Contributors", rce, OwnOrAssigned).grant("Viewers", &[A::Read], All)
        .policy("budget", Groups, &["Managers", "Viewers"], Hidden)
        .policy("salary", Groups, &["Managers", "Contributors"], Hidden);
    let theirs = rec().creator(OTHER).field("title", json!("t"));
    let mine = rec().creator(ALICE).field("title", json!("t"));
    let fields = |b: FieldAccessLevel, s: FieldAccessLevel, t: FieldAccessLevel| [("budget", b), ("salary", s), ("title", t)];

    let reviewers = |role: Role, groups: &[&str]| member(role).in_groups(groups)
        .grant("Team", rce, All).grant("Reviewers", &[A::Read], All)
        .policy("notes", WorkspaceTeam, &[], Hidden).policy("pricing", Groups, &["Team"], Hidden);

    let approval = |groups: &[&str]| participant().in_groups(groups)
        .grant("Submitters", &[A::Read, A::Create], Own).grant("Approvers", &[A::Read, A::Edit], Assigned)
        .grant("Admins", &A::ALL, All);
    let submitted = rec().creator(ALICE).assignee(OTHER);
    let to_approve = rec().creator(OTHER).assignee(ALICE);

    let by_department = |dept: &str| participant().in_groups(&["Staff"])
        .grant("Staff", &[A::Read], field_rule("department", "department")).attr("department", json!(dept));
    let sales_record = rec().field("department", json!("sales"));

    run(vec![
        ("bug tracker: Alice (Engineering) on a bug allow-listed to QA → deny at record, no fields",
            bug_tracker.clone(), Some(qa_bug), deny(Layer::Record)),
        ("bug tracker: the same bug without the allow-list is Alice's to edit",
            bug_tracker, Some(rec().field("title", json!("crash"))), allow(rce, &[("title", L::Edit)])),
        ("contracts granted only to Legal: a Sales user → deny at app", corp(&["Sales"]), None, deny(Layer::App)),
        ("contracts: other apps of the workspace stay readable for Sales", deals(&["Sales"]), None, allow(rce, &[])),
        ("contracts: Legal reads and edits", corp(&["Legal"]), None, allow(&[A::Read, A::Edit], &[])),
        ("cost field (workspaceAdmin): hidden for a regular user who can read the deal",
            cost(Role::Participant), Some(deal.clone()), allow(&[A::Read], &[("cost", L::Hidden), ("title", L::Read)])),
        ("cost field: visible and editable for the workspace admin",
            cost(Role::Admin), Some(deal), allow(&A::ALL, &[("cost", L::Edit), ("title", L::Edit)])),
        ("team: Managers do everything on all records and fields",
            team(&["Managers"]), Some(theirs.clone()), allow(&A::ALL, &fields(L::Edit, L::Edit, L::Edit))),
        ("team: Contributors read, create and edit their own records, budget hidden",
            team(&["Contributors"]), Some(mine.clone()), allow(rce, &fields(L::Hidden, L::Edit, L::Edit))),
        ("team: Contributors edit records assigned to them",
            team(&["Contributors"]), Some(rec().creator(OTHER).assignee(ALICE)), allow(rce, &[("budget", L::Hidden), ("salary", L::Edit)])),
        ("team: Contributors do not see other people's records",
            team(&["Contributors"]), Some(theirs.clone()), deny(Layer::Record)),
        ("team: Viewers read everything, sensitive fields hidden",
            team(&["Viewers"]), Some(theirs.clone()), allow(&[A::Read], &fields(L::Read, L::Hidden, L::Read))),
        ("team: Contributors + Viewers reads all records …",
            team(&["Contributors", "Viewers"]), Some(theirs), allow(&[A::Read], &fields(L::Read, L::Read, L::Read))),
        ("team: … and edits only own or assigned ones",
            team(&["Contributors", "Viewers"]), Some(mine), allow(rce, &fields(L::Edit, L::Edit, L::Edit))),
        ("external reviewers: participant role, read-only, sensitive and workspaceTeam fields hidden",
            reviewers(Role::Participant, &["Reviewers"]), None, allow(&[A::Read], &[("notes", L::Hidden), ("pricing", L::Hidden)])),
        ("external reviewers: the workspaceTeam field is visible to team members",
            reviewers(Role::Team, &["Team"]), None, allow(rce, &[("notes", L::Edit), ("pricing", L::Edit)])),
        ("approval: Submitters create and see their own records",
            approval(&["Submitters"]), Some(submitted.clone()), allow(&[A::Read, A::Create], &[])),
        ("approval: Submitters do not see others' records",
            approval(&["Submitters"]), Some(to_approve.clone()), deny(Layer::Record)),
        ("approval: Approvers read and edit records assigned to them",
            approval(&["Approvers"]), Some(to_approve), allow(&[A::Read, A::Edit], &[])),
        ("approval: Approvers do not see records assigned to others",
            approval(&["Approvers"]), Some(submitted.clone()), deny(Layer::Record)),
        ("approval: Admins do everything", approval(&["Admins"]), Some(submitted), allow(&A::ALL, &[])),
        ("workspace admin sees everything in their workspace",
            member(Role::Admin), Some(rec().allow(&[OTHER], &[])), allow(&A::ALL, &[])),
        ("workspace admin sees nothing in a workspace they do not participate in",
            member(Role::Admin).not_participant(), None, deny(Layer::Workspace)),
        ("a system admin sees everything everywhere",
            participant().not_participant().system_admin(), Some(rec().allow(&[OTHER], &[])), allow(&A::ALL, &[])),
        ("a non-participant sees nothing, whatever the grants",
            participant().not_participant().in_groups(&["Staff"]).grant("Staff", &A::ALL, All), None, deny(Layer::Workspace)),
        ("field-based rule: department = user's department admits the record",
            by_department("sales"), Some(sales_record.clone()), allow(&[A::Read], &[("department", L::Read)])),
        ("field-based rule: another department's user is denied at record",
            by_department("engineering"), Some(sales_record), deny(Layer::Record)),
    ]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Adding a layer restriction (a field policy) never grants more.
    #[test]
    fn adding_a_field_policy_never_grants_more(facts in facts(), record in prop::option::of(record()), extra in policy()) {
        let before = eval(&facts, record.as_ref());
        let mut more = facts.clone();
        if let Some(app) = more.app.as_mut() {
            app.fields.push(extra);
        }
        no_wider(&eval(&more, record.as_ref()), &before)?;
    }

    /// Removing a user from every group of an app leaves no app access unless admin.
    #[test]
    fn removing_a_user_from_all_groups_of_an_app_leaves_no_access_unless_admin(
        facts in facts(), record in prop::option::of(record()),
    ) {
        let mut out = facts.clone();
        let app_groups: BTreeSet<String> = facts.app.iter().flat_map(|a| a.grants.iter().map(|g| g.group.clone())).collect();
        out.user_groups.retain(|g| !app_groups.contains(g));
        let d = eval(&out, record.as_ref());
        let admin = out.system_admin || out.workspace_role == Some(Role::Admin);
        prop_assert_eq!(d.allowed, admin, "{:?}", d);
    }

    /// A workspace admin's decision is always full within the workspace.
    #[test]
    fn a_workspace_admins_decision_is_always_full(facts in facts(), record in prop::option::of(record())) {
        let facts = AclFacts { workspace_role: Some(Role::Admin), ..facts };
        let d = eval(&facts, record.as_ref());
        prop_assert!(d.allowed);
        prop_assert_eq!(&d.actions, &A::ALL.to_vec());
        prop_assert!(d.fields.values().all(|l| *l == L::Edit));
    }
}

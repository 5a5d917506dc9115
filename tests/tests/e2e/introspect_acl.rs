//! The ACL extension of introspection and `/acl/evaluate`, proven with every example
//! of the product documents (DESIGN.md "ACL model"), on both backends.

use e2e::acl::{ALL, World, allowed, denied};
use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    alice_is_denied_at_record_for_a_bug_restricted_by_allow_list_to_qa,
    a_sales_user_is_denied_contracts_at_app_while_other_apps_stay_readable,
    a_cost_field_for_workspace_admins_is_hidden_from_users_and_editable_by_the_admin,
    the_team_pattern_gives_managers_contributors_and_viewers_their_access,
    external_reviewers_read_only_without_sensitive_or_team_fields,
    the_approval_workflow_separates_submitters_approvers_and_admins,
    admins_are_bounded_by_their_workspace_system_admins_are_not_strangers_see_nothing,
    a_field_based_rule_admits_records_of_the_users_department,
);

async fn alice_is_denied_at_record_for_a_bug_restricted_by_allow_list_to_qa(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("alice").await;
    w.user("quinn").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "participant").await;
    w.participant("eng", "quinn", "participant").await;
    w.group("eng", "Engineering", &["alice"]).await;
    w.group("eng", "QA", &["quinn"]).await;
    w.app(
        "eng",
        "bug-tracker",
        json!([
        {"group": "Engineering", "actions": ["read", "create", "edit"], "records": "all"},
        {"group": "QA", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let alice = w.login("alice").await;
    let bug = json!({"id": "bug-1", "creator": w.id("quinn"), "acl": {"groups": ["QA"]}, "fields": {"title": "crash"}});
    let d = w
        .decision(&alice, "eng", "bug-tracker", Some(bug.clone()))
        .await;
    assert_eq!(
        d,
        json!({"id": "bug-1", "allowed": false, "denied_at": "record", "actions": [], "fields": {}})
    );
    // The same bug without the allow-list is Alice's to edit; QA reads the restricted one.
    let open = json!({"id": "bug-2", "fields": {"title": "crash"}});
    let d = w.decision(&alice, "eng", "bug-tracker", Some(open)).await;
    assert_eq!(d["actions"], json!(["read", "create", "edit"]));
    assert_eq!(d["fields"], json!({"title": "edit"}));
    let quinn = w.login("quinn").await;
    let d = w.decision(&quinn, "eng", "bug-tracker", Some(bug)).await;
    assert_eq!(
        (d["allowed"].clone(), d["fields"].clone()),
        (json!(true), json!({"title": "read"}))
    );
}

async fn a_sales_user_is_denied_contracts_at_app_while_other_apps_stay_readable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("sam").await;
    w.user("lena").await;
    w.workspace("corp").await;
    for u in ["sam", "lena"] {
        w.participant("corp", u, "participant").await;
    }
    w.group("corp", "Sales", &["sam"]).await;
    w.group("corp", "Legal", &["lena"]).await;
    w.app(
        "corp",
        "contracts",
        json!([{"group": "Legal", "actions": ["read", "edit"], "records": "all"}]),
        json!([]),
    )
    .await;
    w.app(
        "corp",
        "deals",
        json!([{"group": "Sales", "actions": ["read", "create", "edit"], "records": "all"},
        {"group": "Legal", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    w.app(
        "corp",
        "wiki",
        json!([{"group": "Sales", "actions": ["read"], "records": "all"},
        {"group": "Legal", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let sam = w.login("sam").await;
    assert_eq!(
        w.decision(&sam, "corp", "contracts", None).await,
        denied("app")
    );
    assert_eq!(
        w.decision(&sam, "corp", "wiki", None).await,
        allowed(&["read"], json!({}))
    );
    let acl = w.acl(&sam, "corp", Some("deals"), None).await;
    assert_eq!(
        acl["workspace"]["apps"],
        json!({"deals": ["read", "create", "edit"], "wiki": ["read"]})
    );
    assert_eq!(
        acl["decision"],
        allowed(&["read", "create", "edit"], json!({}))
    );
    let lena = w.login("lena").await;
    assert_eq!(
        w.decision(&lena, "corp", "contracts", None).await,
        allowed(&["read", "edit"], json!({}))
    );
}

async fn a_cost_field_for_workspace_admins_is_hidden_from_users_and_editable_by_the_admin(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("sam").await;
    w.user("wanda").await;
    w.workspace("sales").await;
    w.participant("sales", "sam", "participant").await;
    w.participant("sales", "wanda", "admin").await;
    w.group("sales", "Sales", &["sam"]).await;
    w.app(
        "sales",
        "deals",
        json!([{"group": "Sales", "actions": ["read"], "records": "all"}]),
        json!([{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]),
    )
    .await;
    let deal = json!({"id": "d1", "fields": {"title": "big deal", "cost": 1200}});
    let sam = w.login("sam").await;
    let d = w.decision(&sam, "sales", "deals", Some(deal.clone())).await;
    assert_eq!(
        d,
        json!({"id": "d1", "allowed": true, "denied_at": null, "actions": ["read"], "fields": {"cost": "hidden", "title": "read"}})
    );
    let wanda = w.login("wanda").await;
    let d = w.decision(&wanda, "sales", "deals", Some(deal)).await;
    assert_eq!(
        d,
        json!({"id": "d1", "allowed": true, "denied_at": null, "actions": ALL, "fields": {"cost": "edit", "title": "edit"}})
    );
}

async fn the_team_pattern_gives_managers_contributors_and_viewers_their_access(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    for u in ["mia", "carl", "vic", "cleo"] {
        w.user(u).await;
    }
    w.workspace("proj").await;
    for u in ["mia", "carl", "vic", "cleo"] {
        w.participant("proj", u, "participant").await;
    }
    w.group("proj", "Managers", &["mia"]).await;
    w.group("proj", "Contributors", &["carl", "cleo"]).await;
    w.group("proj", "Viewers", &["vic", "cleo"]).await;
    w.app("proj", "projects", json!([
        {"group": "Managers", "actions": ALL, "records": "all"},
        {"group": "Contributors", "actions": ["read", "create", "edit"], "records": "own_or_assigned"},
        {"group": "Viewers", "actions": ["read"], "records": "all"}]),
        json!([{"field": "budget", "access": "groups", "groups": ["Managers", "Viewers"], "when_denied": "hidden"},
               {"field": "salary", "access": "groups", "groups": ["Managers", "Contributors"], "when_denied": "hidden"}])).await;
    let f = json!({"title": "t", "budget": 1, "salary": 2});
    let records = json!([
        {"id": "by-mia", "creator": w.id("mia"), "fields": f},
        {"id": "carls", "creator": w.id("carl"), "fields": f},
        {"id": "to-carl", "creator": w.id("mia"), "assignee": w.id("carl"), "fields": f},
        {"id": "cleos", "creator": w.id("cleo"), "fields": f},
    ]);
    let decisions = |d: Vec<Value>| {
        d.into_iter()
            .map(|mut d| {
                d.as_object_mut().unwrap().remove("id");
                d
            })
            .collect::<Vec<_>>()
    };
    let edit = json!({"budget": "edit", "salary": "edit", "title": "edit"});
    let rce = ["read", "create", "edit"];

    let mia = w.login("mia").await;
    assert_eq!(
        decisions(w.decisions(&mia, "proj", "projects", records.clone()).await),
        vec![allowed(&ALL, edit.clone()); 4]
    );

    let carl = w.login("carl").await;
    let own = allowed(
        &rce,
        json!({"budget": "hidden", "salary": "edit", "title": "edit"}),
    );
    assert_eq!(
        decisions(
            w.decisions(&carl, "proj", "projects", records.clone())
                .await
        ),
        vec![denied("record"), own.clone(), own, denied("record")]
    );

    let vic = w.login("vic").await;
    let read = allowed(
        &["read"],
        json!({"budget": "read", "salary": "hidden", "title": "read"}),
    );
    assert_eq!(
        decisions(w.decisions(&vic, "proj", "projects", records.clone()).await),
        vec![read; 4]
    );

    // In both groups: reads everything, edits only what is hers or assigned to her.
    let cleo = w.login("cleo").await;
    let reads = allowed(
        &["read"],
        json!({"budget": "read", "salary": "read", "title": "read"}),
    );
    assert_eq!(
        decisions(
            w.decisions(&cleo, "proj", "projects", records.clone())
                .await
        ),
        vec![reads.clone(), reads.clone(), reads, allowed(&rce, edit)]
    );
    // Introspection agrees with the batch for one record.
    let d = w
        .decision(&cleo, "proj", "projects", Some(records[3].clone()))
        .await;
    assert_eq!(d["actions"], json!(rce));
}

async fn external_reviewers_read_only_without_sensitive_or_team_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("tina").await;
    w.user("rex").await;
    w.workspace("launch").await;
    w.participant("launch", "tina", "team").await;
    w.participant("launch", "rex", "participant").await;
    w.group("launch", "Team", &["tina"]).await;
    w.group("launch", "Reviewers", &["rex"]).await;
    w.app("launch", "docs", json!([
        {"group": "Team", "actions": ["read", "create", "edit"], "records": "all"},
        {"group": "Reviewers", "actions": ["read"], "records": "all"}]),
        json!([{"field": "internal_notes", "access": "workspaceTeam", "when_denied": "hidden"},
               {"field": "pricing", "access": "groups", "groups": ["Team"], "when_denied": "hidden"}])).await;
    let doc = json!({"fields": {"title": "spec"}});
    let rex = w.login("rex").await;
    let acl = w.acl(&rex, "launch", Some("docs"), Some(doc.clone())).await;
    assert_eq!(acl["workspace"]["role"], "participant");
    assert_eq!(
        acl["decision"],
        allowed(
            &["read"],
            json!({"internal_notes": "hidden", "pricing": "hidden", "title": "read"})
        )
    );
    let tina = w.login("tina").await;
    let acl = w.acl(&tina, "launch", Some("docs"), Some(doc)).await;
    assert_eq!(acl["workspace"]["role"], "team");
    assert_eq!(
        acl["decision"],
        allowed(
            &["read", "create", "edit"],
            json!({"internal_notes": "edit", "pricing": "edit", "title": "edit"})
        )
    );
}

async fn the_approval_workflow_separates_submitters_approvers_and_admins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    for u in ["sue", "al", "ada"] {
        w.user(u).await;
    }
    w.workspace("finance").await;
    for u in ["sue", "al", "ada"] {
        w.participant("finance", u, "participant").await;
    }
    w.group("finance", "Submitters", &["sue"]).await;
    w.group("finance", "Approvers", &["al"]).await;
    w.group("finance", "Admins", &["ada"]).await;
    w.app(
        "finance",
        "expenses",
        json!([
        {"group": "Submitters", "actions": ["read", "create"], "records": "own"},
        {"group": "Approvers", "actions": ["read", "edit"], "records": "assigned"},
        {"group": "Admins", "actions": ALL, "records": "all"}]),
        json!([]),
    )
    .await;
    let records = json!([
        {"creator": w.id("sue"), "assignee": w.id("al")},
        {"creator": w.id("ada")},
    ]);
    let sue = w.login("sue").await;
    assert_eq!(
        w.decisions(&sue, "finance", "expenses", records.clone())
            .await,
        vec![allowed(&["read", "create"], json!({})), denied("record")]
    );
    assert_eq!(
        w.decision(&sue, "finance", "expenses", None).await,
        allowed(&["read", "create"], json!({}))
    );
    let al = w.login("al").await;
    assert_eq!(
        w.decisions(&al, "finance", "expenses", records.clone())
            .await,
        vec![allowed(&["read", "edit"], json!({})), denied("record")]
    );
    let ada = w.login("ada").await;
    assert_eq!(
        w.decisions(&ada, "finance", "expenses", records).await,
        vec![allowed(&ALL, json!({})); 2]
    );
}

async fn admins_are_bounded_by_their_workspace_system_admins_are_not_strangers_see_nothing(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("wendy").await;
    w.user("nobody").await;
    let root = w
        .must(
            StatusCode::CREATED,
            Method::POST,
            "/users",
            Some(json!({"username": "root", "password": e2e::acl::PASSWORD, "system_admin": true})),
        )
        .await;
    w.users
        .insert("root".into(), root["id"].as_str().unwrap().to_owned());
    for ws in ["alpha", "beta"] {
        w.workspace(ws).await;
        w.group(ws, "Staff", &[]).await;
        w.app(
            ws,
            "tasks",
            json!([{"group": "Staff", "actions": ["read"], "records": "own"}]),
            json!([{"field": "cost", "access": "workspaceAdmin", "when_denied": "hidden"}]),
        )
        .await;
    }
    w.participant("alpha", "wendy", "admin").await;
    let record = json!({"creator": "someone-else", "acl": {"users": ["someone-else"]}, "fields": {"title": "t"}});
    let everything = allowed(&ALL, json!({"cost": "edit", "title": "edit"}));

    let wendy = w.login("wendy").await;
    let acl = w
        .acl(&wendy, "alpha", Some("tasks"), Some(record.clone()))
        .await;
    assert_eq!(
        (
            acl["system_admin"].clone(),
            acl["workspace"]["role"].clone()
        ),
        (json!(false), json!("admin"))
    );
    assert_eq!(acl["workspace"]["apps"], json!({"tasks": ALL}));
    assert_eq!(acl["decision"], everything);
    assert_eq!(
        w.decision(&wendy, "beta", "tasks", Some(record.clone()))
            .await,
        denied("workspace")
    );
    // An app that does not exist is denied at app, even for an admin.
    assert_eq!(
        w.decision(&wendy, "alpha", "no-such-app", None).await,
        denied("app")
    );

    let root = w.login("root").await;
    for ws in ["alpha", "beta"] {
        let acl = w.acl(&root, ws, Some("tasks"), Some(record.clone())).await;
        assert_eq!(
            (
                acl["system_admin"].clone(),
                acl["workspace"]["role"].clone()
            ),
            (json!(true), Value::Null)
        );
        assert_eq!(acl["decision"], everything, "{ws}");
    }

    let nobody = w.login("nobody").await;
    let acl = w.acl(&nobody, "alpha", Some("tasks"), None).await;
    assert_eq!(
        acl,
        json!({"system_admin": false, "workspace": {"slug": "alpha", "role": null, "groups": [], "apps": {}},
        "decision": denied("workspace")})
    );
    // A workspace that does not exist reads exactly like one the user is not in.
    let acl = w.acl(&nobody, "gamma", Some("tasks"), None).await;
    assert_eq!(acl["decision"], denied("workspace"));
}

async fn a_field_based_rule_admits_records_of_the_users_department(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user_with("dana", json!({"department": "sales"})).await;
    w.user_with("dave", json!({"department": "engineering"}))
        .await;
    w.workspace("hr").await;
    w.participant("hr", "dana", "participant").await;
    w.participant("hr", "dave", "participant").await;
    w.group("hr", "Staff", &["dana", "dave"]).await;
    w.app(
        "hr",
        "people",
        json!([{"group": "Staff", "actions": ["read"],
        "records": {"field": "department", "equals_user_attribute": "department"}}]),
        json!([]),
    )
    .await;
    let records =
        json!([{"fields": {"department": "sales"}}, {"fields": {"department": "engineering"}}, {}]);
    let sales = allowed(&["read"], json!({"department": "read"}));
    let dana = w.login("dana").await;
    assert_eq!(
        w.decisions(&dana, "hr", "people", records.clone()).await,
        vec![sales.clone(), denied("record"), denied("record")]
    );
    let dave = w.login("dave").await;
    assert_eq!(
        w.decisions(&dave, "hr", "people", records.clone()).await,
        vec![denied("record"), sales.clone(), denied("record")]
    );
    // The attribute is a fact like any other: changing it changes the next answer.
    w.must(
        StatusCode::OK,
        Method::PATCH,
        &format!("/users/{}", w.id("dave")),
        Some(json!({"attributes": {"department": "sales"}})),
    )
    .await;
    assert_eq!(
        w.decisions(&dave, "hr", "people", records).await,
        vec![sales, denied("record"), denied("record")]
    );
}

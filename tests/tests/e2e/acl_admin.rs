//! The ACL admin API (workspaces, participants, groups, members, apps, run-as grants):
//! CRUD, paging, audit, validation naming fields, and "change, then introspect" never
//! answering from a stale cache, on one instance and across instances.

use e2e::acl::{World, allowed, denied, encode};
use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    acl_resources_round_trip_through_the_admin_api_with_audit_events,
    validation_errors_name_the_field_and_write_nothing,
    renaming_or_deleting_a_group_carries_through_to_the_apps,
);

async fn acl_resources_round_trip_through_the_admin_api_with_audit_events(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let alice = w.user("alice").await;
    for ws in ["w1", "w2", "w3"] {
        w.workspace(ws).await;
    }
    let p1 = w
        .must(StatusCode::OK, Method::GET, "/workspaces?limit=2", None)
        .await;
    assert_eq!(
        p1["items"],
        json!([{"slug": "w1", "name": "w1"}, {"slug": "w2", "name": "w2"}])
    );
    let p2 = w
        .must(
            StatusCode::OK,
            Method::GET,
            &format!("/workspaces?limit=2&after={}", p1["next"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        (p2["items"].clone(), p2["next"].clone()),
        (json!([{"slug": "w3", "name": "w3"}]), Value::Null)
    );
    assert_eq!(
        w.must(
            StatusCode::OK,
            Method::PATCH,
            "/workspaces/w1",
            Some(json!({"name": "Workspace One"}))
        )
        .await["name"],
        "Workspace One"
    );
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, "/workspaces/w1", None)
            .await["name"],
        "Workspace One"
    );
    w.must(
        StatusCode::CONFLICT,
        Method::POST,
        "/workspaces",
        Some(json!({"slug": "w1", "name": "again"})),
    )
    .await;

    let part = format!("/workspaces/w1/participants/{alice}");
    w.must(
        StatusCode::CREATED,
        Method::PUT,
        &part,
        Some(json!({"role": "team"})),
    )
    .await;
    assert_eq!(
        w.must(
            StatusCode::OK,
            Method::PUT,
            &part,
            Some(json!({"role": "admin"}))
        )
        .await["role"],
        "admin"
    );
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, &part, None).await,
        json!({"user_id": alice, "role": "admin"})
    );
    assert_eq!(
        w.must(
            StatusCode::OK,
            Method::GET,
            "/workspaces/w1/participants",
            None
        )
        .await["items"],
        json!([{"user_id": alice, "role": "admin"}])
    );

    let g = w
        .must(
            StatusCode::CREATED,
            Method::POST,
            "/workspaces/w1/groups",
            Some(json!({"name": "QA team"})),
        )
        .await;
    assert!(g["id"].is_string());
    w.must(
        StatusCode::CONFLICT,
        Method::POST,
        "/workspaces/w1/groups",
        Some(json!({"name": "QA team"})),
    )
    .await;
    // Names are workspace-specific: the same name in another workspace is another group.
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/workspaces/w2/groups",
        Some(json!({"name": "QA team"})),
    )
    .await;
    let qa = format!("/workspaces/w1/groups/{}", encode("QA team"));
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, &qa, None).await["name"],
        "QA team"
    );
    w.must(
        StatusCode::CREATED,
        Method::PUT,
        &format!("{qa}/members/{alice}"),
        None,
    )
    .await;
    w.must(
        StatusCode::OK,
        Method::PUT,
        &format!("{qa}/members/{alice}"),
        None,
    )
    .await;
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, &format!("{qa}/members"), None)
            .await["items"],
        json!([{"user_id": alice}])
    );

    let grants = json!([{"group": "QA team", "actions": ["read"], "records": {"field": "team", "equals_user_attribute": "team"}}]);
    let fields = json!([{"field": "cost", "access": "groups", "groups": ["QA team"], "when_denied": "readonly"}]);
    let created = w
        .must(
            StatusCode::CREATED,
            Method::POST,
            "/workspaces/w1/apps",
            Some(json!({"slug": "bugs", "name": "Bugs", "grants": grants, "fields": fields})),
        )
        .await;
    assert_eq!(
        created,
        json!({"slug": "bugs", "name": "Bugs", "grants": grants, "fields": fields})
    );
    w.must(
        StatusCode::CONFLICT,
        Method::POST,
        "/workspaces/w1/apps",
        Some(json!({"slug": "bugs", "name": "x"})),
    )
    .await;
    let patched = w
        .must(
            StatusCode::OK,
            Method::PATCH,
            "/workspaces/w1/apps/bugs",
            Some(json!({"name": "Bug tracker", "fields": []})),
        )
        .await;
    assert_eq!(
        patched,
        json!({"slug": "bugs", "name": "Bug tracker", "grants": grants, "fields": []})
    );
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, "/workspaces/w1/apps", None)
            .await["items"][0]["name"],
        "Bug tracker"
    );

    let ra = w.must(StatusCode::CREATED, Method::POST, "/run-as-grants",
        Some(json!({"principal": {"user_id": alice}, "target": {"workspace": "w1", "group": "QA team"}}))).await;
    let id = ra["id"].as_str().unwrap().to_owned();
    assert_eq!(
        w.must(
            StatusCode::OK,
            Method::GET,
            &format!("/run-as-grants/{id}"),
            None
        )
        .await,
        json!({"id": id, "principal": {"user_id": alice}, "target": {"workspace": "w1", "group": "QA team"}})
    );
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/run-as-grants",
        Some(json!({"principal": {"client_id": w.web.id}, "target": "*"})),
    )
    .await;
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, "/run-as-grants", None)
            .await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/run-as-grants/{id}"),
        None,
    )
    .await;
    w.must(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/run-as-grants/{id}"),
        None,
    )
    .await;

    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("{qa}/members/{alice}"),
        None,
    )
    .await;
    w.must(
        StatusCode::NOT_FOUND,
        Method::DELETE,
        &format!("{qa}/members/{alice}"),
        None,
    )
    .await;
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/workspaces/w1/apps/bugs",
        None,
    )
    .await;
    w.must(StatusCode::NO_CONTENT, Method::DELETE, &part, None)
        .await;
    w.must(StatusCode::NOT_FOUND, Method::GET, &part, None)
        .await;
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/workspaces/w1",
        None,
    )
    .await;
    w.must(StatusCode::NOT_FOUND, Method::GET, &qa, None).await;

    let audit = w
        .must(StatusCode::OK, Method::GET, "/audit?limit=200", None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "workspace.created",
        "workspace.updated",
        "workspace.deleted",
        "participant.updated",
        "participant.deleted",
        "group.created",
        "group.member_added",
        "group.member_removed",
        "app.created",
        "app.updated",
        "app.deleted",
        "run_as_grant.created",
        "run_as_grant.deleted",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let updated = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "app.updated")
        .unwrap();
    assert_eq!(
        updated["diff"]["name"],
        json!({"old": "Bugs", "new": "Bug tracker"})
    );
    assert_eq!(updated["diff"]["fields"]["new"], json!([]));
    assert!(
        updated["diff"].get("grants").is_none(),
        "unchanged members are not in the diff"
    );
}

async fn validation_errors_name_the_field_and_write_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let alice = w.user("alice").await;
    w.workspace("eng").await;
    w.group("eng", "Engineering", &[]).await;
    let bad = |field: &'static str| {
        move |(s, b): (StatusCode, Value)| {
            assert_eq!(
                (s, b["error"].as_str(), b["field"].as_str()),
                (
                    StatusCode::BAD_REQUEST,
                    Some("invalid_request"),
                    Some(field)
                ),
                "{b}"
            );
        }
    };
    let app_body = |grants: Value, fields: Value| {
        Some(json!({"slug": "bugs", "name": "Bugs", "grants": grants, "fields": fields}))
    };
    let ok_grant = json!({"group": "Engineering", "actions": ["read"], "records": "all"});
    bad("grants[1].group")(
        w.call(
            Method::POST,
            "/workspaces/eng/apps",
            app_body(
                json!([ok_grant, {"group": "Sales", "actions": ["read"], "records": "all"}]),
                json!([]),
            ),
        )
        .await,
    );
    bad("grants[0].actions[1]")(
        w.call(
            Method::POST,
            "/workspaces/eng/apps",
            app_body(
                json!([{"group": "Engineering", "actions": ["read", "write"], "records": "all"}]),
                json!([]),
            ),
        )
        .await,
    );
    bad("grants[0].records")(
        w.call(
            Method::POST,
            "/workspaces/eng/apps",
            app_body(
                json!([{"group": "Engineering", "actions": ["read"], "records": "mine"}]),
                json!([]),
            ),
        )
        .await,
    );
    bad("fields[0].groups[0]")(w.call(Method::POST, "/workspaces/eng/apps",
        app_body(json!([ok_grant]), json!([{"field": "cost", "access": "groups", "groups": ["Finance"], "when_denied": "hidden"}]))).await);
    bad("fields[0].access")(
        w.call(
            Method::POST,
            "/workspaces/eng/apps",
            app_body(
                json!([ok_grant]),
                json!([{"field": "cost", "access": "admins", "when_denied": "hidden"}]),
            ),
        )
        .await,
    );
    bad("slug")(
        w.call(
            Method::POST,
            "/workspaces/eng/apps",
            Some(json!({"slug": "Bad Slug", "name": "x"})),
        )
        .await,
    );
    // Nothing was written by any of them.
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, "/workspaces/eng/apps", None)
            .await["items"],
        json!([])
    );
    w.app("eng", "bugs", json!([ok_grant]), json!([])).await;
    bad("grants[0].group")(
        w.call(
            Method::PATCH,
            "/workspaces/eng/apps/bugs",
            Some(json!({"grants": [{"group": "Nope", "actions": ["read"], "records": "all"}]})),
        )
        .await,
    );
    assert_eq!(
        w.must(
            StatusCode::OK,
            Method::GET,
            "/workspaces/eng/apps/bugs",
            None
        )
        .await["grants"],
        json!([ok_grant])
    );

    bad("user_id")(
        w.call(
            Method::PUT,
            "/workspaces/eng/participants/no-such-user",
            Some(json!({"role": "team"})),
        )
        .await,
    );
    bad("role")(
        w.call(
            Method::PUT,
            &format!("/workspaces/eng/participants/{alice}"),
            Some(json!({"role": "owner"})),
        )
        .await,
    );
    bad("user_id")(
        w.call(
            Method::PUT,
            "/workspaces/eng/groups/Engineering/members/no-such-user",
            None,
        )
        .await,
    );
    bad("name")(
        w.call(
            Method::POST,
            "/workspaces/eng/groups",
            Some(json!({"name": " padded"})),
        )
        .await,
    );
    bad("slug")(
        w.call(
            Method::POST,
            "/workspaces",
            Some(json!({"slug": "x", "name": "x"})),
        )
        .await,
    );
    bad("principal.user_id")(
        w.call(
            Method::POST,
            "/run-as-grants",
            Some(json!({"principal": {"user_id": "ghost"}, "target": "*"})),
        )
        .await,
    );
    bad("principal.client_id")(
        w.call(
            Method::POST,
            "/run-as-grants",
            Some(json!({"principal": {"client_id": "ghost"}, "target": "*"})),
        )
        .await,
    );
    bad("target.user_id")(
        w.call(
            Method::POST,
            "/run-as-grants",
            Some(json!({"principal": {"user_id": alice}, "target": {"user_id": "ghost"}})),
        )
        .await,
    );
    bad("target.group")(w.call(Method::POST, "/run-as-grants",
        Some(json!({"principal": {"user_id": alice}, "target": {"workspace": "eng", "group": "Nope"}}))).await);
    bad("target")(
        w.call(
            Method::POST,
            "/run-as-grants",
            Some(json!({"principal": {"user_id": alice}, "target": "everyone"})),
        )
        .await,
    );
    assert_eq!(
        w.must(StatusCode::OK, Method::GET, "/run-as-grants", None)
            .await["items"],
        json!([])
    );
    // Unknown workspaces are 404, like any unknown resource.
    w.must(
        StatusCode::NOT_FOUND,
        Method::POST,
        "/workspaces/nope/groups",
        Some(json!({"name": "x"})),
    )
    .await;
}

async fn renaming_or_deleting_a_group_carries_through_to_the_apps(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("alice").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "participant").await;
    w.group("eng", "Devs", &["alice"]).await;
    w.group("eng", "Finance", &[]).await;
    w.app("eng", "bugs", json!([{"group": "Devs", "actions": ["read"], "records": "all"}]),
        json!([{"field": "cost", "access": "groups", "groups": ["Devs", "Finance"], "when_denied": "hidden"}])).await;
    let alice = w.login("alice").await;
    w.must(
        StatusCode::OK,
        Method::PATCH,
        "/workspaces/eng/groups/Devs",
        Some(json!({"name": "Engineering"})),
    )
    .await;
    let a = w
        .must(
            StatusCode::OK,
            Method::GET,
            "/workspaces/eng/apps/bugs",
            None,
        )
        .await;
    assert_eq!(a["grants"][0]["group"], "Engineering");
    assert_eq!(a["fields"][0]["groups"], json!(["Engineering", "Finance"]));
    let acl = w.acl(&alice, "eng", Some("bugs"), None).await;
    assert_eq!(
        (acl["workspace"]["groups"].clone(), acl["decision"].clone()),
        (
            json!(["Engineering"]),
            allowed(&["read"], json!({"cost": "read"}))
        )
    );
    // Deleting it removes its grants: a later group of the same name inherits nothing.
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/workspaces/eng/groups/Engineering",
        None,
    )
    .await;
    let a = w
        .must(
            StatusCode::OK,
            Method::GET,
            "/workspaces/eng/apps/bugs",
            None,
        )
        .await;
    assert_eq!(
        (a["grants"].clone(), a["fields"][0]["groups"].clone()),
        (json!([]), json!(["Finance"]))
    );
    w.group("eng", "Engineering", &[]).await;
    assert_eq!(w.decision(&alice, "eng", "bugs", None).await, denied("app"));
}

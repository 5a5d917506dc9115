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
    every_change_is_seen_by_the_next_introspection,
    a_tenant_admin_cannot_reach_another_tenants_workspaces,
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

/// The facts cache never answers with what an admin just changed away.
async fn every_change_is_seen_by_the_next_introspection(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    let alice = w.user_with("alice", json!({"team": "red"})).await;
    w.user("bob").await;
    w.workspace("eng").await;
    w.group("eng", "Engineering", &[]).await;
    w.app(
        "eng",
        "bugs",
        json!([{"group": "Engineering", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let token = w.login("alice").await;
    // A second instance on the same database and Redis: its cache must follow as well.
    let two = match backend {
        Backend::PostgresRedis => Some(TestApp::on(std::sync::Arc::clone(&app.storage)).await),
        Backend::Sqlite => None,
    };
    let tenant = auth_server::service::tenants::resolve(&app.ctx, "acme")
        .await
        .unwrap();
    let role_on_two = || async {
        let two = two.as_ref()?;
        let s = auth_server::service::acl::facts::user_workspace(&two.ctx, &tenant, &alice, "eng")
            .await
            .unwrap();
        Some((s.role(), s.app_actions.get("bugs").cloned()))
    };
    let ask = |expect: Value| {
        let (w, token) = (&w, &token);
        async move {
            // Twice: the second answer comes from the cache warmed by the first.
            for _ in 0..2 {
                assert_eq!(w.decision(token, "eng", "bugs", None).await, expect);
            }
        }
    };
    use auth_server::acl::{Action, Role};
    ask(denied("workspace")).await;
    role_on_two().await;
    w.participant("eng", "alice", "participant").await;
    ask(denied("app")).await;
    if two.is_some() {
        assert_eq!(role_on_two().await, Some((Some(Role::Participant), None)));
    }
    w.member("eng", "Engineering", "alice").await;
    ask(allowed(&["read"], json!({}))).await;
    if two.is_some() {
        assert_eq!(
            role_on_two().await,
            Some((Some(Role::Participant), Some(vec![Action::Read])))
        );
    }
    w.must(StatusCode::OK, Method::PATCH, "/workspaces/eng/apps/bugs",
        Some(json!({"grants": [{"group": "Engineering", "actions": ["read", "edit"], "records": "all"}]}))).await;
    ask(allowed(&["read", "edit"], json!({}))).await;
    if two.is_some() {
        assert_eq!(
            role_on_two().await,
            Some((
                Some(Role::Participant),
                Some(vec![Action::Read, Action::Edit])
            ))
        );
    }
    w.must(StatusCode::OK, Method::PATCH, "/workspaces/eng/apps/bugs",
        Some(json!({"fields": [{"field": "cost", "access": "workspaceTeam", "when_denied": "readonly"}]}))).await;
    ask(allowed(&["read", "edit"], json!({"cost": "read"}))).await;
    w.participant("eng", "alice", "team").await;
    ask(allowed(&["read", "edit"], json!({"cost": "edit"}))).await;
    if two.is_some() {
        assert_eq!(role_on_two().await.map(|r| r.0), Some(Some(Role::Team)));
    }
    w.must(
        StatusCode::OK,
        Method::PATCH,
        &format!("/users/{alice}"),
        Some(json!({"system_admin": true})),
    )
    .await;
    assert_eq!(w.acl(&token, "eng", None, None).await["system_admin"], true);
    w.must(
        StatusCode::OK,
        Method::PATCH,
        &format!("/users/{alice}"),
        Some(json!({"system_admin": false})),
    )
    .await;
    assert_eq!(
        w.acl(&token, "eng", None, None).await["system_admin"],
        false
    );
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/workspaces/eng/groups/Engineering/members/{alice}"),
        None,
    )
    .await;
    ask(denied("app")).await;
    w.member("eng", "Engineering", "alice").await;
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/workspaces/eng/participants/{alice}"),
        None,
    )
    .await;
    ask(denied("workspace")).await;
    if two.is_some() {
        assert_eq!(role_on_two().await, Some((None, None)));
    }
    // Leaving the workspace left its groups too: coming back grants nothing old.
    w.participant("eng", "alice", "participant").await;
    ask(denied("app")).await;
    w.must(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        "/workspaces/eng",
        None,
    )
    .await;
    ask(denied("workspace")).await;
}

async fn a_tenant_admin_cannot_reach_another_tenants_workspaces(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let a = World::new(&app, "acme").await;
    a.workspace("eng").await;
    let b = World::new(&app, "beta").await;
    let admin = app
        .create_client(
            "beta",
            json!({"name": "adm", "grant_types": ["client_credentials"], "scope": "admin",
        "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    let (_, t) = app
        .token(
            "beta",
            &admin.id,
            &admin.secret,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    let token = t["access_token"].as_str().unwrap();
    for path in [
        "/subscriptions/acme/workspaces",
        "/subscriptions/acme/workspaces/eng",
        "/subscriptions/acme/run-as-grants",
    ] {
        let (s, _) = app.admin(token, Method::GET, path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = app
        .admin(
            token,
            Method::POST,
            "/subscriptions/beta/workspaces",
            Some(json!({"slug": "eng", "name": "B"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        b.must(StatusCode::OK, Method::GET, "/workspaces/eng", None)
            .await["name"],
        "B"
    );
    assert_eq!(
        a.must(StatusCode::OK, Method::GET, "/workspaces/eng", None)
            .await["name"],
        "eng"
    );
}

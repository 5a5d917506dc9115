//! ACL changes and isolation: "change, then introspect" never answers from a stale
//! facts cache, on one instance or across two sharing PostgreSQL and Redis; and one
//! tenant's admin cannot reach another tenant's workspaces; and with Redis, a cached
//! ACL answer costs one round trip.

use e2e::acl::{World, allowed, denied};
use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;

on_backends!(
    every_change_is_seen_by_the_next_introspection,
    a_tenant_admin_cannot_reach_another_tenants_workspaces,
);

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
        // SECURITY.md T8: another subscription answers like a missing one.
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
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

/// The Redis commands `app` has sent so far, by command (`/metrics`).
async fn redis_commands(app: &TestApp) -> BTreeMap<String, f64> {
    let text = app.metrics().await;
    const SERIES: &str = "redis_command_duration_seconds_count{command=\"";
    text.lines()
        .filter_map(|l| {
            let (command, count) = l.strip_prefix(SERIES)?.split_once("\"} ")?;
            Some((command.to_owned(), count.trim().parse().ok()?))
        })
        .collect()
}

/// What the commands between two scrapes added, by command.
fn added(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(c, n)| (c.clone(), n - before.get(c).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n != 0.0)
        .collect()
}

/// With Redis, an introspection with ACL parameters and `/acl/evaluate` read the state
/// generation and the ACL generation in one round trip (MGET): once warm, one command
/// per call and nothing else, where a plain introspection sends its one GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_acl_answer_costs_one_redis_round_trip() {
    let Some(app) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("alice").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "participant").await;
    w.group("eng", "Engineering", &["alice"]).await;
    w.app(
        "eng",
        "bugs",
        json!([{"group": "Engineering", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let token = w.login("alice").await;
    let read = allowed(&["read"], json!({}));
    let evaluate = || w.decisions(&token, "eng", "bugs", json!([{"id": "r1"}]));
    // Warm every cache on the way (client, verdict, facts).
    assert_eq!(w.decision(&token, "eng", "bugs", None).await, read);
    evaluate().await;

    let before = redis_commands(&app).await;
    for _ in 0..5 {
        assert_eq!(w.decision(&token, "eng", "bugs", None).await, read);
    }
    let acl = redis_commands(&app).await;
    assert_eq!(
        added(&before, &acl),
        BTreeMap::from([("mget".to_owned(), 5.0)])
    );

    assert_eq!(evaluate().await[0]["allowed"], true);
    let evaluated = redis_commands(&app).await;
    assert_eq!(
        added(&acl, &evaluated),
        BTreeMap::from([("mget".to_owned(), 1.0)])
    );

    let (s, plain) = w.introspect(&token, &[]).await;
    assert_eq!((s, plain["active"].clone()), (StatusCode::OK, json!(true)));
    let after = redis_commands(&app).await;
    assert_eq!(
        added(&evaluated, &after),
        BTreeMap::from([("get".to_owned(), 1.0)])
    );

    // A change is still seen by the next call, on the same single round trip.
    w.must(StatusCode::OK, Method::PATCH, "/workspaces/eng/apps/bugs",
        Some(json!({"grants": [{"group": "Engineering", "actions": ["read", "edit"], "records": "all"}]}))).await;
    assert_eq!(
        w.decision(&token, "eng", "bugs", None).await,
        allowed(&["read", "edit"], json!({}))
    );
}

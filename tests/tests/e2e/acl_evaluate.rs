//! The shape of the ACL answers at `/introspect` and `/acl/evaluate`: RFC 7662 members
//! kept, `acl` only when asked, tokens without a user, other tenants, malformed
//! parameters, and the batch limits.

use e2e::acl::{World, allowed, denied};
use e2e::{Backend, TestApp, on_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_backends!(
    the_answer_has_every_rfc7662_member_and_acl_only_when_asked,
    a_client_credentials_token_has_no_standing_in_any_workspace,
    a_token_of_another_tenant_is_inactive_with_or_without_acl_parameters,
    malformed_or_inconsistent_acl_parameters_are_invalid_request,
    evaluate_answers_one_decision_per_record_in_order_and_caps_the_batch,
);

async fn the_answer_has_every_rfc7662_member_and_acl_only_when_asked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("alice").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "team").await;
    w.group("eng", "Engineering", &["alice"]).await;
    w.group("eng", "Ops", &["alice"]).await;
    w.app(
        "eng",
        "bugs",
        json!([{"group": "Engineering", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let alice = w.login("alice").await;
    let (_, plain) = w.introspect(&alice, &[]).await;
    assert_eq!(plain["active"], true);
    assert!(
        plain.get("acl").is_none() && plain.get("groups").is_none(),
        "{plain}"
    );
    let (_, full) = w
        .introspect(&alice, &[("acl_workspace", "eng"), ("acl_app", "bugs")])
        .await;
    for member in [
        "active",
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
        "token_type",
        "sub_tenant",
        "username",
    ] {
        assert!(!plain[member].is_null(), "{member} missing: {plain}");
        assert_eq!(full[member], plain[member], "{member}");
    }
    assert_eq!(plain["token_type"], "Bearer");
    assert_eq!(plain["iss"], format!("{}/t/acme", app.base));
    assert_eq!(plain["sub_tenant"], "acme");
    assert_eq!(full["sub"], w.id("alice"));
    assert_eq!(full["groups"], json!(["Engineering", "Ops"]));
    assert_eq!(
        full["acl"],
        json!({"system_admin": false,
        "workspace": {"slug": "eng", "role": "team", "groups": ["Engineering", "Ops"], "apps": {"bugs": ["read"]}},
        "decision": allowed(&["read"], json!({}))})
    );
    // Only a workspace: no decision, the standing is there.
    let acl = w.acl(&alice, "eng", None, None).await;
    assert!(acl.get("decision").is_none(), "{acl}");
    assert_eq!(acl["workspace"]["role"], "team");
}

async fn a_client_credentials_token_has_no_standing_in_any_workspace(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let w = World::new(&app, "acme").await;
    w.workspace("eng").await;
    w.group("eng", "Engineering", &[]).await;
    w.app(
        "eng",
        "bugs",
        json!([{"group": "Engineering", "actions": ["read"], "records": "all"}]),
        json!([]),
    )
    .await;
    let (s, t) = app
        .token(
            "acme",
            &w.rs.id,
            &w.rs.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["access_token"].as_str().unwrap();
    let (_, b) = w
        .introspect(
            token,
            &[
                ("acl_workspace", "eng"),
                ("acl_app", "bugs"),
                ("acl_record", "{\"id\": \"r\"}"),
            ],
        )
        .await;
    assert_eq!(b["sub"], w.rs.id.as_str());
    assert_eq!(b["groups"], json!([]));
    assert_eq!(
        b["acl"],
        json!({"system_admin": false, "workspace": {"slug": "eng", "role": null, "groups": [], "apps": {}},
        "decision": {"id": "r", "allowed": false, "denied_at": "workspace", "actions": [], "fields": {}}})
    );
    let d = w
        .decisions(token, "eng", "bugs", json!([{"id": "a"}, {}]))
        .await;
    assert_eq!(
        d,
        vec![
            json!({"id": "a", "allowed": false, "denied_at": "workspace", "actions": [], "fields": {}}),
            denied("workspace")
        ]
    );
}

async fn a_token_of_another_tenant_is_inactive_with_or_without_acl_parameters(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut a = World::new(&app, "acme").await;
    a.user("alice").await;
    a.workspace("eng").await;
    a.participant("eng", "alice", "admin").await;
    let b = World::new(&app, "beta").await;
    b.workspace("eng").await;
    let alice = a.login("alice").await;
    let record = json!({"id": "r"}).to_string();
    for extra in [
        vec![],
        vec![("acl_workspace", "eng")],
        vec![
            ("acl_workspace", "eng"),
            ("acl_app", "x"),
            ("acl_record", record.as_str()),
        ],
    ] {
        let (s, body) = b.introspect(&alice, &extra).await;
        assert_eq!(
            (s, body),
            (StatusCode::OK, json!({"active": false})),
            "{extra:?}"
        );
    }
    let (s, body) = b
        .evaluate(json!({"token": alice, "workspace": "eng", "app": "x", "records": [{}]}))
        .await;
    assert_eq!((s, body), (StatusCode::OK, json!({"active": false})));
    // A garbage token is no different.
    let (_, body) = a
        .introspect("not-a-token", &[("acl_workspace", "eng")])
        .await;
    assert_eq!(body, json!({"active": false}));
}

async fn malformed_or_inconsistent_acl_parameters_are_invalid_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut w = World::new(&app, "acme").await;
    w.user("alice").await;
    let alice = w.login("alice").await;
    for extra in [
        vec![
            ("acl_workspace", "eng"),
            ("acl_app", "bugs"),
            ("acl_record", "{not json"),
        ],
        vec![
            ("acl_workspace", "eng"),
            ("acl_app", "bugs"),
            ("acl_record", "[1, 2]"),
        ],
        vec![
            ("acl_workspace", "eng"),
            ("acl_app", "bugs"),
            ("acl_record", "{\"creator\": 3}"),
        ],
        vec![("acl_workspace", "eng"), ("acl_record", "{}")],
        vec![("acl_app", "bugs")],
    ] {
        let (s, body) = w.introspect(&alice, &extra).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{extra:?}: {body}"
        );
    }
}

async fn evaluate_answers_one_decision_per_record_in_order_and_caps_the_batch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
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
        json!([{"group": "Engineering", "actions": ["read", "edit"], "records": "own"}]),
        json!([]),
    )
    .await;
    let alice = w.login("alice").await;
    let me = w.id("alice");
    let records: Vec<Value> = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                json!({"id": format!("r{i}"), "creator": me})
            } else {
                json!({"id": format!("r{i}")})
            }
        })
        .collect();
    let d = w.decisions(&alice, "eng", "bugs", json!(records)).await;
    assert_eq!(d.len(), 10_000);
    for (i, d) in d.iter().enumerate() {
        assert_eq!(d["id"], format!("r{i}"));
        assert_eq!(d["allowed"], i % 2 == 0, "{d}");
    }
    let mut too_many = records.clone();
    too_many.push(json!({}));
    let (s, b) = w
        .evaluate(json!({"token": alice, "workspace": "eng", "app": "bugs", "records": too_many}))
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{b}"
    );
    let (s, b) = w
        .evaluate(json!({"token": alice, "workspace": "eng", "records": []}))
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{b}"
    );
    // The same client authentication as introspection: a client without it gets 403.
    let plain = app.create_client("acme", json!({"name": "p", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"})).await;
    let resp = app
        .http
        .post(format!("{}/t/acme/acl/evaluate", app.base))
        .basic_auth(&plain.id, Some(&plain.secret))
        .json(&json!({"token": alice, "workspace": "eng", "app": "bugs", "records": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .http
        .post(format!("{}/t/acme/acl/evaluate", app.base))
        .json(&json!({"token": alice, "workspace": "eng", "app": "bugs", "records": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

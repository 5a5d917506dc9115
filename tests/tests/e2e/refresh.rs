//! Refresh token rotation, reuse detection with a grace window, scope narrowing, and
//! survival across a restart (SECURITY.md §1.3).

use e2e::{Backend, TestApp, on_backends};
use reqwest::StatusCode;

on_backends!(
    reuse_outside_the_grace_window_revokes_the_family,
    reuse_inside_the_grace_window_returns_the_same_successor,
    scope_can_only_narrow_on_refresh,
    a_refresh_token_survives_a_restart,
    disabling_a_user_kills_their_refresh_tokens,
);

async fn refresh(
    app: &TestApp,
    c: &e2e::TestClient,
    rt: &str,
    scope: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    app.token("acme", &c.id, &c.secret, &form).await
}

async fn reuse_outside_the_grace_window_revokes_the_family(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let (s, t1) = refresh(&app, &c, rt0, None).await;
    assert_eq!(s, StatusCode::OK);
    let rt1 = t1["refresh_token"].as_str().unwrap();
    assert_ne!(rt0, rt1);
    app.clock.advance(11);
    let (s, body) = refresh(&app, &c, rt0, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, body) = refresh(&app, &c, rt1, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the newest token of the family is dead too"
    );
    assert_eq!(
        app.introspect("acme", &c, t1["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
}

async fn reuse_inside_the_grace_window_returns_the_same_successor(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let (_, t1) = refresh(&app, &c, rt0, None).await;
    let (s, again) = refresh(&app, &c, rt0, None).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(
        again["refresh_token"], t1["refresh_token"],
        "the same successor, not a new branch"
    );
    // Once the successor was used, the grandparent is reuse again.
    let (s, _) = refresh(&app, &c, t1["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = refresh(&app, &c, rt0, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn scope_can_only_narrow_on_refresh(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let (s, body) = refresh(
        &app,
        &c,
        t0["refresh_token"].as_str().unwrap(),
        Some("openid profile offline_access email"),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (s, narrow) = refresh(
        &app,
        &c,
        t0["refresh_token"].as_str().unwrap(),
        Some("openid"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{narrow}");
    assert_eq!(narrow["scope"], "openid");
    let (s, wide_again) = refresh(&app, &c, narrow["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        wide_again["scope"], "offline_access openid profile",
        "the refresh token keeps the original scope"
    );
}

async fn a_refresh_token_survives_a_restart(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let app = app.restart().await;
    let (s, body) = refresh(&app, &c, t0["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // The ID token signed before the restart still verifies against the JWKS after it.
    let jwks: serde_json::Value = app
        .http
        .get(format!("{}/t/acme/jwks", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = t0["id_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid.as_str())
    );
}

async fn disabling_a_user_kills_their_refresh_tokens(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let admin = app.system_token().await;
    let sub = app
        .introspect("acme", &c, t0["access_token"].as_str().unwrap())
        .await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app
        .admin(
            &admin,
            reqwest::Method::PATCH,
            &format!("/subscriptions/acme/users/{sub}"),
            Some(serde_json::json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = refresh(&app, &c, t0["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        app.introspect("acme", &c, t0["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
}

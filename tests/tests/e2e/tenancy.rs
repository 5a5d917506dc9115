//! Tenant isolation (SECURITY.md §5.1): nothing of subscription A works at B.

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(
    a_token_of_one_tenant_is_inactive_at_another,
    a_user_of_one_tenant_cannot_log_in_through_another,
    a_tenant_admin_cannot_touch_another_tenant,
    a_client_of_one_tenant_is_unknown_at_another,
);

async fn two_tenants(app: &TestApp) -> (e2e::TestClient, e2e::TestClient) {
    let a = app.tenant_with_alice("acme").await;
    app.create_subscription("beta").await;
    let b = app.web_client("beta").await;
    (a, b)
}

async fn a_token_of_one_tenant_is_inactive_at_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (a, b) = two_tenants(&app).await;
    let t = app
        .code_flow("acme", &a, "alice", "correct horse battery")
        .await;
    let resp = app
        .http
        .post(format!("{}/t/beta/introspect", app.base))
        .basic_auth(&b.id, Some(&b.secret))
        .form(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"active": false})
    );
    let (s, body) = app
        .token(
            "beta",
            &b.id,
            &b.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // B revoking A's token changes nothing.
    let resp = app
        .http
        .post(format!("{}/t/beta/revoke", app.base))
        .basic_auth(&b.id, Some(&b.secret))
        .form(&[("token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.introspect("acme", &a, t["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
}

async fn a_user_of_one_tenant_cannot_log_in_through_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, b) = two_tenants(&app).await;
    let (_, challenge) = pkce_pair();
    let browser = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("beta", &b.id, &challenge, &[]))
        .await;
    let resp = browser
        .post(format!("{}/t/beta/login", app.base))
        .form(&[
            ("tx", tx.clone()),
            ("csrf", csrf.clone()),
            ("username", "alice".into()),
            ("password", "correct horse battery".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("invalid username or password")
    );
}

async fn a_tenant_admin_cannot_touch_another_tenant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    two_tenants(&app).await;
    let admin_client = app
        .create_client("acme", json!({"name": "ops", "grant_types": ["client_credentials"], "scope": "admin", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let (s, t) = app
        .token(
            "acme",
            &admin_client.id,
            &admin_client.secret,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let token = t["access_token"].as_str().unwrap();
    let (s, _) = app
        .admin(token, Method::GET, "/subscriptions/acme/clients", None)
        .await;
    assert_eq!(s, StatusCode::OK, "own tenant");
    for path in [
        "/subscriptions/beta/clients",
        "/subscriptions/beta/users",
        "/subscriptions/no-such-tenant/users",
        "/subscriptions/beta",
    ] {
        let (s, body) = app.admin(token, Method::GET, path, None).await;
        // SECURITY.md T8: 404 like a missing subscription, never 403 (no existence oracle).
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (s, list) = app.admin(token, Method::GET, "/subscriptions", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "a tenant admin lists only its own subscription"
    );
    let (s, _) = app
        .admin(
            token,
            Method::POST,
            "/subscriptions",
            Some(json!({"slug": "gamma", "name": "g"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .admin(
            token,
            Method::POST,
            "/subscriptions/acme/users",
            Some(json!({"username": "root", "system_admin": true})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a tenant admin cannot mint system admins"
    );
}

async fn a_client_of_one_tenant_is_unknown_at_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (a, _) = two_tenants(&app).await;
    let (s, body) = app
        .token(
            "beta",
            &a.id,
            &a.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (_, ch) = pkce_pair();
    let resp = app.http.get(format!("{}/t/beta/authorize?response_type=code&client_id={}&redirect_uri=https://c1.example/cb&code_challenge={ch}&code_challenge_method=S256", app.base, a.id)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    let _ = query_param;
}

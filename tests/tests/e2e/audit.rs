//! The audit trail: field-level diffs in the transaction of the change, security
//! events, filters and per-entity history, and a verifiable hash chain.

use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(
    a_client_patch_is_one_event_with_exactly_its_fields,
    security_events_are_logged_without_secrets,
    the_hash_chain_verifies_and_finds_an_altered_row
);

async fn a_client_patch_is_one_event_with_exactly_its_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = app.system_token().await;
    let path = format!("/subscriptions/acme/clients/{}", c.id);
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"name": "renamed", "redirect_uris": ["https://c1.example/new"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, history) = app
        .admin(&t, Method::GET, &format!("{path}/history"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{history}");
    let latest = &history["items"][0];
    assert_eq!(latest["action"], "client.updated");
    assert_eq!(
        latest["diff"],
        json!({"name": {"old": "web", "new": "renamed"}, "redirect_uris": {"old": ["https://c1.example/cb", "http://127.0.0.1/cb"], "new": ["https://c1.example/new"]}})
    );
    assert!(latest["actor"]["client_id"].is_string());
    // A rotation is audited with a redacted diff.
    app.admin(&t, Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    let (_, history) = app
        .admin(&t, Method::GET, &format!("{path}/history"), None)
        .await;
    assert_eq!(history["items"][0]["action"], "client.secret_rotated");
    assert_eq!(
        history["items"][0]["diff"]["secret_hash"],
        json!({"old": "<redacted>", "new": "<redacted>"})
    );
    // A failed change (invalid redirect URI) leaves no event.
    let before = app
        .admin(&t, Method::GET, &format!("{path}/history"), None)
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .len();
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &path,
            Some(json!({"redirect_uris": ["http://not-loopback/cb"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let after = app
        .admin(&t, Method::GET, &format!("{path}/history"), None)
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    // Filters and cursor paging return every event exactly once.
    let (_, all) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    let total = all["items"].as_array().unwrap().len();
    let mut seen = Vec::new();
    let mut next = None::<String>;
    loop {
        let q = match &next {
            Some(n) => format!("/subscriptions/acme/audit?limit=2&after={n}"),
            None => "/subscriptions/acme/audit?limit=2".into(),
        };
        let (_, page) = app.admin(&t, Method::GET, &q, None).await;
        for e in page["items"].as_array().unwrap() {
            seen.push(e["seq"].as_i64().unwrap());
        }
        next = page["next"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), total);
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "gap-free, ordered: {seen:?}"
    );
    let (_, only) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/audit?action=client.updated",
            None,
        )
        .await;
    assert!(
        only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "client.updated")
    );
    let (s, _) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?bogus=1", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn security_events_are_logged_without_secrets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t0 = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    // A failed login.
    let browser = app.new_browser();
    let (_, challenge) = e2e::pkce_pair();
    let login = browser
        .get(app.authorize_url("acme", &c.id, &challenge, &[]))
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = browser
        .get(format!("{}{login}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let grab = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_owned()
    };
    browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", grab("tx")),
            ("csrf", grab("csrf")),
            ("username", "alice".into()),
            ("password", "Wrong-Secret-123".into()),
        ])
        .send()
        .await
        .unwrap();
    // A refresh token reuse.
    let rt = t0["refresh_token"].as_str().unwrap();
    app.token(
        "acme",
        &c.id,
        &c.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    app.clock.advance(30);
    app.token(
        "acme",
        &c.id,
        &c.secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    let t = app.system_token().await;
    let (_, all) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    let events = all["items"].as_array().unwrap();
    let find = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {all}"))
    };
    assert_eq!(find("login.failed")["diff"]["reason"], "bad_credentials");
    assert!(find("login.failed")["ip"].is_string());
    assert!(find("login.succeeded")["actor"]["user_id"].is_string());
    assert!(find("token.reuse_detected")["target"]["id"].is_string());
    let text = all.to_string();
    for secret in [
        "Wrong-Secret-123",
        "correct horse battery",
        c.secret.as_str(),
        rt,
        t0["access_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "a secret reached the audit log");
    }
}

async fn the_hash_chain_verifies_and_finds_an_altered_row(backend: Backend) {
    use auth_server::service::audit::{Verification, verify};
    use sea_orm::ConnectionTrait;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let sub = auth_server::service::tenants::resolve(&app.ctx, "acme")
        .await
        .unwrap();
    match verify(&app.ctx, &sub.id).await.unwrap() {
        Verification::Intact { events } => assert!(events >= 3),
        broken => panic!("{broken:?}"),
    }
    let db = sea_orm::Database::connect(&app.storage.database_url)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE audit_events SET action = 'user.deleted' WHERE subscription_id = '{}' AND seq = 2",
        sub.id.0
    ))
    .await
    .unwrap();
    match verify(&app.ctx, &sub.id).await.unwrap() {
        Verification::Broken { seq, .. } => assert_eq!(seq, 2, "the exact altered event"),
        intact => panic!("tampering not detected: {intact:?}"),
    }
}

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
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.clone()),
            ("csrf", csrf.clone()),
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
    let db = sea_orm::Database::connect(e2e::inspect_url(&app.storage.database_url))
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

on_backends!(
    paging_returns_every_event_once_under_concurrent_writes_and_no_column_holds_a_secret,
    a_tenant_admin_cannot_read_another_tenants_audit
);

async fn paging_returns_every_event_once_under_concurrent_writes_and_no_column_holds_a_secret(
    backend: Backend,
) {
    use sea_orm::{ConnectionTrait, Statement};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let t = app.system_token().await;
    let writers = futures_util::future::join_all((0..12).map(|i| {
        app.admin(
            &t,
            Method::POST,
            "/subscriptions/acme/users",
            Some(json!({"username": format!("u{i}"), "password": format!("Pw-secret-{i}-xyz")})),
        )
    }));
    let reader = async {
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..200 {
            let q = match &next {
                Some(n) => format!("/subscriptions/acme/audit?limit=3&after={n}"),
                None => "/subscriptions/acme/audit?limit=3".into(),
            };
            let (_, page) = app.admin(&t, Method::GET, &q, None).await;
            let items = page["items"].as_array().unwrap().clone();
            for e in &items {
                seen.push(e["seq"].as_i64().unwrap());
            }
            if let Some(last) = items.last() {
                next = Some(last["seq"].as_i64().unwrap().to_string());
            }
            if items.is_empty() {
                tokio::task::yield_now().await;
            }
            if seen.len() >= 13 {
                break;
            }
        }
        seen
    };
    let (results, mut seen) = tokio::join!(writers, reader);
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED));
    // Drain what the reader had not reached yet.
    loop {
        let last = seen.last().copied().unwrap_or(0);
        let (_, page) = app
            .admin(
                &t,
                Method::GET,
                &format!("/subscriptions/acme/audit?limit=50&after={last}"),
                None,
            )
            .await;
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        seen.extend(items.iter().map(|e| e["seq"].as_i64().unwrap()));
    }
    let expected: Vec<i64> = (1..=seen.len() as i64).collect();
    assert_eq!(
        seen, expected,
        "every event exactly once, in order, no gaps"
    );
    // No column of any audit row carries a password, a secret or a token.
    let db = sea_orm::Database::connect(e2e::inspect_url(&app.storage.database_url))
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(backend, "SELECT id || actor || action || target_type || target_id || COALESCE(request_id, '') || COALESCE(ip, '') || COALESCE(diff, '') || COALESCE(prev_hash, '') || COALESCE(hash, '') AS t FROM audit_events"))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let text: String = row.try_get("", "t").unwrap();
        assert!(
            !text.contains("Pw-secret-"),
            "a password reached the audit table: {text}"
        );
        assert!(!text.contains(&t), "a token reached the audit table");
    }
}

async fn a_tenant_admin_cannot_read_another_tenants_audit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    app.create_subscription("beta").await;
    let ops = app.create_client("acme", json!({"name": "ops", "grant_types": ["client_credentials"], "scope": "admin", "token_endpoint_auth_method": "client_secret_basic"})).await;
    let (_, tok) = app
        .token(
            "acme",
            &ops.id,
            &ops.secret,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    let tok = tok["access_token"].as_str().unwrap();
    let (s, _) = app
        .admin(tok, Method::GET, "/subscriptions/acme/audit", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = app
        .admin(tok, Method::GET, "/subscriptions/beta/audit", None)
        .await;
    // SECURITY.md T8: another subscription answers like a missing one.
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // The refusal itself is audited in the caller's subscription.
    let (_, own) = app
        .admin(
            tok,
            Method::GET,
            "/subscriptions/acme/audit?action=admin.forbidden",
            None,
        )
        .await;
    assert_eq!(own["items"][0]["target"]["id"], "beta");
}

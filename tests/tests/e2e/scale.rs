//! Two instances on one database and Redis: a code issued by one redeems at the other,
//! exactly once.

use e2e::{Backend, TestApp, pkce_pair, query_param};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_issued_by_one_instance_redeems_once_at_another() {
    let Some(one) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    let (verifier, challenge) = pkce_pair();
    let redirect = one
        .browser_login(
            &one.new_browser(),
            &one.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            "correct horse battery",
        )
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://c1.example/cb"),
        ("code_verifier", verifier.as_str()),
    ];
    let mut handles = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &one } else { &two };
        handles.push(app.token("acme", &c.id, &c.secret, &form));
    }
    let results = futures_util::future::join_all(handles).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one redemption wins: {results:?}");
    assert!(
        results
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(s, b)| *s == StatusCode::BAD_REQUEST && b["error"] == "invalid_grant")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_is_seen_by_the_cache_of_another() {
    let Some(one) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    let t = one
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let at = t["access_token"].as_str().unwrap();
    // Instance two verifies and caches the token…
    assert_eq!(two.introspect("acme", &c, at).await["active"], true);
    assert_eq!(two.introspect("acme", &c, at).await["active"], true);
    // …instance one revokes its grant…
    let resp = one
        .http
        .post(format!("{}/t/acme/revoke", one.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // …and instance two's very next answer is inactive.
    assert_eq!(
        two.introspect("acme", &c, at).await,
        serde_json::json!({"active": false})
    );
}

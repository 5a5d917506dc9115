//! Redis behind Sentinel (`redis+sentinel://`, docs/operations.md "Redis deployments"):
//! the test starts its own master, replica and Sentinel (quorum 1), runs the code flow and
//! a revocation through the Sentinel URL, has the Sentinel fail over to the replica, and
//! the same server process keeps working on the new master without a restart (the old
//! master was demoted and its clients killed, so every command must find the new one).

use e2e::throwaway::RedisSentinel;
use e2e::{Storage, TestApp, skip};
use reqwest::StatusCode;
use serde_json::json;

/// Code flow, introspection, revocation; the access token is inactive afterwards.
async fn flow_and_revocation(app: &TestApp, c: &e2e::TestClient) {
    let tokens = app
        .code_flow("acme", c, "alice", "correct horse battery")
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", c, at).await["active"], true);
    let resp = app
        .http
        .post(format!("{}/t/acme/revoke", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        app.introspect("acme", c, at).await,
        json!({"active": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_url_serves_the_code_flow_and_follows_a_failover_without_a_restart() {
    let Some(sentinel) = RedisSentinel::start().await else {
        skip("redis-server and redis-cli (Sentinel)");
        return;
    };
    let first = sentinel.master_port().await;
    assert_eq!(first, Some(sentinel.first_master()));
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &sentinel.url()).await else {
        return;
    };
    let app = TestApp::on(storage).await;
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let c = app.tenant_with_alice("acme").await;
    flow_and_revocation(&app, &c).await;

    assert!(
        sentinel.failover().await,
        "the Sentinel promoted the replica"
    );
    assert_ne!(sentinel.master_port().await, first);
    // Every request after the failover succeeds at the first try: the store re-asks
    // the Sentinel when the old master drops the connection or answers READONLY.
    flow_and_revocation(&app, &c).await;
}

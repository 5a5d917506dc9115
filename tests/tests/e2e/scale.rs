//! Two instances on one database and Redis (docs/operations.md "Several instances"): a
//! code issued by one redeems at the other exactly once, a login started on one
//! completes on the other, a revocation on one is seen by the other's cache, and a key
//! rotation on one is published by the other without restart.

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
    for i in 0..20 {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_started_on_one_instance_completes_on_another() {
    let Some(one) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    let (verifier, challenge) = pkce_pair();
    // `/authorize` (transaction, CSRF state, browser-binding cookie) runs on one; the
    // login form, its POST and the consent run on two, as behind a load balancer
    // without sticky sessions (cookies ignore the port, so the browser sends them).
    let redirect = two
        .browser_login(
            &one.new_browser(),
            &one.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            "correct horse battery",
        )
        .await;
    let code = query_param(&redirect, "code").expect("a code after the login on two");
    let (s, body) = one
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", verifier.as_str()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_on_one_instance_is_published_by_another_without_restart() {
    let Some(one) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    let kids = |jwks: serde_json::Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let jwks_of = |app: &TestApp| {
        let req = app.http.get(format!("{}/t/acme/jwks", app.base));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    // Two has loaded (and cached) the ring before the rotation.
    let before = kids(jwks_of(&two).await);
    let admin = one.system_token().await;
    let (s, body) = one
        .admin(
            &admin,
            reqwest::Method::POST,
            "/subscriptions/acme/keys/rotate",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let after_one = kids(jwks_of(&one).await);
    let added: Vec<&String> = after_one.iter().filter(|k| !before.contains(k)).collect();
    assert!(!added.is_empty(), "the rotation published new next keys");
    // Two serves them within its 5 s ring cache, polled with a bound (no restart).
    let mut seen = false;
    for _ in 0..40 {
        let now = kids(jwks_of(&two).await);
        if added.iter().all(|k| now.contains(k)) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        seen,
        "instance two publishes the keys rotated on one: {added:?}"
    );
    // Tokens signed by one with the promoted key verify on two.
    let t = one
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    assert_eq!(
        two.introspect("acme", &c, t["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_codes_and_revocations_through_a_redis_cluster() {
    let Some(cluster) = e2e::throwaway::RedisCluster::start().await else {
        e2e::skip("redis-server/redis-cli (cluster)");
        return;
    };
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = e2e::Storage::postgres_redis(&pg, &cluster.url()).await else {
        return;
    };
    let one = TestApp::on(storage).await;
    let c = one.tenant_with_alice("acme").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    let ready = two
        .http
        .get(format!("{}/readyz", two.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    // The whole browser flow on one (transactions and codes spread over the slots)…
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
    // …its code redeems once on two; two verifies (and caches) the access token.
    let (s, t) = two.token("acme", &c.id, &c.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(two.introspect("acme", &c, at).await["active"], true);
    // A replay on one fails and revokes the grant (RFC 9700 §4.2.1); two's next
    // introspection sees it, through the generation kept in the cluster.
    let (s, replay) = one.token("acme", &c.id, &c.secret, &form).await;
    assert_eq!(
        (s, replay["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        two.introspect("acme", &c, at).await,
        serde_json::json!({"active": false})
    );
}

/// Replicas of a new deployment start at the same moment on an empty PostgreSQL
/// database (docs/operations.md "Several instances"): the migrations run under an
/// advisory lock, so one instance migrates while the other waits, and both then serve.
/// Each round uses a fresh database; without the lock a round fails with "relation
/// already exists" or a duplicate migration row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_a_fresh_database_migrate_it_once_and_both_serve() {
    use migrations::MigratorTrait;
    use sea_orm::ConnectionTrait;
    const SECRET: &str = "replica-admin-secret-0123456789abcdef";
    const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    for round in 0..3 {
        let Some(storage) = e2e::Storage::new(Backend::PostgresRedis).await else {
            return;
        };
        // Replicas share their secrets through the environment, as in docker-compose;
        // the harness reads the admin secret from the data dir.
        std::fs::write(storage.dir.path().join("admin-client-secret"), SECRET).unwrap();
        let tweak = |s: &mut auth_server::config::Settings| {
            s.master_key = Some(MASTER_KEY.to_owned().into());
            s.admin_client_secret = Some(SECRET.to_owned().into());
        };
        let (one, two) = tokio::join!(
            TestApp::on_with(std::sync::Arc::clone(&storage), tweak),
            TestApp::on_with(std::sync::Arc::clone(&storage), tweak),
        );
        for app in [&one, &two] {
            let r = app.http.get(format!("{}/readyz", app.base)).send().await;
            assert_eq!(r.unwrap().status(), StatusCode::OK, "round {round}");
        }
        let db = sea_orm::Database::connect(&storage.database_url)
            .await
            .unwrap();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n, COUNT(DISTINCT version) AS d FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let (n, d): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "d").unwrap());
        let expected = migrations::Migrator::migrations().len() as i64;
        assert_eq!(
            (n, d),
            (expected, expected),
            "round {round}: each migration once"
        );
        let _ = db.close().await;
        // Both serve the one system subscription and its bootstrap client.
        one.system_token().await;
        two.system_token().await;
    }
}

//! Failure behaviour (docs/operations.md): the test owns a PostgreSQL cluster or a Redis
//! server, stops it mid-test and starts it again. Expected: the documented 503s, never a
//! 500 and never internals in a body, every answer within a bound, and recovery without
//! restarting the auth server.

use e2e::throwaway::{Postgres, Redis};
use e2e::{Storage, TestApp, TestClient, sample, skip};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// Every request of these tests must be answered within this (the server's own
/// deadline is 20 s; its dependency timeouts are 2–5 s).
const BOUND: Duration = Duration::from_secs(25);

/// One request with the bound; a timeout fails the test ("no hang").
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = req
        .timeout(BOUND)
        .send()
        .await
        .expect("answered within the bound");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body within the bound");
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "no 500: {body}");
    if !status.is_success() {
        for leak in [
            "sqlx",
            "postgres",
            "redis",
            "Connection refused",
            "os error",
        ] {
            assert!(!body.contains(leak), "no internals in a body: {body}");
        }
    }
    (status, headers, body)
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let (s, _, body) = send(app.http.get(format!("{}/readyz", app.base))).await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Poll `/readyz` until it answers 200 (the server reconnects by itself).
async fn wait_ready(app: &TestApp) {
    for _ in 0..60 {
        if readyz(app).await.0 == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the server did not become ready again without a restart");
}

async fn token(app: &TestApp, c: &TestClient, form: &[(&str, &str)]) -> (StatusCode, Value, bool) {
    let (s, h, body) = send(
        app.http
            .post(format!("{}/t/acme/token", app.base))
            .basic_auth(&c.id, Some(&c.secret))
            .form(form),
    )
    .await;
    let retry_after = h.contains_key("retry-after");
    (
        s,
        serde_json::from_str(&body).unwrap_or(Value::Null),
        retry_after,
    )
}

async fn introspect(app: &TestApp, c: &TestClient, t: &str) -> (StatusCode, Value) {
    let (s, _, body) = send(
        app.http
            .post(format!("{}/t/acme/introspect", app.base))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", t)]),
    )
    .await;
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn assert_unavailable((s, body, retry_after): &(StatusCode, Value, bool)) {
    assert_eq!(*s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(retry_after, "503 carries Retry-After");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_answers_503_then_recovers_without_restart() {
    let Some(pg) = Postgres::start().await else {
        skip("postgres server binaries (initdb, pg_ctl)");
        return;
    };
    let redis =
        std::env::var("AUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let Some(storage) = Storage::postgres_redis(&pg.url(), &redis).await else {
        return;
    };
    let app = TestApp::on(storage).await;
    let c = app.tenant_with_alice("acme").await;
    let seen = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let unseen = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let seen_at = seen["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &c, seen_at).await.1["active"], true);
    let rt = unseen["refresh_token"].as_str().unwrap().to_owned();

    assert!(pg.stop().await, "pg_ctl stop");

    let (s, body) = readyz(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "down");
    assert_eq!(body["cache"], "ok");
    // Token endpoint: every grant fails closed with the RFC 6749 code for it.
    assert_unavailable(
        &token(
            &app,
            &c,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await,
    );
    // A client this instance has not cached cannot be authenticated: 503, not 401.
    let stranger = TestClient {
        id: "not-cached".into(),
        secret: "whatever".into(),
    };
    assert_unavailable(&token(&app, &stranger, &[("grant_type", "client_credentials")]).await);
    // Introspection of a token never verified by this instance needs the database for
    // its revocation check: 503, never a guess either way.
    let (s, body) = introspect(&app, &c, unseen["access_token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    // A token this instance verified moments ago, under an unchanged Redis generation,
    // is still answered: no revocation can commit while the database is down.
    let (s, body) = introspect(&app, &c, seen_at).await;
    assert_eq!(
        (s, &body["active"]),
        (StatusCode::OK, &Value::Bool(true)),
        "{body}"
    );
    // Public key material stays available (SECURITY.md §5.2: JWKS open).
    let (s, _, jwks) = send(app.http.get(format!("{}/t/acme/jwks", app.base))).await;
    assert_eq!(s, StatusCode::OK, "{jwks}");
    // The login page needs the database (client lookup): a 503 page, not a 500.
    let (s, _, _) =
        send(
            app.http
                .get(app.authorize_url("acme", &c.id, "x".repeat(43).as_str(), &[])),
        )
        .await;
    assert!(
        s == StatusCode::SERVICE_UNAVAILABLE || s.is_redirection(),
        "authorize while the database is down: {s}"
    );

    assert!(pg.start_again().await, "pg_ctl start");
    wait_ready(&app).await;
    let (s, body, _) = token(
        &app,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "refresh after recovery: {body}");
    let (s, body) = introspect(&app, &c, body["access_token"].as_str().unwrap()).await;
    assert_eq!((s, &body["active"]), (StatusCode::OK, &Value::Bool(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_codes_and_sessions_closed_then_recovers_without_restart() {
    let Some(mut redis) = Redis::start().await else {
        skip("redis-server binary");
        return;
    };
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &redis.url()).await else {
        return;
    };
    let app = TestApp::on(storage).await;
    let c = app.tenant_with_alice("acme").await;
    let tokens = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    // A code issued just before the outage, redeemed during it.
    let (verifier, challenge) = e2e::pkce_pair();
    let redirect = app
        .browser_login(
            &app.new_browser(),
            &app.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            "correct horse battery",
        )
        .await;
    let code = e2e::query_param(&redirect, "code").unwrap();

    assert!(redis.stop().await, "redis stopped");

    let (s, body) = readyz(&app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (body["database"].as_str(), body["cache"].as_str()),
        (Some("ok"), Some("down"))
    );
    // Codes are single use only through Redis: closed, with the RFC error.
    assert_unavailable(
        &token(
            &app,
            &c,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", &verifier),
            ],
        )
        .await,
    );
    // A new login needs an authorization transaction: a 503 page, not a 500 or a loop.
    let browser = app.new_browser();
    let (s, _, page) = send(browser.get(app.authorize_url("acme", &c.id, &challenge, &[]))).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert!(page.contains("temporarily unavailable"), "{page}");
    // Introspection reads through to the database (caches are bypassed, not trusted).
    let (s, body) = introspect(&app, &c, &at).await;
    assert_eq!(
        (s, &body["active"]),
        (StatusCode::OK, &Value::Bool(true)),
        "{body}"
    );

    assert!(redis.start_again().await, "redis restarted");
    wait_ready(&app).await;
    // Everything that lived in Redis is gone (no persistence): the old code is refused,
    // a fresh flow works end to end on the same server process.
    let (s, body, _) = token(
        &app,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let again = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let (s, body) = introspect(&app, &c, again["access_token"].as_str().unwrap()).await;
    assert_eq!((s, &body["active"]), (StatusCode::OK, &Value::Bool(true)));
}

/// SECURITY.md §5.2 "login rate limiter / lockout counters: degrade, never unlimited".
/// With Redis gone, the counters continue in the instance's own memory: the per-address
/// login limit still answers 429, and wrong passwords still set the temporary lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_keeps_login_throttling_on_the_instance_never_unlimited() {
    use auth_server::service::federation::password_login;
    use auth_server::service::login::LoginError;
    use auth_server::service::{Actor, tenants, throttle};
    const RIGHT: &str = "correct horse battery";

    let Some(mut redis) = Redis::start().await else {
        skip("redis-server binary");
        return;
    };
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &redis.url()).await else {
        return;
    };
    let app = TestApp::on_with(storage, |s| s.login_ip_rate_limit = 3).await;
    let c = app.tenant_with_alice("acme").await;
    // One-minute windows and the policy's delays follow the app's clock only.
    app.clock.freeze();
    app.clock.advance(60 - app.ctx.now().rem_euclid(60));
    let (_, challenge) = e2e::pkce_pair();
    let browser = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;

    assert!(redis.stop().await, "redis stopped");

    // The per-address limit: the form's transaction is unreadable (503), but every post
    // is still counted, on this instance, and the fourth one is refused before any work.
    let post = || {
        browser
            .post(format!("{}/t/acme/login", app.base))
            .header("origin", &app.public)
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "wrong"),
            ])
    };
    for _ in 0..3 {
        let (s, _, page) = send(post()).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    }
    let (s, h, page) = send(post()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(h.contains_key("retry-after"));

    // The per-name lock, through the very call the login form makes: the right password
    // works without Redis, five wrong ones (each after the progressive delay) lock the
    // name, and then the right password is refused like a wrong one.
    let ctx = &app.ctx;
    let sub = tenants::resolve(ctx, "acme").await.unwrap();
    let actor = Actor::default();
    let started = std::time::Instant::now();
    let first = password_login(ctx, &sub, "alice", RIGHT, &actor).await;
    assert!(first.is_ok(), "a right password needs no Redis");
    for _ in 0..5 {
        app.clock.advance(10);
        let r = password_login(ctx, &sub, "alice", "wrong", &actor).await;
        assert!(matches!(r, Err(LoginError::BadCredentials)));
    }
    app.clock.advance(10);
    let locked = password_login(ctx, &sub, "alice", RIGHT, &actor).await;
    assert!(
        matches!(locked, Err(LoginError::BadCredentials)),
        "the fifth failure locked the name although Redis is down"
    );
    let status = throttle::status(ctx, &sub.id, "alice").await.unwrap();
    assert!(status.locked_until.is_some(), "{status:?}");
    assert!(
        started.elapsed() < BOUND,
        "counting on the fallback does not wait on Redis for long: {:?}",
        started.elapsed()
    );
    // The temporary lock ends as it would with Redis.
    app.clock
        .advance(auth_server::service::throttle::policy::TEMP_LOCK_SECS + 1);
    let again = password_login(ctx, &sub, "alice", RIGHT, &actor).await;
    assert!(again.is_ok(), "the lock ends after its five minutes");
}

/// SECURITY.md §5.2: during a Redis outage each of N instances (`AUTH_INSTANCES`)
/// enforces limit/N, so that the N instances together stay within the shared limit: with
/// 6 login posts per minute and 3 instances, the third post is refused; the per-name lock
/// (5 failures shared) comes at ceil(5/3) = 2 failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_each_of_n_instances_enforces_limit_over_n() {
    use auth_server::service::federation::password_login;
    use auth_server::service::login::LoginError;
    use auth_server::service::{Actor, tenants};
    const RIGHT: &str = "correct horse battery";

    let Some(mut redis) = Redis::start().await else {
        skip("redis-server binary");
        return;
    };
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &redis.url()).await else {
        return;
    };
    let app = TestApp::on_with(storage, |s| {
        s.login_ip_rate_limit = 6;
        s.instances = 3;
    })
    .await;
    let c = app.tenant_with_alice("acme").await;
    app.clock.freeze();
    app.clock.advance(60 - app.ctx.now().rem_euclid(60));
    let (_, challenge) = e2e::pkce_pair();
    let browser = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    assert!(redis.stop().await, "redis stopped");

    let post = || {
        browser
            .post(format!("{}/t/acme/login", app.base))
            .header("origin", &app.public)
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "wrong"),
            ])
    };
    // 6 / 3 = 2 posts pass the limiter (and meet the unreadable transaction: 503).
    for _ in 0..2 {
        let (s, _, page) = send(post()).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    }
    let (s, _, page) = send(post()).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the third post is over 6/3: {page}"
    );

    let ctx = &app.ctx;
    let sub = tenants::resolve(ctx, "acme").await.unwrap();
    let actor = Actor::default();
    assert!(
        password_login(ctx, &sub, "alice", RIGHT, &actor)
            .await
            .is_ok()
    );
    for _ in 0..2 {
        app.clock.advance(10);
        let r = password_login(ctx, &sub, "alice", "wrong", &actor).await;
        assert!(matches!(r, Err(LoginError::BadCredentials)));
    }
    app.clock.advance(10);
    let locked = password_login(ctx, &sub, "alice", RIGHT, &actor).await;
    assert!(
        matches!(locked, Err(LoginError::BadCredentials)),
        "two failures on this instance are its share of five"
    );
}

/// `/metrics` carries the database pool's state and each Redis command's latency and
/// failures, so that an outage shows on a dashboard before users report it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_the_database_pool_and_redis_latency_and_errors() {
    let Some(mut redis) = Redis::start().await else {
        skip("redis-server binary");
        return;
    };
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &redis.url()).await else {
        return;
    };
    let app = TestApp::on(storage).await;
    let c = app.tenant_with_alice("acme").await;
    let scrape = || app.metrics();
    app.code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let text = scrape().await;
    // The harness bounds the pool at 4 connections and the pool keeps at least one open.
    assert_eq!(
        sample(&text, "db_pool_max_connections"),
        Some(4.0),
        "{text}"
    );
    let idle = sample(&text, "db_pool_connections{state=\"idle\"}").expect("idle gauge");
    let in_use = sample(&text, "db_pool_connections{state=\"in_use\"}").expect("in_use gauge");
    assert!(idle + in_use >= 1.0 && idle + in_use <= 4.0, "{text}");
    // The code was stored and redeemed through Redis, and both were timed.
    let getdel = "redis_command_duration_seconds_count{command=\"getdel\"}";
    assert!(sample(&text, getdel).is_some_and(|n| n >= 1.0), "{text}");
    let set = "redis_command_duration_seconds_count{command=\"set\"}";
    assert!(sample(&text, set).is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(
        sample(&text, "redis_errors_total{command=\"getdel\"}"),
        None,
        "{text}"
    );

    assert!(redis.stop().await, "redis stopped");
    let (verifier, _) = e2e::pkce_pair();
    let refused = token(
        &app,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", "a-code-that-cannot-be-looked-up"),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_unavailable(&refused);
    let text = scrape().await;
    let errors = sample(&text, "redis_errors_total{command=\"getdel\"}");
    assert!(
        errors.is_some_and(|n| n >= 1.0),
        "the failed GETDEL is counted: {text}"
    );
}

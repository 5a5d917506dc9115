//! Brute-force defence (SECURITY.md §3 numbers, §6.6 "N wrong passwords", §1.5 X7):
//! progressive delay, the temporary lock after 5 failures in 5 minutes per
//! (subscription, normalised name), the hard lock after 100 consecutive failures with
//! its audited admin unlock, and the per-address limiter with `AUTH_TRUSTED_PROXIES`.
//! Time windows move the app's manual clock; nothing sleeps.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_backends!(
    a_failure_delays_the_next_check_and_five_lock_the_name_for_five_minutes,
    a_lock_is_indistinguishable_from_a_wrong_password_or_an_unknown_name,
    the_hundredth_consecutive_failure_locks_until_an_admin_unlocks,
    x7_the_per_address_limit_keys_on_the_peer_unless_it_is_a_trusted_proxy,
    x7_batched_counts_hold_the_shared_budget_across_instances,
    the_login_form_has_its_own_per_address_limit,
);

const RIGHT: &str = "correct horse battery";
const GENERIC: &str = "invalid username or password";

/// One open login form in one browser.
struct Form {
    browser: reqwest::Client,
    tx: String,
    csrf: String,
}

async fn open(app: &TestApp, c: &TestClient) -> Form {
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    Form { browser, tx, csrf }
}

/// Submit the form; `"signed in"` for the 303 onwards, otherwise status and alert text.
async fn submit(app: &TestApp, f: &Form, user: &str, password: &str) -> String {
    let resp = f
        .browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", f.tx.as_str()),
            ("csrf", f.csrf.as_str()),
            ("username", user),
            ("password", password),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    if resp.status() == StatusCode::SEE_OTHER {
        return "signed in".into();
    }
    let status = resp.status();
    let html = resp.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("[role=alert]").unwrap();
    let alert: String = doc
        .select(&sel)
        .next()
        .map(|e| e.text().collect())
        .unwrap_or_default();
    format!("{} {alert}", status.as_u16())
}

fn generic() -> String {
    format!("200 {GENERIC}")
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let t = app.system_token().await;
    let (s, body) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn a_failure_delays_the_next_check_and_five_lock_the_name_for_five_minutes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The delays are whole seconds: a real second boundary between two posts must not
    // count as a waited second.
    app.clock.freeze();
    let c = app.tenant_with_alice("acme").await;
    let f = open(&app, &c).await;
    // Progressive delay from the first failure: the right password one second too early
    // is refused like a wrong one, and accepted once the delay has passed.
    assert_eq!(submit(&app, &f, "alice", "wrong").await, generic());
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, generic());
    app.clock.advance(1);
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, "signed in");

    // A success restarted the count. Five failures within five minutes, under five
    // spellings of one name (NFKC + lower case: one person, one counter), lock it.
    let f = open(&app, &c).await;
    for name in ["alice", "ALICE", "Ａｌｉｃｅ", "Alice", "aLiCe"] {
        assert_eq!(submit(&app, &f, name, "wrong").await, generic(), "{name}");
        app.clock.advance(9);
    }
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, generic());
    app.clock.advance(200);
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, generic());
    // Another user of the tenant is not affected, nor alice of another tenant (§5.1 T11).
    app.create_user("acme", "bob", RIGHT).await;
    let g = open(&app, &c).await;
    assert_eq!(submit(&app, &g, "bob", RIGHT).await, "signed in");
    let beta = app.tenant_with_alice("beta").await;
    let tokens = app.code_flow("beta", &beta, "alice", RIGHT).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    // Five minutes after the lock it lifts (a new form: the old transaction expired).
    app.clock.advance(100);
    let f = open(&app, &c).await;
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, "signed in");

    let events = audit_actions(&app).await;
    let locked: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "login.locked")
        .collect();
    assert_eq!(locked.len(), 1, "{events:?}");
    assert_eq!(locked[0]["target"]["id"], "alice");
    let refused = events
        .iter()
        .filter(|e| e["action"] == "login.failed" && e["diff"]["reason"] == "locked")
        .count();
    assert_eq!(refused, 2);
}

async fn a_lock_is_indistinguishable_from_a_wrong_password_or_an_unknown_name(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The delays are whole seconds: a real second boundary between two posts must not
    // count as a waited second.
    app.clock.freeze();
    let c = app.tenant_with_alice("acme").await;
    app.create_user("acme", "carol", RIGHT).await;
    let t = app.system_token().await;
    let (s, carol) = app
        .admin(&t, Method::GET, "/subscriptions/acme/users?limit=10", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let carol_id = carol["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "carol")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let f = open(&app, &c).await;
    for _ in 0..5 {
        assert_eq!(submit(&app, &f, "alice", "wrong").await, generic());
        app.clock.advance(10);
    }
    // Locked with the right password, wrong password of a free name, unknown name,
    // throttled name: one status, one message, one page.
    let locked = submit(&app, &f, "alice", RIGHT).await;
    let wrong = submit(&app, &f, "carol", "wrong").await;
    let throttled = submit(&app, &f, "carol", RIGHT).await;
    let unknown = submit(&app, &f, "nobody", RIGHT).await;
    for got in [&locked, &wrong, &throttled, &unknown] {
        assert_eq!(got, &generic());
    }
    // The admin sees the temporary lock of alice and nothing for the unknown name.
    let alice_id = carol["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, st) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{alice_id}/lock"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert!(st["locked_until"].as_i64().is_some(), "{st}");
    assert_eq!(st["hard_locked"], false);
    assert_eq!(st["consecutive_failures"], 5);
    let (_, st) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{carol_id}/lock"),
            None,
        )
        .await;
    assert_eq!(st["consecutive_failures"], 1);
}

async fn the_hundredth_consecutive_failure_locks_until_an_admin_unlocks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let sub = app.ctx.store.subscriptions().by_slug("acme").await.unwrap();
    // 99 earlier failures, as 20 lock cycles would have left them.
    let now = app.ctx.now();
    for _ in 0..99 {
        app.ctx
            .db(&sub.id)
            .await
            .unwrap()
            .repos()
            .login_locks()
            .record_failure(&sub.id, "alice", now)
            .await
            .unwrap();
    }
    let f = open(&app, &c).await;
    assert_eq!(submit(&app, &f, "alice", "wrong").await, generic());
    // A day later, far past any temporary lock, the right password is still refused.
    app.clock.advance(86_400);
    let f = open(&app, &c).await;
    assert_eq!(submit(&app, &f, "ALICE", RIGHT).await, generic());

    let t = app.system_token().await;
    let (_, locks) = app
        .admin(&t, Method::GET, "/subscriptions/acme/login-locks", None)
        .await;
    assert_eq!(locks.as_array().unwrap().len(), 1, "{locks}");
    assert_eq!(locks[0]["username"], "alice");
    assert_eq!(locks[0]["hard_locked"], true);
    assert_eq!(locks[0]["consecutive_failures"], 100);
    let alice = app
        .ctx
        .db(&sub.id)
        .await
        .unwrap()
        .repos()
        .users()
        .credentials(&sub.id, "alice")
        .await
        .unwrap()
        .0
        .id;
    // Another tenant's admin cannot see or lift it (§5.1): 404 as if absent.
    app.create_subscription("other").await;
    let (s, _) = app
        .admin(
            &t,
            Method::DELETE,
            &format!("/subscriptions/other/users/{alice}/lock"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = app
        .admin(
            &t,
            Method::DELETE,
            &format!("/subscriptions/acme/users/{alice}/lock"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let f = open(&app, &c).await;
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, "signed in");
    let (_, locks) = app
        .admin(&t, Method::GET, "/subscriptions/acme/login-locks", None)
        .await;
    assert_eq!(locks, serde_json::json!([]));
    // Unlocking a name that has nothing to unlock is 404.
    let (s, _) = app
        .admin(
            &t,
            Method::DELETE,
            "/subscriptions/acme/login-locks/nobody",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let events = audit_actions(&app).await;
    let hard = events
        .iter()
        .find(|e| e["action"] == "login.hard_locked")
        .expect("login.hard_locked audited");
    assert_eq!(hard["diff"]["failures"], 100);
    let unlocked = events
        .iter()
        .find(|e| e["action"] == "login.unlocked")
        .expect("login.unlocked audited");
    assert_eq!(unlocked["target"]["id"], "alice");
    assert_eq!(unlocked["diff"]["hard_locked"], true);
    assert!(unlocked["actor"]["client_id"].is_string(), "{unlocked}");
}

async fn post_token_with(app: &TestApp, c: &TestClient, xff: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some("wrong secret"))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(v) = xff {
        req = req.header("x-forwarded-for", v);
    }
    req.send().await.unwrap()
}

/// The protocol endpoints' per-address count is added up on each instance and sent to
/// the shared counter in batches (`service::throttle::tally`): with a limit of 4,096 a
/// minute (batch 4), two instances on one Redis admit between limit + 1 − instances and
/// limit + instances × (batch − 1) requests of one address in a window, then refuse.
async fn x7_batched_counts_hold_the_shared_budget_across_instances(backend: Backend) {
    const LIMIT: u32 = 4096;
    const BATCH: usize = 4;
    let Some(one) = TestApp::spawn_with(backend, |s| s.ip_rate_limit = LIMIT).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let mut apps = vec![one];
    if backend == Backend::PostgresRedis {
        let storage = std::sync::Arc::clone(&apps[0].storage);
        apps.push(TestApp::on_with(storage, |s| s.ip_rate_limit = LIMIT).await);
    }
    // One window for the whole run on every instance: frozen clocks at one minute's start.
    for app in &apps {
        app.clock.freeze();
    }
    let latest = apps.iter().map(|a| a.ctx.now()).max().unwrap();
    let start = latest - latest.rem_euclid(60) + 60;
    for app in &apps {
        app.clock.advance(start - app.ctx.now());
    }
    let n = apps.len();
    let (mut admitted, mut refused_from) = (0usize, vec![None; n]);
    for i in 0..(LIMIT as usize + 64) {
        let app = &apps[i % n];
        let r = app
            .http
            .post(format!("{}/t/acme/introspect", app.base))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        match r.status() {
            StatusCode::OK => {
                // Once an instance found the window spent, it stays spent.
                assert_eq!(
                    refused_from[i % n],
                    None,
                    "admitted after a refusal at request {i}"
                );
                admitted += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                refused_from[i % n].get_or_insert(i);
            }
            s => panic!("request {i}: {s}"),
        }
    }
    let low = LIMIT as usize + 1 - n;
    let high = LIMIT as usize + n * (BATCH - 1);
    assert!(
        (low..=high).contains(&admitted),
        "{admitted} admitted, expected {low}..={high}"
    );
    assert!(refused_from.iter().all(Option::is_some), "{refused_from:?}");
}

async fn x7_the_per_address_limit_keys_on_the_peer_unless_it_is_a_trusted_proxy(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.ip_rate_limit = 5).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.clock.advance(60 - app.ctx.now().rem_euclid(60));
    for _ in 0..4 {
        let r = post_token_with(&app, &c, Some("198.51.100.1")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Introspection draws from the same budget.
    let r = app
        .http
        .post(format!("{}/t/acme/introspect", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A forged X-Forwarded-For from an untrusted peer does not buy a fresh budget.
    let r = post_token_with(&app, &c, Some("203.0.113.77")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Discovery and the authorization endpoint are not limited.
    let r = app
        .http
        .get(format!(
            "{}/t/acme/.well-known/openid-configuration",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The next minute starts a new window.
    app.clock.advance(60);
    assert_eq!(
        post_token_with(&app, &c, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Behind a trusted proxy (the test client's 127.0.0.1), each forwarded client has
    // its own budget; the rightmost untrusted hop is the client.
    let storage = app.storage.clone();
    let proxied = TestApp::on_with(storage, |s| {
        s.ip_rate_limit = 2;
        s.trusted_proxies = auth_server::domain::TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    proxied.clock.advance(60 - proxied.ctx.now().rem_euclid(60));
    for _ in 0..2 {
        let r = post_token_with(&proxied, &c, Some("6.6.6.6, 198.51.100.9")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = post_token_with(&proxied, &c, Some("198.51.100.9")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = post_token_with(&proxied, &c, Some("198.51.100.10")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn the_login_form_has_its_own_per_address_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.login_ip_rate_limit = 3).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.clock.advance(60 - app.ctx.now().rem_euclid(60));
    let f = open(&app, &c).await;
    for user in ["u1", "u2", "u3"] {
        assert_eq!(submit(&app, &f, user, "wrong").await, generic());
    }
    // The fourth post from the address, even with the right password of a clean name.
    let got = submit(&app, &f, "alice", RIGHT).await;
    assert!(got.starts_with("429 Too many sign-in attempts"), "{got}");
    // Token requests have their own budget.
    let (s, _) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(60);
    assert_eq!(submit(&app, &f, "alice", RIGHT).await, "signed in");
}

//! Two-factor authentication through the HTML pages: enrolment from `id="otpauth-uri"`
//! with codes computed by an independent TOTP implementation (the `totp-lite` crate,
//! not totp-rs and not our code), the login step with replay protection (also across
//! two instances), the attempt lock, recovery codes, policies (subscription and group),
//! `amr`/`acr` in ID tokens and introspection, step-up, and the admin reset.

use auth_server::clock::Clock;
use base64::Engine;
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    enrolment_then_every_login_needs_a_code_that_works_once,
    a_code_used_at_one_instance_is_refused_at_another,
    five_wrong_codes_lock_and_the_lock_expires,
    a_recovery_code_works_once_and_regeneration_voids_the_old_set,
    a_required_policy_forces_enrolment_and_optional_does_not,
    acr_values_and_max_age_ask_for_the_second_factor_again,
    an_admin_sees_and_resets_2fa_and_a_user_turns_it_off_with_a_code,
    second_factor_rows_of_one_subscription_do_not_exist_for_another,
    the_account_page_needs_a_session_with_a_recent_first_factor
);

const PASSWORD: &str = "correct horse battery";

/// The code of `secret` (base32) at Unix time `t`, by totp-lite.
fn code_at(secret: &str, t: i64) -> String {
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret)
        .expect("base32 secret");
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &key, t as u64)
}

fn now(app: &TestApp) -> i64 {
    app.clock.now()
}

fn select(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

fn input(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("no input {name} in {html}"))
        .to_owned()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `otpauth://` URI's secret, after checking its label and parameters.
fn secret_of(uri: &str, account: &str) -> String {
    let url = url::Url::parse(uri).unwrap();
    assert_eq!(url.scheme(), "otpauth");
    assert_eq!(url.host_str(), Some("totp"));
    assert_eq!(url.path(), format!("/acme:{account}"), "{uri}");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("issuer").map(String::as_str), Some("acme"));
    for (k, default) in [("digits", "6"), ("period", "30"), ("algorithm", "SHA1")] {
        assert_eq!(q.get(k).map(String::as_str).unwrap_or(default), default);
    }
    let secret = q["secret"].clone();
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &secret).unwrap();
    assert!(bytes.len() >= 20, "160-bit secret");
    secret
}

/// A browser at the authorize URL, through the password form; returns where the login
/// form's POST sends it.
async fn password_step(app: &TestApp, browser: &reqwest::Client, url: &str, user: &str) -> String {
    let (tx, csrf) = app.open_login_form(browser, url).await;
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", &csrf),
            ("username", user),
            ("password", PASSWORD),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

/// Open the second-factor page at `loc` and post `code`; returns the response and the
/// page it was posted from.
async fn submit_code(
    app: &TestApp,
    browser: &reqwest::Client,
    loc: &str,
    code: &str,
) -> (reqwest::Response, String) {
    assert!(
        loc.contains("/login/2fa?tx="),
        "expected the second-factor page, got {loc}"
    );
    let page = browser
        .get(format!("{}{loc}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let resp = browser
        .post(format!("{}/t/acme/login/2fa", app.base))
        .form(&[
            ("tx", input(&html, "tx")),
            ("csrf", input(&html, "csrf")),
            ("code", code.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    (resp, html)
}

/// Post "continue" on a confirmation page; returns where it leads.
async fn continue_from(app: &TestApp, browser: &reqwest::Client, html: &str) -> String {
    let resp = browser
        .post(format!("{}/t/acme/login/2fa", app.base))
        .form(&[
            ("tx", input(html, "tx")),
            ("csrf", input(html, "csrf")),
            ("action", "continue".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

/// Sign `user` in with `browser` (no 2FA yet), enrol on the account page; returns the
/// secret and the recovery codes.
async fn enrol(
    app: &TestApp,
    c: &TestClient,
    browser: &reqwest::Client,
    user: &str,
) -> (String, Vec<String>) {
    let (_, challenge) = pkce_pair();
    let done = app
        .browser_login(
            browser,
            &app.authorize_url("acme", &c.id, &challenge, &[]),
            user,
            PASSWORD,
        )
        .await;
    assert!(
        query_param(&done, "code").is_some(),
        "no 2FA before enrolment: {done}"
    );
    let resp = browser
        .get(format!("{}/t/acme/account/2fa", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = resp.text().await.unwrap();
    let uri = select(&html, "#otpauth-uri")
        .pop()
        .expect("otpauth-uri element");
    let secret = secret_of(&uri, user);
    assert!(
        html.contains("src=\"data:image/svg+xml;base64,"),
        "QR code beside the URI"
    );
    // A wrong code does not enrol.
    let wrong = browser
        .post(format!("{}/t/acme/account/2fa", app.base))
        .form(&[
            ("csrf", input(&html, "csrf")),
            ("action", "enrol".into()),
            ("code", "000000".into()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!select(&wrong, "[role=alert]").is_empty(), "{wrong}");
    let mut code = code_at(&secret, now(app));
    if code == "000000" {
        code = code_at(&secret, now(app) + 30);
    }
    let resp = browser
        .post(format!("{}/t/acme/account/2fa", app.base))
        .form(&[
            ("csrf", input(&html, "csrf")),
            ("action", "enrol".into()),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    let codes = select(&html, ".recovery-code");
    assert_eq!(codes.len(), 10, "{html}");
    // The secret is never shown again.
    let again = browser
        .get(format!("{}/t/acme/account/2fa", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(select(&again, "#otpauth-uri").is_empty() && !again.contains(&secret));
    assert!(again.contains("10 recovery codes left"), "{again}");
    // The enrolment code's step is spent: move to the next one.
    app.clock.advance(30);
    (secret, codes)
}

async fn redeem(app: &TestApp, c: &TestClient, redirect: &str, verifier: &str) -> Value {
    let code = query_param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
    let (s, body) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let t = app.system_token().await;
    let (s, body) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn enrolment_then_every_login_needs_a_code_that_works_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (secret, _) = enrol(&app, &c, &app.new_browser(), "alice").await;

    let browser = app.new_browser();
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[("nonce", "n-1")]);
    let loc = password_step(&app, &browser, &url, "alice").await;
    // A wrong code is refused on the page, with no code issued.
    let (resp, html) = submit_code(&app, &browser, &loc, "123456").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(html.contains("name=\"code\""));
    let refused = resp.text().await.unwrap();
    assert!(
        select(&refused, "[role=alert]")[0].contains("not valid"),
        "{refused}"
    );
    // The right one signs in.
    let code = code_at(&secret, now(&app));
    let (resp, _) = submit_code(&app, &browser, &loc, &code).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let tokens = redeem(&app, &c, &location(&resp), &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    assert_eq!(id["acr"], "2fa");
    let intro = app
        .introspect("acme", &c, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["amr"], json!(["pwd", "otp"]));
    assert_eq!(intro["acr"], "2fa");
    // After a refresh the authentication facts stay.
    let (s, refreshed) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    assert_eq!(
        claims(refreshed["id_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );

    // The same code again, in a new login within its window: refused.
    let other = app.new_browser();
    let loc = password_step(
        &app,
        &other,
        &app.authorize_url("acme", &c.id, &challenge, &[]),
        "alice",
    )
    .await;
    let (resp, _) = submit_code(&app, &other, &loc, &code).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("already used"));
    // A code from two steps ago: refused.
    let (resp, _) = submit_code(&app, &other, &loc, &code_at(&secret, now(&app) - 60)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("not valid"));
    // Malformed codes are refused by shape.
    for bad in ["12345", "1234567", "12a456"] {
        let (resp, _) = submit_code(&app, &other, &loc, bad).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(!select(&resp.text().await.unwrap(), "[role=alert]").is_empty());
    }
    // The next step's code works (four failures so far with enrolment's, below the
    // lock; malformed input does not count).
    app.clock.advance(30);
    let (resp, _) = submit_code(&app, &other, &loc, &code_at(&secret, now(&app))).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).starts_with("https://c1.example/cb?code="));
    let actions = audit_actions(&app).await;
    for a in ["mfa.enrolled", "mfa.succeeded", "mfa.failed"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

async fn a_code_used_at_one_instance_is_refused_at_another(backend: Backend) {
    let Some(one) = TestApp::spawn(backend).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    let (secret, _) = enrol(&one, &c, &one.new_browser(), "alice").await;
    let two = TestApp::on(std::sync::Arc::clone(&one.storage)).await;
    two.clock.advance(30);
    let (_, challenge) = pkce_pair();
    let (b1, b2) = (one.new_browser(), two.new_browser());
    let l1 = password_step(
        &one,
        &b1,
        &one.authorize_url("acme", &c.id, &challenge, &[]),
        "alice",
    )
    .await;
    let l2 = password_step(
        &two,
        &b2,
        &two.authorize_url("acme", &c.id, &challenge, &[]),
        "alice",
    )
    .await;
    let code = code_at(&secret, now(&one));
    // The same code at both instances at once: exactly one wins.
    let ((r1, _), (r2, _)) = tokio::join!(
        submit_code(&one, &b1, &l1, &code),
        submit_code(&two, &b2, &l2, &code)
    );
    let statuses = [r1.status(), r2.status()];
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    let loser = if r1.status() == StatusCode::OK {
        r1
    } else {
        r2
    };
    assert!(loser.text().await.unwrap().contains("already used"));
}

async fn five_wrong_codes_lock_and_the_lock_expires(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (secret, _) = enrol(&app, &c, &app.new_browser(), "alice").await;
    // Enrolment tried one wrong code; let it leave the five-minute window.
    app.clock.advance(300);
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let loc = password_step(&app, &browser, &url, "alice").await;
    let right = code_at(&secret, now(&app));
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    for i in 1..=5 {
        let (resp, _) = submit_code(&app, &browser, &loc, wrong).await;
        let html = resp.text().await.unwrap();
        let alert = select(&html, "[role=alert]").pop().unwrap();
        assert_eq!(alert.contains("locked"), i == 5, "attempt {i}: {alert}");
    }
    // Locked: even the right code is refused, on any new login too.
    let (resp, _) = submit_code(&app, &browser, &loc, &right).await;
    assert!(resp.text().await.unwrap().contains("locked"));
    assert!(audit_actions(&app).await.iter().any(|a| a == "mfa.locked"));
    // Five minutes later the lock is gone, and so is this login's second step: the
    // login restarts at the password form.
    app.clock.advance(301);
    let (resp, _) = {
        let page = browser
            .get(format!("{}{loc}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.status(),
            StatusCode::SEE_OTHER,
            "an expired step restarts the login"
        );
        assert!(location(&page).contains("/t/acme/login?tx="));
        (page, ())
    };
    drop(resp);
    let loc = password_step(&app, &browser, &url, "alice").await;
    let (resp, _) = submit_code(&app, &browser, &loc, &code_at(&secret, now(&app))).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).starts_with("https://c1.example/cb?code="));
}

async fn a_recovery_code_works_once_and_regeneration_voids_the_old_set(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let account = app.new_browser();
    let (secret, old) = enrol(&app, &c, &account, "alice").await;
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let login_with = |code: String| {
        let app = &app;
        let url = url.clone();
        async move {
            let browser = app.new_browser();
            let loc = password_step(app, &browser, &url, "alice").await;
            let (resp, _) = submit_code(app, &browser, &loc, &code).await;
            (browser, resp)
        }
    };
    // Upper case and without dashes: still the code.
    let (browser, resp) = login_with(old[0].replace('-', "").to_uppercase()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("9 recovery codes left"), "{html}");
    let done = continue_from(&app, &browser, &html).await;
    let tokens = redeem(&app, &c, &done, &verifier).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|a| a == "mfa.recovery_code_used")
    );
    // The same recovery code again: refused.
    let (_, resp) = login_with(old[0].clone()).await;
    assert!(resp.text().await.unwrap().contains("not valid"));
    // Regenerate (needs a fresh code) on the account page.
    let html = account
        .get(format!("{}/t/acme/account/2fa", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resp = account
        .post(format!("{}/t/acme/account/2fa", app.base))
        .form(&[
            ("csrf", input(&html, "csrf")),
            ("action", "regenerate".into()),
            ("code", code_at(&secret, now(&app))),
        ])
        .send()
        .await
        .unwrap();
    let new = select(&resp.text().await.unwrap(), ".recovery-code");
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|n| !old.contains(n)));
    // The old set is void, the new one works.
    let (_, resp) = login_with(old[1].clone()).await;
    assert!(resp.text().await.unwrap().contains("not valid"));
    let (_, resp) = login_with(new[0].clone()).await;
    assert!(resp.text().await.unwrap().contains("9 recovery codes left"));
}

async fn a_required_policy_forces_enrolment_and_optional_does_not(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let carol = app.create_user("acme", "carol", PASSWORD).await;
    app.create_user("acme", "dave", PASSWORD).await;
    let t = app.system_token().await;
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    // Optional (the default): no second step for a user without TOTP.
    let alice = app.new_browser();
    let done = password_step(&app, &alice, &url, "alice").await;
    assert!(!done.contains("/login/2fa"), "{done}");
    // A group override makes it required for its members only.
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/workspaces",
            Some(json!({"slug": "ws", "name": "WS"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/workspaces/ws/groups",
            Some(json!({"name": "finance"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = app
        .admin(
            &t,
            Method::PUT,
            &format!("/subscriptions/acme/workspaces/ws/groups/finance/members/{carol}"),
            None,
        )
        .await;
    assert!(s.is_success(), "{s}");
    let (s, b) = app
        .admin(
            &t,
            Method::PUT,
            "/subscriptions/acme/workspaces/ws/groups/finance/mfa-policy",
            Some(json!({"policy": "sometimes"})),
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("policy")),
        "{b}"
    );
    let (s, b) = app
        .admin(
            &t,
            Method::PUT,
            "/subscriptions/acme/workspaces/ws/groups/finance/mfa-policy",
            Some(json!({"policy": "required"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|a| a == "group.mfa_policy_changed")
    );
    let dave = app.new_browser();
    assert!(
        !password_step(&app, &dave, &url, "dave")
            .await
            .contains("/login/2fa")
    );
    let carol_b = app.new_browser();
    let loc = password_step(&app, &carol_b, &url, "carol").await;
    forced_enrolment(&app, &carol_b, &loc, "carol").await;
    // The whole subscription required: dave's existing single-factor session is sent
    // through enrolment before any new code.
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mfa_policy": "required"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.clock.advance(2);
    let resp = dave.get(&url).send().await.unwrap();
    let loc = location(&resp);
    forced_enrolment(&app, &dave, &loc, "dave").await;
}

/// Enrol on the second-factor page of a login: no code is issued before confirmation.
async fn forced_enrolment(app: &TestApp, browser: &reqwest::Client, loc: &str, user: &str) {
    assert!(
        loc.contains("/login/2fa?tx="),
        "forced to the second step: {loc}"
    );
    let html = browser
        .get(format!("{}{loc}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uri = select(&html, "#otpauth-uri")
        .pop()
        .expect("enrolment shows the URI");
    let secret = secret_of(&uri, user);
    assert!(
        !html.contains("name=\"action\" value=\"skip\""),
        "cannot skip"
    );
    // Continuing without confirming does not get a code.
    let (resp, _) = submit_code(app, browser, loc, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (resp, _) = submit_code(app, browser, loc, &code_at(&secret, now(app))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert_eq!(select(&html, ".recovery-code").len(), 10);
    let done = continue_from(app, browser, &html).await;
    assert!(
        done.starts_with("https://c1.example/cb?code=") || done.contains("/consent?tx="),
        "{done}"
    );
}

async fn acr_values_and_max_age_ask_for_the_second_factor_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    // A single-factor session, then enrolment from another browser.
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let first = app
        .browser_login(
            &browser,
            &app.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            PASSWORD,
        )
        .await;
    assert!(first.contains("code="));
    let (secret, _) = enrol(&app, &c, &app.new_browser(), "alice").await;
    // Without acr_values the session is reused as it is.
    let (verifier, challenge) = pkce_pair();
    let plain = location(
        &browser
            .get(app.authorize_url("acme", &c.id, &challenge, &[]))
            .send()
            .await
            .unwrap(),
    );
    let id = claims(
        redeem(&app, &c, &plain, &verifier).await["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        (id["amr"].clone(), id["acr"].clone()),
        (json!(["pwd"]), json!("1fa"))
    );
    // acr_values=2fa with prompt=none cannot ask: interaction_required.
    let (_, challenge) = pkce_pair();
    let silent = location(
        &browser
            .get(app.authorize_url(
                "acme",
                &c.id,
                &challenge,
                &[("acr_values", "2fa"), ("prompt", "none")],
            ))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(
        query_param(&silent, "error").as_deref(),
        Some("interaction_required"),
        "{silent}"
    );
    // acr_values=2fa: the session gives its second factor.
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[("acr_values", "2fa")]);
    let loc = location(&browser.get(&url).send().await.unwrap());
    let (resp, _) = submit_code(&app, &browser, &loc, &code_at(&secret, now(&app))).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let tokens = redeem(&app, &c, &location(&resp), &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (id["amr"].clone(), id["acr"].clone()),
        (json!(["pwd", "otp"]), json!("2fa"))
    );
    let intro = app
        .introspect("acme", &c, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["amr"], json!(["pwd", "otp"]));
    // Now the session has it: no question.
    let (_, challenge) = pkce_pair();
    let again = location(
        &browser
            .get(app.authorize_url("acme", &c.id, &challenge, &[("acr_values", "2fa")]))
            .send()
            .await
            .unwrap(),
    );
    assert!(again.starts_with("https://c1.example/cb?code="), "{again}");
    // Two minutes later, max_age=60: the whole login again, password then code.
    app.clock.advance(120);
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &c.id,
        &challenge,
        &[("acr_values", "2fa"), ("max_age", "60")],
    );
    let loc = password_step(&app, &browser, &url, "alice").await;
    let (resp, _) = submit_code(&app, &browser, &loc, &code_at(&secret, now(&app))).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let id = claims(
        redeem(&app, &c, &location(&resp), &verifier).await["id_token"]
            .as_str()
            .unwrap(),
    );
    assert!(now(&app) - id["auth_time"].as_i64().unwrap() < 10);
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
}

async fn an_admin_sees_and_resets_2fa_and_a_user_turns_it_off_with_a_code(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let bob = app.create_user("acme", "bob", PASSWORD).await;
    let t = app.system_token().await;
    let path = format!("/subscriptions/acme/users/{bob}/mfa");
    let (s, b) = app.admin(&t, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        json!({"enrolled": false, "enrolled_at": null, "recovery_codes_left": 0, "policy": "optional"})
    );
    let account = app.new_browser();
    let (secret, codes) = enrol(&app, &c, &account, "bob").await;
    let (_, b) = app.admin(&t, Method::GET, &path, None).await;
    assert_eq!(
        (b["enrolled"].clone(), b["recovery_codes_left"].clone()),
        (json!(true), json!(10))
    );
    let text = b.to_string();
    assert!(!text.contains(&secret) && !codes.iter().any(|c| text.contains(c)));
    let (s, _) = app
        .admin(&t, Method::GET, "/subscriptions/acme/users/nope/mfa", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Admin reset: audited, and the next login has no second step.
    let (s, _) = app.admin(&t, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(audit_actions(&app).await.iter().any(|a| a == "mfa.reset"));
    let (_, b) = app.admin(&t, Method::GET, &path, None).await;
    assert_eq!(b["enrolled"], false);
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    assert!(
        !password_step(&app, &app.new_browser(), &url, "bob")
            .await
            .contains("/login/2fa")
    );
    // The user turns their own 2FA off: only with a valid code.
    let alice = app.new_browser();
    let (secret, _) = enrol(&app, &c, &alice, "alice").await;
    let html = alice
        .get(format!("{}/t/acme/account/2fa", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let post = |code: String| {
        alice
            .post(format!("{}/t/acme/account/2fa", app.base))
            .form(&[
                ("csrf", input(&html, "csrf")),
                ("action", "disable".into()),
                ("code", code),
            ])
            .send()
    };
    let refused = post("000000".into()).await.unwrap().text().await.unwrap();
    assert!(!select(&refused, "[role=alert]").is_empty(), "{refused}");
    let forged = alice
        .post(format!("{}/t/acme/account/2fa", app.base))
        .form(&[
            ("csrf", "forged"),
            ("action", "disable"),
            ("code", &code_at(&secret, now(&app))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let off = post(code_at(&secret, now(&app)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(off.contains("Two-factor authentication is off"), "{off}");
    assert!(
        audit_actions(&app)
            .await
            .iter()
            .any(|a| a == "mfa.disabled")
    );
}

async fn second_factor_rows_of_one_subscription_do_not_exist_for_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.create_subscription("other").await;
    let (secret, codes) = enrol(&app, &c, &app.new_browser(), "alice").await;
    let t = app.system_token().await;
    let (_, users) = app
        .admin(&t, Method::GET, "/subscriptions/acme/users", None)
        .await;
    let alice = users["items"][0]["id"].as_str().unwrap().to_owned();
    let subs = app.ctx.store.repos().subscriptions();
    let (acme, other) = (
        subs.by_slug("acme").await.unwrap().id,
        subs.by_slug("other").await.unwrap().id,
    );
    let mfa = app.ctx.store.repos().mfa();
    assert!(mfa.totp(&acme, &alice).await.unwrap().is_some());
    // Through the other subscription the same user id has nothing, and nothing changes.
    assert!(mfa.totp(&other, &alice).await.unwrap().is_none());
    assert!(!mfa.advance_step(&other, &alice, i64::MAX).await.unwrap());
    assert_eq!(mfa.recovery_codes_left(&other, &alice).await.unwrap(), 0);
    let hash = auth_server::mfa::recovery::hash(
        &alice,
        &auth_server::mfa::recovery::normalise(&codes[0]).unwrap(),
    );
    assert!(
        !mfa.use_recovery_code(&other, &alice, &hash, 1)
            .await
            .unwrap()
    );
    assert!(!mfa.delete_all(&other, &alice).await.unwrap());
    assert_eq!(mfa.recovery_codes_left(&acme, &alice).await.unwrap(), 10);
    // The secret at rest is not the base32 secret shown at enrolment.
    let row = mfa.totp(&acme, &alice).await.unwrap().unwrap();
    let raw = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &secret).unwrap();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(&row.secret)
        .unwrap();
    assert!(!row.secret.contains(&secret) && !blob.windows(raw.len()).any(|w| w == raw));
    assert!(mfa.advance_step(&acme, &alice, i64::MAX).await.unwrap());
}

async fn the_account_page_needs_a_session_with_a_recent_first_factor(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let page = format!("{}/t/acme/account/2fa", app.base);
    let anonymous = app.new_browser().get(&page).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.text().await.unwrap().contains("not signed in"));
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    app.browser_login(
        &browser,
        &app.authorize_url("acme", &c.id, &challenge, &[]),
        "alice",
        PASSWORD,
    )
    .await;
    let html = browser
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(select(&html, "#otpauth-uri").len(), 1);
    // Five minutes after the password, enrolment asks for a new sign-in first.
    app.clock.advance(301);
    let html = browser
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(select(&html, "#otpauth-uri").is_empty());
    assert!(html.contains("sign in again"), "{html}");
    // A form from another origin is refused.
    let foreign = browser
        .post(&page)
        .header("origin", "https://evil.example")
        .form(&[("csrf", "x"), ("action", "enrol"), ("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
}

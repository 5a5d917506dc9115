//! Two-factor authentication at login, through the HTML pages: enrolment from
//! `id="otpauth-uri"` with codes from an independent TOTP implementation, a code that
//! works once (also across two instances), the attempt lock, recovery codes, and `amr`/
//! `acr` in ID tokens and introspection.

use e2e::totp::*;
use e2e::{Backend, TestApp, on_backends, pkce_pair};
use reqwest::StatusCode;
use serde_json::json;

on_backends!(
    enrolment_then_every_login_needs_a_code_that_works_once,
    a_code_used_at_one_instance_is_refused_at_another,
    five_wrong_codes_lock_and_the_lock_expires,
    a_recovery_code_works_once_and_regeneration_voids_the_old_set
);

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

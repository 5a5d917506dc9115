//! 2FA policies and administration, through the HTML pages and the admin API: required
//! (subscription or group) forces enrolment and optional does not, step-up with
//! `acr_values`/`max_age`, the admin status and reset, turning 2FA off with a code,
//! tenant isolation of the stored rows, and the account page's preconditions.

use base64::Engine;
use e2e::totp::*;
use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(
    a_required_policy_forces_enrolment_and_optional_does_not,
    acr_values_and_max_age_ask_for_the_second_factor_again,
    an_admin_sees_and_resets_2fa_and_a_user_turns_it_off_with_a_code,
    second_factor_rows_of_one_subscription_do_not_exist_for_another,
    the_account_page_needs_a_session_with_a_recent_first_factor
);

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
    let subs = app.ctx.store.subscriptions();
    let (acme, other) = (
        subs.by_slug("acme").await.unwrap().id,
        subs.by_slug("other").await.unwrap().id,
    );
    // Both subscriptions live in the shared database here.
    let db = app.ctx.db(&acme).await.unwrap();
    let mfa = db.repos().mfa();
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

//! Browser sessions: a second `/authorize` skips the login form, `prompt=login` and
//! `max_age` force it again, consent is remembered, logout ends the session and only
//! redirects to a registered `post_logout_redirect_uri`.

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_backends!(
    a_session_skips_the_login_form_until_prompt_or_max_age_asks_again,
    logout_ends_the_session_and_redirects_only_where_registered,
    userinfo_refuses_what_rfc_6750_refuses,
    login_hint_prefills_the_username,
);

async fn first_hop(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &str,
    extra: &[(&str, &str)],
) -> String {
    let (_, challenge) = pkce_pair();
    let resp = browser
        .get(app.authorize_url("acme", client, &challenge, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

async fn a_session_skips_the_login_form_until_prompt_or_max_age_asks_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let first = app
        .browser_login(
            &browser,
            &app.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            "correct horse battery",
        )
        .await;
    assert!(query_param(&first, "code").is_some());
    let second = first_hop(&app, &browser, &c.id, &[]).await;
    assert!(
        second.starts_with("https://c1.example/cb?code="),
        "session and remembered consent: straight back, got {second}"
    );
    let silent = first_hop(&app, &browser, &c.id, &[("prompt", "none")]).await;
    assert!(
        query_param(&silent, "code").is_some(),
        "prompt=none with a session succeeds"
    );
    assert!(
        first_hop(&app, &browser, &c.id, &[("prompt", "login")])
            .await
            .contains("/login?tx=")
    );
    assert!(
        first_hop(&app, &browser, &c.id, &[("prompt", "consent")])
            .await
            .contains("/consent?tx=")
    );
    app.clock.advance(120);
    assert!(
        first_hop(&app, &browser, &c.id, &[("max_age", "60")])
            .await
            .contains("/login?tx=")
    );
    assert!(
        first_hop(&app, &browser, &c.id, &[("max_age", "600")])
            .await
            .starts_with("https://c1.example/cb?code=")
    );
    // id_token_hint: the user's own ID token is honoured, a forged one never logs in silently.
    let t = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let own = first_hop(
        &app,
        &browser,
        &c.id,
        &[
            ("prompt", "none"),
            ("id_token_hint", t["id_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert!(query_param(&own, "code").is_some(), "{own}");
    let mut forged = t["id_token"].as_str().unwrap().to_owned();
    forged.push('x');
    let refused = first_hop(
        &app,
        &browser,
        &c.id,
        &[("prompt", "none"), ("id_token_hint", &forged)],
    )
    .await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("login_required")
    );
    let bad = first_hop(&app, &browser, &c.id, &[("max_age", "-1")]).await;
    assert_eq!(
        query_param(&bad, "error").as_deref(),
        Some("invalid_request")
    );
    // The session cookie is HttpOnly and SameSite=Lax.
    let (_, challenge) = pkce_pair();
    let other = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&other, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    let resp = other
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.clone()),
            ("csrf", csrf.clone()),
            ("username", "alice".into()),
            ("password", "correct horse battery".into()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sid-acme="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

async fn logout_ends_the_session_and_redirects_only_where_registered(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let admin = app.system_token().await;
    let (s, _) = app
        .admin(
            &admin,
            Method::PATCH,
            &format!("/subscriptions/acme/clients/{}", c.id),
            Some(json!({"post_logout_redirect_uris": ["https://c1.example/bye"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    app.browser_login(
        &browser,
        &app.authorize_url("acme", &c.id, &challenge, &[]),
        "alice",
        "correct horse battery",
    )
    .await;
    let resp = browser
        .get(format!(
            "{}/t/acme/logout?client_id={}&post_logout_redirect_uri=https://evil.example/&state=x",
            app.base, c.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "an unregistered target is not followed"
    );
    assert!(resp.headers().get("location").is_none());
    assert!(
        first_hop(&app, &browser, &c.id, &[])
            .await
            .contains("/login?tx="),
        "the session is gone"
    );
    let resp = browser
        .get(format!(
            "{}/t/acme/logout?client_id={}&post_logout_redirect_uri=https://c1.example/bye&state=x",
            app.base, c.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "https://c1.example/bye?state=x");
}

async fn userinfo_refuses_what_rfc_6750_refuses(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let url = format!("{}/t/acme/userinfo", app.base);
    let at = t["access_token"].as_str().unwrap();
    let resp = app.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let resp = app
        .http
        .get(format!("{url}?access_token={at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "never from the query"
    );
    for bad in [
        t["refresh_token"].as_str().unwrap(),
        t["id_token"].as_str().unwrap(),
        "garbage",
    ] {
        let resp = app.http.get(&url).bearer_auth(bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    let resp = app
        .http
        .get(&url)
        .header("authorization", format!("bearer {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
    let resp = app
        .http
        .post(&url)
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "header and body together"
    );
    let svc = app.create_client("acme", json!({"name": "s", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"})).await;
    let (_, cc) = app
        .token(
            "acme",
            &svc.id,
            &svc.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let resp = app
        .http
        .get(&url)
        .bearer_auth(cc["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "a client-credentials token has no user"
    );
}

on_backends!(logout_ends_the_grants_of_the_session_that_lack_offline_access);

async fn logout_ends_the_grants_of_the_session_that_lack_offline_access(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let mut tokens = Vec::new();
    for scope in ["openid profile", "openid profile offline_access"] {
        let (verifier, challenge) = pkce_pair();
        let redirect = app
            .browser_login(
                &browser,
                &app.authorize_url("acme", &c.id, &challenge, &[("scope", scope)]),
                "alice",
                "correct horse battery",
            )
            .await;
        let code = query_param(&redirect, "code").unwrap();
        let (s, t) = app
            .token(
                "acme",
                &c.id,
                &c.secret,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "https://c1.example/cb"),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        tokens.push(t);
    }
    let resp = browser
        .get(format!("{}/t/acme/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, b) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens[0]["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the session-bound grant ended with the session"
    );
    assert_eq!(
        app.introspect("acme", &c, tokens[0]["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    let (s, _) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens[1]["refresh_token"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "offline_access outlives the browser session"
    );
}

/// The value of the login form's `username` field on the page `login` leads to.
async fn username_value(app: &TestApp, browser: &reqwest::Client, login: &str) -> String {
    let html = browser
        .get(format!("{}{login}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("input[name=\"username\"]").unwrap();
    let input = doc.select(&sel).next().expect("a username field");
    // Nothing in the hint may break out of the attribute.
    let script = scraper::Selector::parse("script").unwrap();
    assert!(doc.select(&script).next().is_none(), "{html}");
    input.value().attr("value").unwrap_or_default().to_owned()
}

async fn login_hint_prefills_the_username(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let login = first_hop(&app, &browser, &c.id, &[("login_hint", "alice")]).await;
    assert!(login.contains("/login?tx="), "{login}");
    assert_eq!(username_value(&app, &browser, &login).await, "alice");
    // Without a hint the field is empty; a hostile hint is only ever a value.
    let login = first_hop(&app, &browser, &c.id, &[]).await;
    assert_eq!(username_value(&app, &browser, &login).await, "");
    let evil = "\"><script>alert(1)</script>";
    let login = first_hop(&app, &browser, &c.id, &[("login_hint", evil)]).await;
    assert_eq!(username_value(&app, &browser, &login).await, evil);
}

//! What the authorization and token endpoints refuse, with the exact status and error
//! code (SECURITY.md §1.1, §1.2, §1.6).

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::StatusCode;

on_backends!(
    pkce_is_required_and_plain_is_refused,
    unregistered_or_altered_redirect_uris_show_an_error_page,
    a_wrong_code_verifier_is_invalid_grant,
    a_replayed_code_is_refused_and_revokes_its_tokens,
    an_expired_code_is_invalid_grant,
    a_wrong_client_secret_is_invalid_client_with_a_challenge,
    the_user_can_cancel_and_the_client_learns_access_denied,
    prompt_none_without_a_session_is_login_required,
);

async fn pkce_is_required_and_plain_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let base = format!(
        "{}/t/acme/authorize?response_type=code&client_id={}&redirect_uri=https://c1.example/cb&state=s",
        app.base, c.id
    );
    let (_, ch) = pkce_pair();
    for (suffix, what) in [
        (String::new(), "no challenge"),
        (
            format!("&code_challenge={ch}&code_challenge_method=plain"),
            "plain",
        ),
        (format!("&code_challenge={ch}"), "method omitted"),
        (
            format!("&code_challenge={ch}&code_challenge_method=S512"),
            "S512",
        ),
        (
            "&code_challenge=abc&code_challenge_method=S256".to_owned(),
            "short challenge",
        ),
    ] {
        let resp = app
            .http
            .get(format!("{base}{suffix}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{what}");
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.starts_with("https://c1.example/cb?"), "{what}: {loc}");
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{what}"
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("s"));
        assert_eq!(query_param(&loc, "iss"), Some(app.issuer("acme")));
    }
    let disco: serde_json::Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("acme")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        disco["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

async fn unregistered_or_altered_redirect_uris_show_an_error_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    for v in [
        "https://c1.example/cb/",
        "https://c1.example/cb?x=1",
        "https://c1.example/CB",
        "https://C1.example/cb",
        "https://c1.example:443/cb",
        "https://c1.example/x/../cb",
        "https://c1.example/cbx",
        "https://c1.example.evil.com/cb",
        "https://c1.example@evil.com/cb",
        "http://c1.example/cb",
        "https://evil.com/cb",
        // The rest of SECURITY.md R1: a fragment, an encoded slash, userinfo and
        // fragment tricks that put the registered host after the real one, and the
        // registered URI percent-encoded once more (the query then carries `https%253A…`).
        "https://c1.example/cb#f",
        "https://c1.example/cb%2F",
        "https://evil.com\\@c1.example/cb",
        "https://evil.com#@c1.example/cb",
        "https%3A%2F%2Fc1.example%2Fcb",
    ] {
        let mut url = url::Url::parse(&format!("{}/t/acme/authorize", app.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &c.id)
            .append_pair("redirect_uri", v)
            .append_pair("code_challenge", &ch)
            .append_pair("code_challenge_method", "S256");
        if v.starts_with("https%3A") {
            assert!(
                url.as_str()
                    .contains("redirect_uri=https%253A%252F%252Fc1.example")
            );
        }
        let resp = app.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{v}");
        assert!(
            resp.headers().get("location").is_none(),
            "{v} must not redirect"
        );
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let body = resp.text().await.unwrap();
        assert!(body.contains("role=\"alert\""));
    }
    // Several registered URIs: redirect_uri is required (OAuth 2.1 §4.1.1).
    let resp = app.http.get(format!("{}/t/acme/authorize?response_type=code&client_id={}&code_challenge={ch}&code_challenge_method=S256", app.base, c.id)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // An unknown client never redirects.
    let resp = app.http.get(format!("{}/t/acme/authorize?response_type=code&client_id=nope&redirect_uri=https://c1.example/cb", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
}

async fn code_for(app: &TestApp, c: &e2e::TestClient) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let redirect = app
        .browser_login(&app.new_browser(), &url, "alice", "correct horse battery")
        .await;
    (query_param(&redirect, "code").unwrap(), verifier)
}

async fn redeem(
    app: &TestApp,
    c: &e2e::TestClient,
    code: &str,
    verifier: &str,
) -> (StatusCode, serde_json::Value) {
    app.token(
        "acme",
        &c.id,
        &c.secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn a_wrong_code_verifier_is_invalid_grant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (code, _) = code_for(&app, &c).await;
    let (wrong, _) = pkce_pair();
    let (s, body) = redeem(&app, &c, &code, &wrong).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (code, _) = code_for(&app, &c).await;
    let (s, body) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
            ],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "missing verifier"
    );
}

async fn a_replayed_code_is_refused_and_revokes_its_tokens(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (code, verifier) = code_for(&app, &c).await;
    let (s, first) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    let (s, body) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        app.introspect("acme", &c, at).await,
        serde_json::json!({"active": false})
    );
    let (s, body) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let resp = app
        .http
        .get(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn an_expired_code_is_invalid_grant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (code, verifier) = code_for(&app, &c).await;
    app.clock.advance(61);
    let (s, body) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn a_wrong_client_secret_is_invalid_client_with_a_challenge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (code, verifier) = code_for(&app, &c).await;
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // Unknown client and wrong secret look the same.
    let (s2, b2) = app
        .token(
            "acme",
            "no-such-client",
            "x",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        (s2, b2["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // Two authentication methods at once are refused.
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", c.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

async fn the_user_can_cancel_and_the_client_learns_access_denied(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, challenge) = pkce_pair();
    let browser = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.clone()),
            ("csrf", csrf.clone()),
            ("action", "cancel".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = resp.headers()["location"].to_str().unwrap();
    assert_eq!(query_param(loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(loc, "state").as_deref(), Some("st-1"));
    // A forged CSRF token is refused with 403 and no session.
    let (tx, _) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    let resp = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", "forged"),
            ("username", "alice"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Another browser posting this browser's form (login CSRF) is refused too.
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    let attacker = app.new_browser();
    let resp = attacker
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx),
            ("csrf", csrf),
            ("username", "alice".into()),
            ("password", "correct horse battery".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no session for a forged form"
    );
}

async fn prompt_none_without_a_session_is_login_required(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, challenge) = pkce_pair();
    let resp = app
        .http
        .get(app.authorize_url("acme", &c.id, &challenge, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap();
    assert_eq!(query_param(loc, "error").as_deref(), Some("login_required"));
    // A wrong password shows the one generic message, no redirect.
    let browser = app.new_browser();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    for (user, pw) in [("alice", "wrong"), ("nobody", "correct horse battery")] {
        let resp = browser
            .post(format!("{}/t/acme/login", app.base))
            .form(&[
                ("tx", tx.clone()),
                ("csrf", csrf.clone()),
                ("username", user.into()),
                ("password", pw.into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("role=\"alert\">invalid username or password<"),
            "{body}"
        );
    }
}

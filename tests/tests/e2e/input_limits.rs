//! Input limits with their exact status and error code (SECURITY.md §6.2, §6.6): body
//! caps, the password length cap, parameter count and duplicates, header count, and the
//! one normalisation of login names.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    a_1024_character_password_works_and_longer_ones_are_refused_before_hashing,
    bodies_over_64_kb_are_413_at_token_and_login,
    duplicate_or_too_many_token_parameters_are_invalid_request,
    too_many_headers_are_refused_without_a_server_error,
    unicode_spellings_of_a_name_reach_one_account,
);

async fn login(app: &TestApp, c: &TestClient, user: &str, password: &str) -> StatusCode {
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_1024_character_password_works_and_longer_ones_are_refused_before_hashing(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    // 1,024 four-byte characters: the longest passphrase we promise, 4,096 bytes.
    let long: String = "🔑".repeat(1024);
    app.create_user("acme", "longpw", &long).await;
    assert_eq!(
        login(&app, &c, "longpw", &long).await,
        StatusCode::SEE_OTHER
    );
    // One byte more is refused by the admin API with a field error…
    let t = app.system_token().await;
    let (s, body) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/users",
            Some(json!({"username": "toolong", "password": format!("{long}x")})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "password", "{body}");
    // …and at login is a plain wrong password (never hashed: no CPU to burn).
    app.clock.advance(10);
    assert_eq!(
        login(&app, &c, "longpw", &format!("{long}x")).await,
        StatusCode::OK
    );
}

async fn bodies_over_64_kb_are_413_at_token_and_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let big = "a".repeat(65 * 1024);
    let r = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", big.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A 1 MB password never reaches the hasher.
    let mb = "p".repeat(1024 * 1024);
    assert_eq!(
        login(&app, &c, "alice", &mb).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

async fn token_form(app: &TestApp, c: &TestClient, body: String) -> (StatusCode, Value) {
    let r = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn duplicate_or_too_many_token_parameters_are_invalid_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (s, b) = token_form(
        &app,
        &c,
        "grant_type=client_credentials&grant_type=refresh_token".into(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"], "invalid_request");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("grant_type")
    );
    let (s, b) = token_form(
        &app,
        &c,
        "code=a&code=b&grant_type=authorization_code".into(),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let many: Vec<String> = (0..65).map(|i| format!("x{i}=1")).collect();
    let (s, b) = token_form(&app, &c, many.join("&")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"], "invalid_request");
    assert_eq!(b["error_description"], "more than 64 parameters");
    // Introspection parses its body the same way.
    let r = app
        .http
        .post(format!("{}/t/acme/introspect", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=a&token=b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_request");
}

async fn too_many_headers_are_refused_without_a_server_error(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let mut req = app.http.get(format!(
        "{}/t/acme/.well-known/openid-configuration",
        app.base
    ));
    for i in 0..200 {
        req = req.header(format!("x-h{i}"), "v");
    }
    let s = req.send().await.unwrap().status();
    // actix-http parses at most 96 headers and answers 431 beyond.
    assert_eq!(s, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

async fn unicode_spellings_of_a_name_reach_one_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    // Created as NFC "José" with a ligature; stored once, normalised (NFKC, lower case).
    app.create_user("acme", "Jos\u{e9}.\u{fb01}n", "pw of jose fin")
        .await;
    for spelling in [
        "jose\u{301}.fin",
        "JOS\u{c9}.FIN",
        "ｊｏｓé.ｆｉｎ",
        "jos\u{e9}.\u{fb01}n",
    ] {
        assert_eq!(
            login(&app, &c, spelling, "pw of jose fin").await,
            StatusCode::SEE_OTHER,
            "{spelling}"
        );
    }
    // A second account under another spelling is a conflict, not a new person.
    let t = app.system_token().await;
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/users",
            Some(json!({"username": "JOSE\u{301}.FIN", "password": "another pw"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    // Trailing spaces are not stripped into someone else's name.
    assert_eq!(
        login(&app, &c, "jose\u{301}.fin ", "pw of jose fin").await,
        StatusCode::OK
    );
}

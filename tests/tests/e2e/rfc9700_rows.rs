//! SECURITY.md §1 rows that had no test of their own: codes bound to their client (C3)
//! and redirect URI (C4), opaque high-entropy codes (C7), refresh tokens bound to their
//! client and to client authentication (F3).

use base64::Engine;
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::StatusCode;

on_backends!(
    c3_a_code_redeemed_by_another_client_or_tenant_is_refused,
    c4_a_code_redeemed_with_another_redirect_uri_is_invalid_grant,
    c7_codes_are_long_opaque_and_never_echo_the_challenge,
    f3_a_refresh_token_is_bound_to_its_client_and_to_client_authentication,
);

const PW: &str = "correct horse battery";

async fn code_for(app: &TestApp, c: &TestClient) -> (String, String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let redirect = app
        .browser_login(&app.new_browser(), &url, "alice", PW)
        .await;
    (query_param(&redirect, "code").unwrap(), verifier, redirect)
}

fn redeem_form<'a>(code: &'a str, verifier: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
}

async fn c3_a_code_redeemed_by_another_client_or_tenant_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c1 = app.tenant_with_alice("acme").await;
    let c2 = app.web_client("acme").await;
    let (code, verifier, _) = code_for(&app, &c1).await;
    let form = redeem_form(&code, &verifier, "https://c1.example/cb");
    let (s, b) = app.token("acme", &c2.id, &c2.secret, &form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{b}"
    );
    // A client of tenant B at B's token endpoint, and C1's own credentials at B.
    let cb = app.tenant_with_alice("beta").await;
    let (code, verifier, _) = code_for(&app, &c1).await;
    let form = redeem_form(&code, &verifier, "https://c1.example/cb");
    let (s, b) = app.token("beta", &cb.id, &cb.secret, &form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{b}"
    );
    let (s, b) = app.token("beta", &c1.id, &c1.secret, &form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{b}"
    );
}

async fn c4_a_code_redeemed_with_another_redirect_uri_is_invalid_grant(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (code, verifier, _) = code_for(&app, &c).await;
    // Registered for the client, but not the one the code was issued to.
    let form = redeem_form(&code, &verifier, "http://127.0.0.1/cb");
    let (s, b) = app.token("acme", &c.id, &c.secret, &form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{b}"
    );
}

async fn c7_codes_are_long_opaque_and_never_echo_the_challenge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let redirect = app
        .browser_login(&app.new_browser(), &url, "alice", PW)
        .await;
    assert!(!redirect.contains(&challenge), "{redirect}");
    assert!(!redirect.contains("code_challenge"), "{redirect}");
    let code = query_param(&redirect, "code").unwrap();
    // ≥ 128 bits: at least 22 base64url characters.
    assert!(code.len() >= 22, "{code}");
    if let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&code) {
        let text = String::from_utf8_lossy(&bytes);
        for secret in [challenge.as_str(), c.id.as_str(), "alice", "acme"] {
            assert!(!text.contains(secret), "the code reveals {secret}");
        }
    }
    let form = redeem_form(&code, &verifier, "https://c1.example/cb");
    let (s, _) = app.token("acme", &c.id, &c.secret, &form).await;
    assert_eq!(s, StatusCode::OK);
}

async fn f3_a_refresh_token_is_bound_to_its_client_and_to_client_authentication(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c1 = app.tenant_with_alice("acme").await;
    let c2 = app.web_client("acme").await;
    let tokens = app.code_flow("acme", &c1, "alice", PW).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (s, b) = app.token("acme", &c2.id, &c2.secret, &form).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{b}"
    );
    // The confidential owner without its secret.
    let r = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", c1.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_client");
    // The owner with its secret still refreshes: the refused attempts did not burn it.
    let (s, b) = app.token("acme", &c1.id, &c1.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

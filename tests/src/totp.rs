//! 2FA test helpers: subscription `acme`, codes computed with `totp-lite` (an
//! independent TOTP implementation: neither totp-rs nor the server's code), and the
//! steps of the HTML pages (password form, code form, enrolment on the account page).

use crate::{TestApp, TestClient, pkce_pair, query_param};
use auth_server::clock::Clock;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The password of every 2FA test user.
pub const PASSWORD: &str = "correct horse battery";

/// The code of `secret` (base32) at Unix time `t`, by totp-lite.
pub fn code_at(secret: &str, t: i64) -> String {
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret)
        .expect("base32 secret");
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &key, t as u64)
}

/// The app's clock, in Unix seconds.
pub fn now(app: &TestApp) -> i64 {
    app.clock.now()
}

/// The trimmed text of every element matching `css`.
pub fn select(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

/// The value of the input named `name`.
pub fn input(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("no input {name} in {html}"))
        .to_owned()
}

/// The `Location` header of a redirect.
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// The (unverified) payload of a JWT.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `otpauth://` URI's secret, after checking its label and parameters.
pub fn secret_of(uri: &str, account: &str) -> String {
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
pub async fn password_step(
    app: &TestApp,
    browser: &reqwest::Client,
    url: &str,
    user: &str,
) -> String {
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
pub async fn submit_code(
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
pub async fn continue_from(app: &TestApp, browser: &reqwest::Client, html: &str) -> String {
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
pub async fn enrol(
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

/// Redeem the code of `redirect` at the token endpoint.
pub async fn redeem(app: &TestApp, c: &TestClient, redirect: &str, verifier: &str) -> Value {
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

/// The actions of the subscription `acme`'s latest audit events.
pub async fn audit_actions(app: &TestApp) -> Vec<String> {
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

/// Enrol on the second-factor page of a login: no code is issued before confirmation.
pub async fn forced_enrolment(app: &TestApp, browser: &reqwest::Client, loc: &str, user: &str) {
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

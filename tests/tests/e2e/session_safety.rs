//! Session safety (SECURITY.md §1.5 X1, X2, X7, §1.1 R7, §6.6): login and consent CSRF
//! and `Origin` checks, a fresh session id at every login (no fixation), 303 after
//! credential posts, and a `Host` header that never reaches the issuer or any link.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::StatusCode;
use serde_json::Value;

on_backends!(
    x1_login_without_the_forms_csrf_token_or_from_another_origin_is_403_without_a_session,
    x2_a_cross_origin_consent_post_is_403_and_issues_no_code,
    r7_a_login_answers_303_with_a_fresh_session_id_whatever_cookie_came_in,
    x7_host_and_forwarded_headers_never_reach_the_issuer_or_links,
    x3_x4_x5_the_login_and_consent_pages_forbid_framing_referrers_and_caching,
);

fn hidden(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap()
        .to_owned()
}

async fn post_login(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    post_login_from(app, browser, form, origin, None).await
}

/// A login post with the `Origin` and `Sec-Fetch-Site` a browser would send.
async fn post_login_from(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &[(&str, &str)],
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> reqwest::Response {
    let mut req = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(f) = fetch_site {
        req = req.header("sec-fetch-site", f);
    }
    req.send().await.unwrap()
}

fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sid-acme="))
        .map(|c| {
            c.trim_start_matches("sid-acme=")
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        })
}

async fn x1_login_without_the_forms_csrf_token_or_from_another_origin_is_403_without_a_session(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let browser = app.new_browser();
    let (tx, csrf) = app.open_login_form(&browser, &url).await;
    // Another browser's form: its token is valid, but not for this transaction.
    let other = app.new_browser();
    let (_, other_csrf) = app.open_login_form(&other, &url).await;
    let creds = [
        ("username", "alice"),
        ("password", "correct horse battery"),
        ("action", "login"),
    ];
    // `Origin: null` comes from sandboxed frames and cross-site posts too; only Fetch
    // Metadata saying same-origin (what our no-referrer pages cause) makes it ours.
    for (token, origin, fetch_site) in [
        ("", None, None),
        (other_csrf.as_str(), None, None),
        (csrf.as_str(), Some("https://evil.example"), None),
        (csrf.as_str(), Some("null"), None),
        (csrf.as_str(), Some("null"), Some("cross-site")),
        (csrf.as_str(), Some("null"), Some("same-site")),
    ] {
        let mut form = vec![("tx", tx.as_str())];
        if !token.is_empty() {
            form.push(("csrf", token));
        }
        form.extend_from_slice(&creds);
        let r = post_login_from(&app, &browser, &form, origin, fetch_site).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{token:?} {origin:?} {fetch_site:?}"
        );
        assert_eq!(session_cookie(&r), None);
    }
    // The other browser cannot post this browser's transaction either (bound to it).
    let mut form = vec![("tx", tx.as_str()), ("csrf", csrf.as_str())];
    form.extend_from_slice(&creds);
    let r = post_login(&app, &other, &form, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The right token from our own origin works, and so does a real browser's post
    // from our no-referrer page (`Origin: null`, `Sec-Fetch-Site: same-origin`).
    let r = post_login(&app, &browser, &form, Some(&app.public)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let fresh = app.new_browser();
    let (tx, csrf) = app.open_login_form(&fresh, &url).await;
    let mut form = vec![("tx", tx.as_str()), ("csrf", csrf.as_str())];
    form.extend_from_slice(&creds);
    let r = post_login_from(&app, &fresh, &form, Some("null"), Some("same-origin")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn login_to_consent(app: &TestApp, c: &TestClient, browser: &reqwest::Client) -> String {
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let (tx, csrf) = app.open_login_form(browser, &url).await;
    let r = post_login(
        app,
        browser,
        &[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("action", "login"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut loc = r.headers()["location"].to_str().unwrap().to_owned();
    // Through /authorize to the consent page.
    for _ in 0..3 {
        if loc.contains("/consent") {
            break;
        }
        let next = if loc.starts_with('/') {
            format!("{}{loc}", app.base)
        } else {
            loc.clone()
        };
        let r = browser.get(next).send().await.unwrap();
        loc = r.headers()["location"].to_str().unwrap().to_owned();
    }
    assert!(loc.contains("/consent"), "{loc}");
    loc
}

async fn x2_a_cross_origin_consent_post_is_403_and_issues_no_code(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let consent = login_to_consent(&app, &c, &browser).await;
    let html = browser
        .get(format!("{}{consent}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (tx, csrf) = (hidden(&html, "tx"), hidden(&html, "csrf"));
    let post = |origin: Option<&'static str>, token: String| {
        let mut req = browser.post(format!("{}/t/acme/consent", app.base)).form(&[
            ("tx", tx.clone()),
            ("csrf", token),
            ("decision", "allow".into()),
        ]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let r = post(Some("https://evil.example"), csrf.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("location").is_none());
    let r = post(None, "forged".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The genuine post is a 303 (never 307/308) carrying the code.
    let r = post(None, csrf.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(query_param(&loc, "code").is_some(), "{loc}");
    // The consent handle is single-use: replaying it is an error page, no code.
    let r = post(None, csrf).await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(r.headers().get("location").is_none());
}

async fn r7_a_login_answers_303_with_a_fresh_session_id_whatever_cookie_came_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let planted = "attacker-chosen-session-id-0123456789abcdef";
    let mut seen = Vec::new();
    for _ in 0..2 {
        // The browser already carries a session cookie an attacker planted.
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("sid-acme={planted}; Path=/"),
            &app.base.parse().unwrap(),
        );
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar)
            .build()
            .unwrap();
        let (_, challenge) = pkce_pair();
        let url = app.authorize_url("acme", &c.id, &challenge, &[]);
        let (tx, csrf) = app.open_login_form(&browser, &url).await;
        let r = browser
            .post(format!("{}/t/acme/login", app.base))
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "correct horse battery"),
                ("action", "login"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let sid = session_cookie(&r).expect("a session cookie is set");
        assert_ne!(sid, planted);
        assert!(sid.len() >= 32, "{sid}");
        let set = r.headers().get_all("set-cookie");
        let line = set
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|l| l.starts_with("sid-acme="))
            .unwrap();
        assert!(line.contains("HttpOnly"), "{line}");
        assert!(line.contains("SameSite=Lax"), "{line}");
        assert!(line.contains("Path=/"), "{line}");
        seen.push(sid);
    }
    assert_ne!(seen[0], seen[1], "every login gets its own session id");
    // The planted id is no session: prompt=none still needs a login.
    let (_, challenge) = pkce_pair();
    let r = app
        .new_browser()
        .get(app.authorize_url("acme", &c.id, &challenge, &[("prompt", "none")]))
        .header("cookie", format!("sid-acme={planted}"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap();
    assert_eq!(query_param(loc, "error").as_deref(), Some("login_required"));
}

async fn x7_host_and_forwarded_headers_never_reach_the_issuer_or_links(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let forged = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "host=evil.example;proto=https"),
        ("x-forwarded-for", "1.2.3.4"),
    ];
    let mut req = app.http.get(format!(
        "{}/t/acme/.well-known/openid-configuration",
        app.base
    ));
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let meta: Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], app.issuer("acme"));
    for (k, v) in meta.as_object().unwrap() {
        if let Some(s) = v.as_str() {
            assert!(!s.contains("evil.example"), "{k}: {s}");
        }
    }
    // The authorization redirect and the login page's links and form.
    let (_, challenge) = pkce_pair();
    let mut req = app
        .new_browser()
        .get(app.authorize_url("acme", &c.id, &challenge, &[]));
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.starts_with("/t/acme/") || loc.starts_with(&app.public),
        "{loc}"
    );
    let mut req = app.new_browser().get(format!("{}{loc}", app.base));
    for (k, v) in forged {
        req = req.header(k, v);
    }
    let html = req.send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("evil.example"), "{html}");
}

/// SECURITY.md X3 (clickjacking), X4 (referrer) and X5 (no caching) on the two pages a
/// user types into.
fn assert_page_headers(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
}

async fn x3_x4_x5_the_login_and_consent_pages_forbid_framing_referrers_and_caching(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let resp = browser
        .get(app.authorize_url("acme", &c.id, &challenge, &[]))
        .send()
        .await
        .unwrap();
    let login = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.contains("/login?tx="), "{login}");
    let resp = browser
        .get(format!("{}{login}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(&resp, "login page");
    let consent = login_to_consent(&app, &c, &browser).await;
    let resp = browser
        .get(format!("{}{consent}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_page_headers(&resp, "consent page");
}

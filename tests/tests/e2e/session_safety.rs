//! Session safety (SECURITY.md §1.5 X1–X5, X7, X8, §1.1 R7, §6.6): login and consent CSRF
//! and `Origin` checks, a fresh session id at every login (no fixation), 303 after
//! credential posts, a `Host` header that never reaches the issuer or any link, and the
//! hardening headers of every page a user reads or types into.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param, totp};
use reqwest::StatusCode;
use serde_json::Value;

on_backends!(
    x1_login_without_the_forms_csrf_token_or_from_another_origin_is_403_without_a_session,
    x2_a_cross_origin_consent_post_is_403_and_issues_no_code,
    r7_a_login_answers_303_with_a_fresh_session_id_whatever_cookie_came_in,
    x7_host_and_forwarded_headers_never_reach_the_issuer_or_links,
    x3_x4_x5_x8_the_login_consent_totp_account_and_error_pages_forbid_framing_referrers_and_caching,
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

/// SECURITY.md X3 (clickjacking), X4 (referrer), X5 (no caching) and X8 (HSTS, no MIME
/// sniffing) on a page a user reads or types into.
fn assert_page_headers(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    assert!(
        h["content-type"].to_str().unwrap().starts_with("text/html"),
        "{what}"
    );
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    let hsts = h["strict-transport-security"].to_str().unwrap();
    let max_age: u64 = hsts
        .split(';')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: {hsts}"));
    assert!(max_age >= 31_536_000, "{what}: a year at least: {hsts}");
}

/// SECURITY.md X5 and X8 on a JSON answer that carries a token or claims, with the
/// rest of the OWASP REST set (no framing, nothing loads) and without the pages' longer
/// CSP and referrer policy, which a JSON document has no use for.
fn assert_api_headers(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{what}"
    );
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(
        h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
        "{what}"
    );
    assert!(h.get("referrer-policy").is_none(), "{what}");
    // RFC 6749 §5.1 asks token responses for `Pragma: no-cache` as well.
    assert_eq!(
        h.get("pragma").map(|v| v.to_str().unwrap()),
        (what == "token").then_some("no-cache"),
        "{what}"
    );
    assert!(
        h["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="),
        "{what}"
    );
}

/// [`assert_page_headers`], then SECURITY.md X4's second half: the page loads and links
/// nothing from another origin (every `src`, `href` and `action` is a same-origin path,
/// a fragment or inline `data:`), so no third party learns the page was shown. Returns
/// the HTML.
async fn assert_page(app: &TestApp, resp: reqwest::Response, what: &str) -> String {
    assert_page_headers(&resp, what);
    let html = resp.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("[src], [href], [action]").unwrap();
    for e in doc.select(&sel) {
        for attr in ["src", "href", "action"] {
            let Some(v) = e.value().attr(attr) else {
                continue;
            };
            let ours = (v.starts_with('/') && !v.starts_with("//"))
                || v.starts_with('#')
                || v.starts_with("data:")
                || v.starts_with(&format!("{}/", app.base))
                || v.starts_with(&format!("{}/", app.public));
            assert!(ours, "{what}: {attr}=\"{v}\" leaves the origin");
        }
    }
    html
}

async fn x3_x4_x5_x8_the_login_consent_totp_account_and_error_pages_forbid_framing_referrers_and_caching(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (verifier, challenge) = pkce_pair();
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
    assert_page(&app, resp, "login page").await;
    let consent = login_to_consent(&app, &c, &browser).await;
    let resp = browser
        .get(format!("{}{consent}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page(&app, resp, "consent page").await;

    // A signed-in browser (through login and consent).
    let browser = app.new_browser();
    let done = app
        .browser_login(
            &browser,
            &app.authorize_url("acme", &c.id, &challenge, &[]),
            "alice",
            totp::PASSWORD,
        )
        .await;
    assert!(query_param(&done, "code").is_some(), "{done}");

    // X5 and X8 beyond the pages: the token, introspection and userinfo answers.
    let code = query_param(&done, "code").unwrap();
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_api_headers(&resp, "token");
    let t: Value = resp.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let resp = app
        .http
        .post(format!("{}/t/acme/introspect", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_api_headers(&resp, "introspect");
    let resp = app
        .http
        .get(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_api_headers(&resp, "userinfo");

    // The account pages: the applications list, the 2FA enrolment page (its otpauth URI
    // and QR code are a secret) and the recovery codes it shows.
    let account = |path: &str| format!("{}/t/acme/account/{path}", app.base);
    let resp = browser.get(account("consents")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page(&app, resp, "account applications page").await;
    let resp = browser.get(account("2fa")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = assert_page(&app, resp, "2FA enrolment page").await;
    let uri = totp::select(&html, "#otpauth-uri")
        .pop()
        .expect("otpauth URI");
    let secret = totp::secret_of(&uri, "alice");
    let resp = browser
        .post(account("2fa"))
        .form(&[
            ("csrf", totp::input(&html, "csrf")),
            ("action", "enrol".into()),
            ("code", totp::code_at(&secret, totp::now(&app))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = assert_page(&app, resp, "recovery codes page").await;
    assert_eq!(totp::select(&html, ".recovery-code").len(), 10, "{html}");

    // The TOTP code page of the next login (the enrolment's step is spent: move on).
    app.clock.advance(30);
    let browser = app.new_browser();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let loc = totp::password_step(&app, &browser, &url, "alice").await;
    assert!(loc.contains("/t/acme/login/2fa?tx="), "{loc}");
    let resp = browser
        .get(format!("{}{loc}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page(&app, resp, "TOTP code page").await;

    // The error pages of requests that must not be redirected: an altered redirect URI
    // (SECURITY.md R1) and an unknown client (R5).
    let altered = app
        .authorize_url("acme", &c.id, &challenge, &[])
        .replace("c1.example%2Fcb", "c1.example%2Fcb%2F");
    assert!(altered.contains("cb%2F"), "{altered}");
    let unknown = app.authorize_url("acme", "no-such-client", &challenge, &[]);
    for (url, what) in [(altered, "R1 error page"), (unknown, "R5 error page")] {
        let resp = browser.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(resp.headers().get("location").is_none(), "{what}");
        let html = assert_page(&app, resp, what).await;
        assert!(html.contains("role=\"alert\""), "{what}: {html}");
    }
}

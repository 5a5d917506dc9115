//! Upstream OIDC SSO against a real node-oidc-provider started per test: the login page
//! links to the connection, the round trip provisions the user once, upstream
//! `amr`/`acr` reach our ID token (with `fed`), groups map to workspace groups, and
//! forged callbacks (wrong or replayed state, replayed code, ID token for another
//! audience or with another nonce, another connection's path) and a cancel at the
//! upstream end on an error page.

use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use tokio::io::AsyncBufReadExt;

on_backends!(
    sso_round_trip_provisions_once_and_carries_upstream_mfa,
    forged_or_cancelled_callbacks_end_on_an_error_page,
    a_claimed_email_domain_on_the_login_form_goes_to_its_sso,
    upstream_mfa_meets_a_required_policy_and_a_single_factor_does_not,
    an_upstream_over_https_needs_its_ca_and_then_signs_users_in,
);

pub(crate) struct Upstream {
    pub(crate) issuer: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

impl Upstream {
    pub(crate) async fn start(redirects: &[String]) -> Option<Upstream> {
        Self::start_with(redirects, None).await
    }

    /// With `tls = (certificate, key, CA)` the upstream serves HTTPS only (and the test's
    /// own client trusts the CA).
    async fn start_with(
        redirects: &[String],
        tls: Option<(&Path, &Path, &Path)>,
    ) -> Option<Upstream> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        if !e2e::node_package("oidc-provider") {
            return None;
        }
        let mut node = tokio::process::Command::new("node");
        let mut http = reqwest::Client::builder();
        if let Some((cert, key, ca)) = tls {
            node.env("TLS_CERT", cert).env("TLS_KEY", key);
            let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
            http = http.add_root_certificate(ca);
        }
        let mut child = node
            .arg(dir.join("node/upstream-idp.mjs"))
            .env("CLIENT_ID", "auth-server")
            .env("CLIENT_SECRET", "upstream-client-secret")
            .env("REDIRECT_URIS", redirects.join(","))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("upstream IdP did not start")
            .unwrap()
            .unwrap_or_default();
        let issuer = line
            .strip_prefix("READY ")
            .expect("READY line")
            .trim()
            .to_owned();
        // Keep draining stdout: a closed pipe would kill the IdP on its next write.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Upstream {
            issuer,
            http: http.build().unwrap(),
            _child: child,
        })
    }

    pub(crate) async fn set(&self, what: &str, value: &str) {
        let key = if what == "mode" { "value" } else { "sub" };
        let r = self
            .http
            .get(format!("{}/__test/{what}?{key}={value}", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

async fn setup(app: &TestApp) -> Option<(TestClient, String, Upstream)> {
    app.create_subscription("acme").await;
    let client = app.web_client("acme").await;
    let callbacks =
        ["upstream", "other"].map(|n| format!("{}/sso/{n}/callback", app.issuer("acme")));
    let up = Upstream::start(&callbacks).await?;
    let t = app.system_token().await;
    app.admin(
        &t,
        Method::POST,
        "/subscriptions/acme/workspaces",
        Some(json!({"slug": "main", "name": "Main"})),
    )
    .await;
    app.admin(
        &t,
        Method::POST,
        "/subscriptions/acme/workspaces/main/groups",
        Some(json!({"name": "admins"})),
    )
    .await;
    for name in ["upstream", "other"] {
        let (s, b) = app
            .admin(&t, Method::POST, "/subscriptions/acme/connections", Some(json!({
                "name": name, "kind": "oidc", "issuer": up.issuer, "client_id": "auth-server",
                "client_secret": "upstream-client-secret", "scopes": ["email", "profile", "groups"],
                "claims": {"email": "email", "name": "name", "department": "department"},
                "groups_claim": "groups",
                "group_mappings": [{"directory_group": "sso-admins", "workspace": "main", "group": "admins"}],
            })))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    Some((client, t, up))
}

/// Where a hop leads: an absolute URL.
pub(crate) fn absolute(base: &str, current: &str, location: &str) -> String {
    url::Url::parse(current)
        .or_else(|_| url::Url::parse(base))
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// Start at `/authorize`, click the SSO link, and follow redirects until our callback is
/// reached (returned unvisited when `stop_at_callback`) or the client gets its answer.
async fn follow(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &TestClient,
    stop_at_callback: bool,
) -> (String, Option<(StatusCode, String)>) {
    follow_via(app, browser, client, "upstream", stop_at_callback).await
}

/// [`follow`] through the login page's link to `connection`.
pub(crate) async fn follow_via(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &TestClient,
    connection: &str,
    stop_at_callback: bool,
) -> (String, Option<(StatusCode, String)>) {
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &client.id, &challenge, &[("nonce", "our-nonce")]);
    let r = browser.get(&url).send().await.unwrap();
    let login = absolute(&app.base, &url, r.headers()["location"].to_str().unwrap());
    let html = browser
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse(&format!("a[data-connection=\"{connection}\"]")).unwrap();
    let href = doc
        .select(&sel)
        .next()
        .expect("SSO link on the login page")
        .value()
        .attr("href")
        .unwrap()
        .to_owned();
    let mut next = absolute(&app.base, &login, &href);
    let callback = format!("{}/sso/{connection}/callback", app.issuer("acme"));
    for _ in 0..20 {
        if next.starts_with("https://c1.example/") {
            return (next, None);
        }
        if stop_at_callback && next.starts_with(&callback) {
            return (next, None);
        }
        let r = browser.get(&next).send().await.unwrap();
        let status = r.status();
        if status.is_redirection() {
            let loc = r.headers()["location"].to_str().unwrap().to_owned();
            next = absolute(&app.base, &next, &loc);
            continue;
        }
        let body = r.text().await.unwrap();
        if status == StatusCode::OK && next.contains("/consent") {
            let tx = hidden(&body, "tx");
            let csrf = hidden(&body, "csrf");
            let r = browser
                .post(format!("{}/t/acme/consent", app.base))
                .form(&[
                    ("tx", tx.as_str()),
                    ("csrf", csrf.as_str()),
                    ("decision", "allow"),
                ])
                .send()
                .await
                .unwrap();
            next = absolute(&app.base, &next, r.headers()["location"].to_str().unwrap());
            continue;
        }
        return (next, Some((status, body)));
    }
    panic!("too many redirects");
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    doc.select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_owned()
}

pub(crate) fn alert(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("[role=alert]").unwrap();
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect())
        .unwrap_or_default()
}

async fn sso_round_trip_provisions_once_and_carries_upstream_mfa(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some((client, t, _up)) = setup(&app).await else {
        return;
    };
    // The diagnosis fetches the upstream's discovery document.
    let (_, list) = app
        .admin(&t, Method::GET, "/subscriptions/acme/connections", None)
        .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["client_secret"], json!({"set": true}));
    let (_, d) = app
        .admin(
            &t,
            Method::POST,
            &format!("/subscriptions/acme/connections/{id}/test"),
            None,
        )
        .await;
    assert_eq!(d["ok"], true, "{d}");
    assert_eq!(d["steps"][0]["stage"], "discovery");
    let browser = app.new_browser();
    // Drive the flow with a known PKCE pair to redeem the code.
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &client.id, &challenge, &[("nonce", "our-nonce")]);
    let r = browser.get(&url).send().await.unwrap();
    let login = absolute(&app.base, &url, r.headers()["location"].to_str().unwrap());
    let html = browser
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-connection=\"upstream\""), "{html}");
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("a[data-connection=\"upstream\"]").unwrap();
    let mut next = absolute(
        &app.base,
        &login,
        doc.select(&sel)
            .next()
            .unwrap()
            .value()
            .attr("href")
            .unwrap(),
    );
    let mut hops = 0;
    while !next.starts_with("https://c1.example/") {
        hops += 1;
        assert!(hops < 20, "stuck at {next}");
        let r = browser.get(&next).send().await.unwrap();
        if r.status().is_redirection() {
            next = absolute(&app.base, &next, r.headers()["location"].to_str().unwrap());
            continue;
        }
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(
            status == StatusCode::OK && next.contains("/consent"),
            "{status} at {next}: {body}"
        );
        let r = browser
            .post(format!("{}/t/acme/consent", app.base))
            .form(&[
                ("tx", hidden(&body, "tx").as_str()),
                ("csrf", hidden(&body, "csrf").as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        next = absolute(&app.base, &next, r.headers()["location"].to_str().unwrap());
    }
    let code = query_param(&next, "code").unwrap();
    let (s, tokens) = app
        .token(
            "acme",
            &client.id,
            &client.secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://c1.example/cb"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    use base64::Engine;
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for m in ["pwd", "otp", "fed"] {
        assert!(amr.contains(&m), "{claims}");
    }
    // Our `acr` is our own level: the upstream's `otp` (a trusted second factor) makes
    // the login `2fa`; the upstream's own `acr` value only counts towards it.
    assert_eq!(claims["acr"], "2fa", "{claims}");
    assert_eq!(claims["nonce"], "our-nonce");
    let sub = claims["sub"].as_str().unwrap().to_owned();

    // The user was created just in time, with mapped claims and groups.
    let (_, u) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{sub}"),
            None,
        )
        .await;
    assert_eq!(u["username"], "alice.up", "{u}");
    assert_eq!(u["email"], "alice@upstream.example");
    assert_eq!(u["attributes"]["department"], "finance");
    let (_, m) = app
        .admin(
            &t,
            Method::GET,
            "/subscriptions/acme/workspaces/main/groups/admins/members",
            None,
        )
        .await;
    assert_eq!(m["items"][0]["user_id"], sub.as_str(), "{m}");

    // A second login (another browser) reuses the same user.
    let (redirect, err) = follow(&app, &app.new_browser(), &client, false).await;
    assert!(err.is_none(), "{err:?}");
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let (_, list) = app
        .admin(&t, Method::GET, "/subscriptions/acme/users", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, links) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{sub}/links"),
            None,
        )
        .await;
    assert_eq!(links["items"][0]["external_id"], "u-alice");
}

async fn forged_or_cancelled_callbacks_end_on_an_error_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some((client, _t, up)) = setup(&app).await else {
        return;
    };

    // Wrong state: refused, and the genuine callback still works afterwards.
    let browser = app.new_browser();
    let (callback, _) = follow(&app, &browser, &client, true).await;
    let state = query_param(&callback, "state").unwrap();
    let forged = callback.replace(&format!("state={state}"), "state=forged-state");
    let r = browser.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(alert(&r.text().await.unwrap()).contains("not valid"));
    let r = browser.get(&callback).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    // The same callback again (replayed state and code): refused.
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(alert(&r.text().await.unwrap()).contains("not valid"));

    // A used code under a fresh state: the upstream refuses it, we show an error page.
    let browser2 = app.new_browser();
    let (fresh, _) = follow(&app, &browser2, &client, true).await;
    let old_code = query_param(&callback, "code").unwrap();
    let new_code = query_param(&fresh, "code").unwrap();
    let replayed = fresh.replace(&format!("code={new_code}"), &format!("code={old_code}"));
    let r = browser2.get(&replayed).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(alert(&r.text().await.unwrap()).contains("could not complete"));

    // The response of one connection delivered to another connection's callback.
    let browser3 = app.new_browser();
    let (cb, _) = follow(&app, &browser3, &client, true).await;
    let r = browser3
        .get(cb.replace("/sso/upstream/callback", "/sso/other/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A foreign `iss` (RFC 9207) is refused too.
    let (cb, _) = follow(&app, &browser3, &client, true).await;
    let mut u = url::Url::parse(&cb).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let iss = k == "iss";
            (
                k.into_owned(),
                if iss {
                    "https://evil.example".into()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if u.query_pairs().any(|(k, _)| k == "iss") {
        let r = browser3.get(u.as_str()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    // ID tokens validly signed but for another audience, or with another nonce.
    for (mode, _) in [("wrong-aud", ()), ("wrong-nonce", ())] {
        up.set("mode", mode).await;
        let (_, err) = follow(&app, &app.new_browser(), &client, false).await;
        let (status, body) = err.unwrap_or_else(|| panic!("{mode} was accepted"));
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{mode}: {body}");
        assert!(
            alert(&body).contains("could not be verified"),
            "{mode}: {body}"
        );
    }

    // The user cancels at the upstream.
    up.set("mode", "cancel").await;
    let (_, err) = follow(&app, &app.new_browser(), &client, false).await;
    let (status, body) = err.expect("cancel must not log in");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(alert(&body).contains("cancelled"), "{body}");
    up.set("mode", "normal").await;
    let (ok, err) = follow(&app, &app.new_browser(), &client, false).await;
    assert!(err.is_none() && ok.contains("code="), "{err:?}");
    // Each refusal is a security event.
    let t = app.system_token().await;
    let (_, audit) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    let text = audit.to_string();
    for reason in [
        "invalid_state",
        "upstream_error",
        "invalid_id_token",
        "upstream_denied",
    ] {
        assert!(text.contains(reason), "no login.failed with {reason}");
    }
}

async fn a_claimed_email_domain_on_the_login_form_goes_to_its_sso(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some((client, t, up)) = setup(&app).await else {
        return;
    };
    let (_, list) = app
        .admin(&t, Method::GET, "/subscriptions/acme/connections", None)
        .await;
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "upstream")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/acme/connections/{id}"),
            Some(json!({"domains": ["upstream.example"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let browser = app.new_browser();
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &client.id, &challenge, &[]);
    let (tx, csrf) = app.open_login_form(&browser, &url).await;
    let r = browser
        .post(format!("{}/t/acme/login", app.base))
        .form(&[
            ("tx", tx.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice@Upstream.Example"),
            ("password", ""),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(loc, format!("/t/acme/sso/upstream?tx={tx}"));
    let r = browser
        .get(format!("{}{loc}", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&up.issuer)
    );

    // A disabled connection disappears from the login page and its SSO URL refuses.
    let (s, _) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/acme/connections/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let browser = app.new_browser();
    let url = app.authorize_url("acme", &client.id, &challenge, &[]);
    let (tx, _) = app.open_login_form(&browser, &url).await;
    let html = browser
        .get(format!("{}/t/acme/login?tx={tx}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("data-connection=\"upstream\"")
            && html.contains("data-connection=\"other\""),
        "{html}"
    );
    let r = browser
        .get(format!("{}/t/acme/sso/upstream?tx={tx}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// Issue 5, "2FA through the SSO provider": with a required 2FA policy, an upstream
/// login whose `amr` shows a second factor gets a code without our TOTP step; one with
/// only `pwd` is sent through our own second factor (enrolment, as the user has none).
async fn upstream_mfa_meets_a_required_policy_and_a_single_factor_does_not(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some((client, t, up)) = setup(&app).await else {
        return;
    };
    let (s, b) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mfa_policy": "required"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (end, page) = follow(&app, &app.new_browser(), &client, false).await;
    assert!(page.is_none(), "{end}: {page:?}");
    assert!(query_param(&end, "code").is_some(), "{end}");

    up.set("mode", "pwd-only").await;
    let (end, page) = follow(&app, &app.new_browser(), &client, false).await;
    let (status, body) = page.expect("our second-factor page, not the client");
    assert_eq!(status, StatusCode::OK, "{end}");
    assert!(end.contains("/login/2fa"), "{end}");
    assert!(body.contains("otpauth-uri"), "{body}");
}

/// `certs/make-dev-certs.sh` into `out` (a CA, and a certificate for 127.0.0.1 it
/// issued); `false` when openssl is missing.
fn dev_certs(out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    std::process::Command::new("bash")
        .arg(script)
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An upstream serving HTTPS with a certificate from a private CA: without the CA the
/// connection test fails at its `tls` step (and a login cannot start); with the CA in the
/// connection's `ca_pem`, discovery, the code exchange, JWKS and userinfo all go over
/// verified TLS and the user signs in.
async fn an_upstream_over_https_needs_its_ca_and_then_signs_users_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    if !dev_certs(certs.path()) {
        e2e::skip("openssl");
        return;
    }
    let (cert, key, ca) = (
        certs.path().join("server.pem"),
        certs.path().join("server-key.pem"),
        certs.path().join("ca.pem"),
    );
    app.create_subscription("acme").await;
    let client = app.web_client("acme").await;
    let callbacks = [format!("{}/sso/upstream/callback", app.issuer("acme"))];
    let Some(up) = Upstream::start_with(&callbacks, Some((&cert, &key, &ca))).await else {
        return;
    };
    assert!(up.issuer.starts_with("https://127.0.0.1:"), "{}", up.issuer);
    let t = app.system_token().await;
    let (s, created) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/connections",
            Some(json!({
                "name": "upstream", "kind": "oidc", "issuer": up.issuer, "client_id": "auth-server",
                "client_secret": "upstream-client-secret", "scopes": ["email"],
                "claims": {"email": "email"},
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let path = format!(
        "/subscriptions/acme/connections/{}",
        created["id"].as_str().unwrap()
    );

    // The system roots do not know the private CA.
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(d["ok"], false, "{d}");
    let last = d["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(last["stage"], "tls", "{d}");
    assert!(last["message"].as_str().unwrap().contains("ca_pem"), "{d}");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let (at, answer) = follow(&app, &browser, &client, false).await;
    assert!(
        !at.starts_with("https://c1.example/"),
        "no login without trust"
    );
    let (status, page) = answer.expect("an error page");
    assert!(
        page.contains("could not complete the sign-in"),
        "{status} at {at}: {page}"
    );

    // Trusted through the connection's own CA.
    let pem = std::fs::read_to_string(&ca).unwrap();
    let (s, b) = app
        .admin(&t, Method::PATCH, &path, Some(json!({"ca_pem": pem})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, d) = app
        .admin(&t, Method::POST, &format!("{path}/test"), None)
        .await;
    assert_eq!(d["ok"], true, "{d}");
    let stages: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["tls", "discovery"]);
    let (at, answer) = follow(&app, &browser, &client, false).await;
    assert!(at.starts_with("https://c1.example/cb"), "{at}: {answer:?}");
    assert!(query_param(&at, "code").is_some(), "{at}");
}

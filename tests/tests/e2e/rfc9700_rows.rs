//! SECURITY.md rows that had no test of their own, each named after its row: §1 R4, R6,
//! R8, P3, C3, C4, C7, F3, F6, X6, A4, Z4; §5.1 T5, T6, T7, T9, T10; and the §6.1
//! `/authorize` bad inputs not covered elsewhere (`s6_1_…`).

use base64::Engine;
use e2e::{Backend, TestApp, TestClient, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    c3_a_code_redeemed_by_another_client_or_tenant_is_refused,
    c4_a_code_redeemed_with_another_redirect_uri_is_invalid_grant,
    c7_codes_are_long_opaque_and_never_echo_the_challenge,
    f3_a_refresh_token_is_bound_to_its_client_and_to_client_authentication,
    r4_several_registered_uris_require_redirect_uri_and_a_single_one_is_used,
    x6_authorize_never_answers_cors_and_no_endpoint_allows_any_origin_with_credentials,
    a4_a_client_authenticates_only_with_its_registered_method,
    t5_a_client_cannot_revoke_a_token_it_does_not_own,
    t7_a_session_at_one_tenant_is_no_session_at_another,
    t9_a_tenant_admin_cannot_escalate_or_read_secrets,
    z4_client_credentials_tokens_carry_no_user_and_say_they_are_a_clients,
    f6_concurrent_refreshes_of_one_token_yield_one_successor,
    s6_1_bad_clients_and_redirect_uris_get_the_error_page_without_header_injection,
    s6_1_bad_parameters_get_the_listed_error_redirect_with_state_and_iss,
    s6_1_ignored_parameters_and_post_succeed_and_long_urls_never_crash,
    s6_1_state_and_nonce_come_back_exactly_and_pages_escape_reflected_values,
    s6_1_prompt_none_and_id_token_hint_never_log_in_silently,
    t6_a_token_of_one_tenant_is_no_token_at_another_tenants_userinfo_or_hint,
    t10_unknown_foreign_and_disabled_clients_are_indistinguishable,
    p3_verifiers_of_the_wrong_length_or_alphabet_never_redeem,
    r6_login_never_forwards_to_a_return_to_and_error_pages_never_auto_forward,
    a6_a7_grants_a_client_is_not_registered_for_and_legacy_flows_are_refused,
);

pub(crate) const PW: &str = "correct horse battery";

/// R8 is configuration, not state: no backend involved.
#[test]
fn r8_a_plain_http_issuer_is_refused_unless_loopback_or_dev_mode() {
    use auth_server::config::Settings;
    let load = |pairs: &[(&str, &str)]| {
        let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::from_sources(None, &env.collect())
    };
    for url in [
        "http://as.example",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.evil.example",
    ] {
        let e = load(&[("AUTH_PUBLIC_URL", url)]).expect_err(url);
        assert_eq!(e.var, "AUTH_PUBLIC_URL", "{url}");
        assert!(e.reason.contains("plain http"), "{url}: {e}");
        // Development may opt in, explicitly.
        let s = load(&[("AUTH_PUBLIC_URL", url), ("AUTH_DEV_MODE", "true")]).expect(url);
        assert_eq!(s.issuer("a"), format!("{url}/t/a"));
    }
    for url in [
        "https://as.example",
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
    ] {
        assert!(load(&[("AUTH_PUBLIC_URL", url)]).is_ok(), "{url}");
    }
    // The default (no AUTH_PUBLIC_URL) is loopback http and starts.
    assert!(load(&[]).is_ok());
}

pub(crate) async fn code_for(app: &TestApp, c: &TestClient) -> (String, String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, &[]);
    let redirect = app
        .browser_login(&app.new_browser(), &url, "alice", PW)
        .await;
    (query_param(&redirect, "code").unwrap(), verifier, redirect)
}

pub(crate) fn redeem_form<'a>(
    code: &'a str,
    verifier: &'a str,
    redirect: &'a str,
) -> Vec<(&'a str, &'a str)> {
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

/// An authorize URL without `redirect_uri` (R4), asking for `scope`.
fn without_redirect(app: &TestApp, client_id: &str, challenge: &str, scope: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/t/acme/authorize", app.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("scope", scope)
        .append_pair("state", "st-r4")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

async fn r4_several_registered_uris_require_redirect_uri_and_a_single_one_is_used(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // web_client registers two URIs: which one is meant cannot be guessed.
    let two = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let resp = app
        .http
        .get(without_redirect(&app, &two.id, &ch, "profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("role=\"alert\""));
    // Exactly one registered URI and a plain OAuth request (OAuth 2.1 §4.1.1 lets it
    // omit redirect_uri; OIDC requests may not, see conformance.rs): the registered
    // URI receives the code, and the code redeems without a redirect_uri either.
    let one = app
        .create_client(
            "acme",
            json!({"name": "one", "redirect_uris": ["https://one.example/cb"], "grant_types": ["authorization_code"],
                "scope": "openid profile", "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    let (verifier, ch) = pkce_pair();
    let redirect = app
        .browser_login(
            &app.new_browser(),
            &without_redirect(&app, &one.id, &ch, "profile"),
            "alice",
            PW,
        )
        .await;
    assert!(
        redirect.starts_with("https://one.example/cb?"),
        "{redirect}"
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-r4"));
    let code = query_param(&redirect, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, b) = app.token("acme", &one.id, &one.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn x6_authorize_never_answers_cors_and_no_endpoint_allows_any_origin_with_credentials(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let evil = "https://evil.example";
    // /authorize, both when it redirects to the login page and when it shows an error
    // page, and its preflight: no CORS grant at all (RFC 9700 §2.6).
    let good = app.authorize_url("acme", &c.id, &ch, &[]);
    let bad = app.authorize_url("acme", "no-such-client", &ch, &[]);
    for url in [&good, &bad] {
        for method in [Method::GET, Method::OPTIONS] {
            let resp = app
                .http
                .request(method.clone(), url)
                .header("origin", evil)
                .header("access-control-request-method", "GET")
                .send()
                .await
                .unwrap();
            for h in resp.headers().keys() {
                assert!(
                    !h.as_str().starts_with("access-control-allow"),
                    "{method} {url}: {h}"
                );
            }
        }
    }
    // The proper answers still came: a redirect to login, an error page.
    let resp = app.http.get(&good).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    // Token, JWKS and metadata: if they ever allow cross-origin reads, never a
    // wildcard together with credentials, and never by reflecting any origin with them.
    for (method, path) in [
        (Method::POST, "/t/acme/token"),
        (Method::OPTIONS, "/t/acme/token"),
        (Method::GET, "/t/acme/jwks"),
        (Method::GET, "/t/acme/.well-known/openid-configuration"),
        (
            Method::GET,
            "/.well-known/oauth-authorization-server/t/acme",
        ),
    ] {
        let resp = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .header("origin", evil)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(resp.status().as_u16() < 500, "{method} {path}");
        let h = resp.headers();
        let allow = h
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        let credentials = h
            .get("access-control-allow-credentials")
            .is_some_and(|v| v == "true");
        assert!(
            !(credentials && (allow.as_deref() == Some("*") || allow.as_deref() == Some(evil))),
            "{method} {path}: {allow:?} with credentials"
        );
    }
}

async fn a4_a_client_authenticates_only_with_its_registered_method(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let basic = app.tenant_with_alice("acme").await;
    let tokens = app.code_flow("acme", &basic, "alice", PW).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    // C1 registered client_secret_basic, sending its (right) secret in the body.
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", basic.id.as_str()),
            ("client_secret", basic.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"], "invalid_client", "{b}");
    // Its registered method still works: the refusal did not burn the refresh token.
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (s, b) = app.token("acme", &basic.id, &basic.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The converse: a client_secret_post client using Basic.
    let post = app
        .create_client(
            "acme",
            json!({"name": "svc", "grant_types": ["client_credentials"], "scope": "read",
            "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    let cc = [("grant_type", "client_credentials"), ("scope", "read")];
    let (s, b) = app.token("acme", &post.id, &post.secret, &cc).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{b}"
    );
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("client_id", post.id.as_str()),
            ("client_secret", post.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

pub(crate) async fn revoke(app: &TestApp, slug: &str, c: &TestClient, token: &str) -> StatusCode {
    app.http
        .post(format!("{}/t/{slug}/revoke", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn t5_a_client_cannot_revoke_a_token_it_does_not_own(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c1 = app.tenant_with_alice("acme").await;
    let other = app.web_client("acme").await;
    let cb = app.tenant_with_alice("beta").await;
    let tokens = app.code_flow("acme", &c1, "alice", PW).await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    for token in [at, rt] {
        // Tenant B's client at B's endpoint: 200 (RFC 7009 §2.2 says nothing about
        // ownership to the caller), and nothing happens.
        assert_eq!(revoke(&app, "beta", &cb, token).await, StatusCode::OK);
        // Tenant B's client at A's endpoint is unknown there.
        assert_eq!(
            revoke(&app, "acme", &cb, token).await,
            StatusCode::UNAUTHORIZED
        );
        // Another client of A (RFC 7009 §2.1 ownership check).
        assert_eq!(revoke(&app, "acme", &other, token).await, StatusCode::OK);
    }
    assert_eq!(app.introspect("acme", &c1, at).await["active"], true);
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (s, b) = app.token("acme", &c1.id, &c1.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The owner can revoke: the check above could have told the difference.
    let at2 = b["access_token"].as_str().unwrap();
    assert_eq!(revoke(&app, "acme", &c1, at2).await, StatusCode::OK);
    assert_eq!(app.introspect("acme", &c1, at2).await["active"], false);
}

async fn t7_a_session_at_one_tenant_is_no_session_at_another(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ca = app.tenant_with_alice("acme").await;
    let cb = app.tenant_with_alice("beta").await;
    let browser = app.new_browser();
    let (_, ch) = pkce_pair();
    app.browser_login(
        &browser,
        &app.authorize_url("acme", &ca.id, &ch, &[]),
        "alice",
        PW,
    )
    .await;
    let silent = |slug: &str, id: &str| app.authorize_url(slug, id, &ch, &[("prompt", "none")]);
    // The session works at A without a login form…
    let resp = browser.get(silent("acme", &ca.id)).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(query_param(&loc, "code").is_some(), "{loc}");
    // …and is no session at B, although the same browser holds A's cookie.
    let resp = browser.get(silent("beta", &cb.id)).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("https://c1.example/cb?"), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some(app.issuer("beta").as_str())
    );
    assert!(query_param(&loc, "code").is_none());
}

/// A tenant admin token of `slug`.
pub(crate) async fn tenant_admin(app: &TestApp, slug: &str) -> String {
    let ops = app
        .create_client(slug, json!({"name": "ops", "grant_types": ["client_credentials"], "scope": "admin", "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let cc = [("grant_type", "client_credentials"), ("scope", "admin")];
    let (s, t) = app.token(slug, &ops.id, &ops.secret, &cc).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

async fn t9_a_tenant_admin_cannot_escalate_or_read_secrets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.create_subscription("beta").await;
    let token = tenant_admin(&app, "acme").await;
    let users = "/subscriptions/acme/users";
    let (s, list) = app.admin(&token, Method::GET, users, None).await;
    assert_eq!(s, StatusCode::OK);
    let alice = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // No super-admin, neither created nor promoted.
    let (s, _) = app
        .admin(
            &token,
            Method::POST,
            users,
            Some(json!({"username": "root", "password": "correct horse battery", "system_admin": true})),
        )
        .await;
    assert!(matches!(s.as_u16(), 400 | 403), "{s}");
    let (s, _) = app
        .admin(
            &token,
            Method::PATCH,
            &format!("{users}/{alice}"),
            Some(json!({"system_admin": true})),
        )
        .await;
    assert!(matches!(s.as_u16(), 400 | 403), "{s}");
    // The promoted alice (if it had worked) could list every subscription.
    let (s, subs) = app.admin(&token, Method::GET, "/subscriptions", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(subs["items"].as_array().unwrap().len(), 1, "{subs}");
    // No moving a client or user to another tenant through the body.
    let client = format!("/subscriptions/acme/clients/{}", c.id);
    for (path, body) in [
        (client.as_str(), json!({"subscription_id": "beta"})),
        (client.as_str(), json!({"tenant_id": "beta"})),
        (
            &format!("{users}/{alice}") as &str,
            json!({"subscription": "beta"}),
        ),
    ] {
        let (s, b) = app.admin(&token, Method::PATCH, path, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {b}");
    }
    let (s, b) = app
        .admin(&token, Method::GET, "/subscriptions/beta/clients", None)
        .await;
    assert_ne!(s, StatusCode::OK, "{b}");
    let (s, b) = app.admin(&token, Method::GET, &client, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Secrets are never shown again (hashed at rest, A9): not the value, not a field.
    let (s, list) = app
        .admin(&token, Method::GET, "/subscriptions/acme/clients", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    for body in [&b, &list] {
        let text = body.to_string();
        assert!(!text.contains(&c.secret), "{text}");
        assert!(!text.contains("client_secret\":\""), "{text}");
    }
    let (s, u) = app
        .admin(&token, Method::GET, &format!("{users}/{alice}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let text = u.to_string().to_ascii_lowercase();
    for leak in ["password", "secret", "otpauth", "recovery"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}

async fn z4_client_credentials_tokens_carry_no_user_and_say_they_are_a_clients(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let web = app.tenant_with_alice("acme").await;
    let alice = app
        .admin(
            &app.system_token().await,
            Method::GET,
            "/subscriptions/acme/users",
            None,
        )
        .await
        .1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let svc = app
        .create_client(
            "acme",
            json!({"name": "svc", "grant_types": ["client_credentials"], "scope": "read",
            "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    // client_ids are server-assigned: no admin request can pick a user's sub as one.
    assert_ne!(svc.id, alice);
    let (s, b) = app
        .admin(
            &app.system_token().await,
            Method::POST,
            "/subscriptions/acme/clients",
            Some(
                json!({"name": "imp", "client_id": alice, "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_basic"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let cc = [("grant_type", "client_credentials"), ("scope", "read")];
    let (s, t) = app.token("acme", &svc.id, &svc.secret, &cc).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let at = t["access_token"].as_str().unwrap();
    let i = app.introspect("acme", &web, at).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], svc.id.as_str(), "{i}");
    assert_eq!(i["sub"], svc.id.as_str(), "{i}");
    for user_claim in ["username", "email", "name", "preferred_username"] {
        assert!(i.get(user_claim).is_none(), "{user_claim} in {i}");
    }
    // A user's token, for contrast: its sub is the user, not the client.
    let u = app.code_flow("acme", &web, "alice", PW).await;
    let i = app
        .introspect("acme", &web, u["access_token"].as_str().unwrap())
        .await;
    assert_eq!(i["sub"], alice.as_str(), "{i}");
    assert_ne!(i["sub"], i["client_id"]);
    // And /userinfo has no user to describe for a client's token.
    let resp = app
        .http
        .get(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
}

async fn f6_concurrent_refreshes_of_one_token_yield_one_successor(backend: Backend) {
    // No grace window: the strict reading of F6, exactly one winner.
    let strict = |s: &mut auth_server::config::Settings| s.refresh_grace = 0;
    let Some(one) = TestApp::spawn_with(backend, strict).await else {
        return;
    };
    let c = one.tenant_with_alice("acme").await;
    // PostgreSQL + Redis: a second instance on the same storage; SQLite runs one
    // instance (its ephemeral store is in-process), still with concurrent requests.
    let two = if backend == Backend::PostgresRedis {
        Some(TestApp::on_with(std::sync::Arc::clone(&one.storage), strict).await)
    } else {
        None
    };
    let tokens = one.code_flow("acme", &c, "alice", PW).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let calls = (0..10).map(|i| {
        let app = match &two {
            Some(two) if i % 2 == 1 => two,
            _ => &one,
        };
        app.token("acme", &c.id, &c.secret, &form)
    });
    let results = futures_util::future::join_all(calls).await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "exactly one refresh wins: {results:?}");
    assert!(
        results
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(s, b)| *s == StatusCode::BAD_REQUEST && b["error"] == "invalid_grant"),
        "{results:?}"
    );
}

/// `/t/acme/authorize` with exactly these query pairs (duplicates and raw bytes kept).
pub(crate) async fn authorize_raw(app: &TestApp, pairs: &[(&str, &str)]) -> reqwest::Response {
    let mut url = url::Url::parse(&format!("{}/t/acme/authorize", app.base)).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    app.http.get(url).send().await.unwrap()
}

/// The pairs of a valid request of `client_id` with `challenge`.
pub(crate) fn good_pairs<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", "https://c1.example/cb"),
        ("scope", "openid profile"),
        ("state", "s61"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// `pairs` with `name` removed, then `extra` appended.
pub(crate) fn with<'a>(
    pairs: &[(&'a str, &'a str)],
    drop: &[&str],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<_> = pairs
        .iter()
        .filter(|(k, _)| !drop.contains(k))
        .copied()
        .collect();
    v.extend_from_slice(extra);
    v
}

pub(crate) async fn assert_error_page(resp: reqwest::Response, case: &str) {
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{case}");
    assert!(resp.headers().get("location").is_none(), "{case}");
    for v in resp.headers().get_all("set-cookie") {
        assert!(!v.to_str().unwrap_or("").contains("x=1"), "{case}: {v:?}");
    }
    let body = resp.text().await.unwrap();
    assert!(body.contains("role=\"alert\""), "{case}");
}

async fn s6_1_bad_clients_and_redirect_uris_get_the_error_page_without_header_injection(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let disabled = app.web_client("acme").await;
    let (s, b) = app
        .admin(
            &app.system_token().await,
            Method::PATCH,
            &format!("/subscriptions/acme/clients/{}", disabled.id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let beta = app.tenant_with_alice("beta").await;
    let (_, ch) = pkce_pair();
    let good = good_pairs(&c.id, &ch);
    // The control: the same request, unaltered, goes on to the login page.
    let resp = authorize_raw(&app, &good).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing client_id", with(&good, &["client_id"], &[])),
        (
            "unknown client_id",
            with(&good, &["client_id"], &[("client_id", "nope")]),
        ),
        (
            "disabled client_id",
            with(&good, &["client_id"], &[("client_id", &disabled.id)]),
        ),
        (
            "other tenant's client_id",
            with(&good, &["client_id"], &[("client_id", &beta.id)]),
        ),
        (
            "javascript:",
            with(
                &good,
                &["redirect_uri"],
                &[("redirect_uri", "javascript:alert(1)")],
            ),
        ),
        (
            "data:",
            with(
                &good,
                &["redirect_uri"],
                &[("redirect_uri", "data:text/html,<script>alert(1)</script>")],
            ),
        ),
        (
            "CRLF",
            with(
                &good,
                &["redirect_uri"],
                &[("redirect_uri", "https://c1.example/cb\r\nSet-Cookie: x=1")],
            ),
        ),
        // Duplicates are ambiguous even when both copies are equal.
        (
            "duplicate redirect_uri",
            with(&good, &[], &[("redirect_uri", "https://c1.example/cb")]),
        ),
        (
            "duplicate client_id",
            with(&good, &[], &[("client_id", &c.id)]),
        ),
        (
            "duplicate response_type",
            with(&good, &[], &[("response_type", "code")]),
        ),
    ];
    for (case, pairs) in cases {
        assert_error_page(authorize_raw(&app, &pairs).await, case).await;
    }
}

async fn s6_1_bad_parameters_get_the_listed_error_redirect_with_state_and_iss(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let good = good_pairs(&c.id, &ch);
    let long = "A".repeat(200);
    let drop_challenge = ["code_challenge", "code_challenge_method"];
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("invalid_request", with(&good, &["response_type"], &[])),
        (
            "unsupported_response_type",
            with(&good, &["response_type"], &[("response_type", "token")]),
        ),
        (
            "unsupported_response_type",
            with(&good, &["response_type"], &[("response_type", "id_token")]),
        ),
        (
            "unsupported_response_type",
            with(
                &good,
                &["response_type"],
                &[("response_type", "code id_token")],
            ),
        ),
        (
            "unsupported_response_type",
            with(&good, &["response_type"], &[("response_type", "foo")]),
        ),
        (
            "invalid_request",
            with(&good, &[], &[("response_mode", "fragment")]),
        ),
        (
            "invalid_request",
            with(&good, &[], &[("response_mode", "bogus")]),
        ),
        ("invalid_request", with(&good, &drop_challenge, &[])),
        (
            "invalid_request",
            with(
                &good,
                &["code_challenge_method"],
                &[("code_challenge_method", "plain")],
            ),
        ),
        (
            "invalid_request",
            with(&good, &["code_challenge_method"], &[]),
        ),
        (
            "invalid_request",
            with(
                &good,
                &["code_challenge_method"],
                &[("code_challenge_method", "S512")],
            ),
        ),
        (
            "invalid_request",
            with(&good, &["code_challenge"], &[("code_challenge", "abc")]),
        ),
        (
            "invalid_request",
            with(&good, &["code_challenge"], &[("code_challenge", &long)]),
        ),
        (
            "invalid_request",
            with(
                &good,
                &["code_challenge"],
                &[(
                    "code_challenge",
                    "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/=",
                )],
            ),
        ),
        (
            "invalid_scope",
            with(&good, &["scope"], &[("scope", "openid bogus")]),
        ),
        (
            "invalid_scope",
            with(&good, &["scope"], &[("scope", "openid admin")]),
        ),
        (
            "invalid_request",
            with(&good, &[], &[("prompt", "none login")]),
        ),
        ("invalid_request", with(&good, &[], &[("max_age", "-1")])),
        ("invalid_request", with(&good, &[], &[("max_age", "abc")])),
        (
            "request_not_supported",
            with(&good, &[], &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
        ),
        (
            "request_uri_not_supported",
            with(&good, &[], &[("request_uri", "https://c1.example/r")]),
        ),
        (
            "invalid_request",
            with(&good, &[], &[("claims", "{not json")]),
        ),
        ("invalid_request", with(&good, &[], &[("claims", "[1]")])),
    ];
    for (want, pairs) in cases {
        let case = format!("{want}: {pairs:?}");
        let resp = authorize_raw(&app, &pairs).await;
        assert_eq!(resp.status(), StatusCode::FOUND, "{case}");
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.starts_with("https://c1.example/cb?"), "{case}: {loc}");
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some(want),
            "{case}: {loc}"
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("s61"), "{case}");
        assert_eq!(
            query_param(&loc, "iss").as_deref(),
            Some(app.issuer("acme").as_str()),
            "{case}"
        );
        assert!(query_param(&loc, "code").is_none(), "{case}");
        // RFC 6749 §4.1.2.1: error_description is printable ASCII (%x20-21 / %x23-5B / %x5D-7E).
        if let Some(d) = query_param(&loc, "error_description") {
            assert!(
                d.bytes()
                    .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
                "{case}: {d:?}"
            );
        }
    }
}

async fn s6_1_ignored_parameters_and_post_succeed_and_long_urls_never_crash(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (verifier, ch) = pkce_pair();
    let good = good_pairs(&c.id, &ch);
    // Unknown parameters are ignored, the order does not matter.
    let mut pairs = with(&good, &[], &[("extra", "foobar")]);
    pairs.reverse();
    let resp = authorize_raw(&app, &pairs).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let browser = app.new_browser();
    // The same request as a POST form (OIDC Core §3.1.2.1) completes a flow.
    let resp = browser
        .post(format!("{}/t/acme/authorize", app.base))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let first = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        url::Url::parse(&format!("{}{first}", app.base))
            .unwrap()
            .path(),
        url::Url::parse(&format!("{}{loc}", app.base))
            .unwrap()
            .path()
    );
    let redirect = app.continue_login(&browser, first, "alice", PW).await;
    let code = query_param(&redirect, "code").expect("a code");
    let form = redeem_form(&code, &verifier, "https://c1.example/cb");
    let (s, b) = app.token("acme", &c.id, &c.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // A URL over 8 KB: refused (414) or an error, never a crash or a hang.
    let huge = "x".repeat(9 * 1024);
    let resp = authorize_raw(&app, &with(&good, &[], &[("extra", &huge)])).await;
    assert_eq!(resp.status(), StatusCode::URI_TOO_LONG);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("role=\"alert\""));
    // And the server still answers afterwards.
    assert_eq!(authorize_raw(&app, &good).await.status(), StatusCode::FOUND);
}

async fn s6_1_state_and_nonce_come_back_exactly_and_pages_escape_reflected_values(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let good = good_pairs(&c.id, &ch);
    let four_kb = "s".repeat(4096);
    // (state, nonce): a 4 KB state and a 4 KB nonce each fit under the 8 KB URL cap,
    // both together would not.
    for (value, nonce) in [
        (four_kb.as_str(), "n"),
        ("st", four_kb.as_str()),
        ("клíč🔑 a+b c&d=e", "клíč🔑 a+b c&d=e"),
        ("a\u{0}b", "a\u{0}b"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ] {
        // In an error redirect…
        let pairs = with(
            &good,
            &["state", "scope"],
            &[("state", value), ("scope", "bogus")],
        );
        let resp = authorize_raw(&app, &pairs).await;
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(query_param(&loc, "state").as_deref(), Some(value));
        // …and in the success redirect, with the nonce in the ID token.
        let (verifier, ch) = pkce_pair();
        let url = app.authorize_url("acme", &c.id, &ch, &[("nonce", nonce)]);
        let url = url.replace(
            "state=st-1",
            &format!(
                "state={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            ),
        );
        let redirect = app
            .browser_login(&app.new_browser(), &url, "alice", PW)
            .await;
        assert_eq!(query_param(&redirect, "state").as_deref(), Some(value));
        let code = query_param(&redirect, "code").unwrap();
        let form = redeem_form(&code, &verifier, "https://c1.example/cb");
        let (s, t) = app.token("acme", &c.id, &c.secret, &form).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let payload = t["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["nonce"], nonce);
    }
    // Error pages escape what they reflect.
    let xss = "<script>alert(1)</script>";
    for pairs in [
        with(&good, &["client_id"], &[("client_id", xss)]),
        with(&good, &["redirect_uri"], &[("redirect_uri", xss)]),
        with(
            &good,
            &["redirect_uri", "state"],
            &[("redirect_uri", "https://evil.example/"), ("state", xss)],
        ),
    ] {
        let resp = authorize_raw(&app, &pairs).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = resp.text().await.unwrap();
        assert!(!body.contains(xss), "{body}");
    }
}

async fn s6_1_prompt_none_and_id_token_hint_never_log_in_silently(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    app.create_user("acme", "bob", PW).await;
    let cb = app.tenant_with_alice("beta").await;
    let bob_hint = app.code_flow("acme", &c, "bob", PW).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta_hint = app.code_flow("beta", &cb, "alice", PW).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // alice's session at acme, consented to `openid profile offline_access`.
    let browser = app.new_browser();
    let (verifier, ch) = pkce_pair();
    let redirect = app
        .browser_login(
            &browser,
            &app.authorize_url("acme", &c.id, &ch, &[]),
            "alice",
            PW,
        )
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let (s, t) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &redeem_form(&code, &verifier, "https://c1.example/cb"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let own_hint = t["id_token"].as_str().unwrap().to_owned();
    let silent = |extra: &[(&str, &str)]| {
        let mut e = vec![("prompt", "none")];
        e.extend_from_slice(extra);
        app.authorize_url("acme", &c.id, &ch, &e)
    };
    let outcome = |loc: &str| {
        query_param(loc, "error").unwrap_or_else(|| {
            assert!(query_param(loc, "code").is_some(), "{loc}");
            "code".to_owned()
        })
    };
    let cases: Vec<(&str, String)> = vec![
        // Controls: the session and the user's own hint lead to a code.
        ("code", silent(&[])),
        ("code", silent(&[("id_token_hint", &own_hint)])),
        // A scope not consented to yet.
        (
            "consent_required",
            silent(&[("scope", "openid profile email")]),
        ),
        // Forged, another user's, another tenant's hint.
        (
            "login_required",
            silent(&[("id_token_hint", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]),
        ),
        ("login_required", silent(&[("id_token_hint", &bob_hint)])),
        ("login_required", silent(&[("id_token_hint", &beta_hint)])),
    ];
    for (want, url) in cases {
        let resp = browser.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{want}");
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        let got = outcome(&loc);
        // A malformed hint may be refused as such (SECURITY.md §6.1).
        let ok = got == want
            || (want == "login_required"
                && got == "invalid_request"
                && url.contains("eyJzdWIiOiJ4In0"));
        assert!(ok, "wanted {want}, got {got}: {loc}");
    }
}

async fn t6_a_token_of_one_tenant_is_no_token_at_another_tenants_userinfo_or_hint(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ca = app.tenant_with_alice("acme").await;
    let cb = app.tenant_with_alice("beta").await;
    let ta = app.code_flow("acme", &ca, "alice", PW).await;
    let at = ta["access_token"].as_str().unwrap();
    let userinfo = |slug: &str| {
        app.http
            .get(format!("{}/t/{slug}/userinfo", app.base))
            .bearer_auth(at)
            .send()
    };
    // The control: A's token is good at A.
    assert_eq!(userinfo("acme").await.unwrap().status(), StatusCode::OK);
    let resp = userinfo("beta").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // Per-tenant signing keys: A's ID token names a key B does not publish.
    let kid_of = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let tb = app.code_flow("beta", &cb, "alice", PW).await;
    let (kid_a, kid_b) = (
        kid_of(ta["id_token"].as_str().unwrap()),
        kid_of(tb["id_token"].as_str().unwrap()),
    );
    assert_ne!(kid_a, kid_b);
    let jwks: Value = app
        .http
        .get(format!("{}/t/beta/jwks", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != kid_a.as_str()),
        "{jwks}"
    );
    // A's ID token as id_token_hint at B, where alice has a session: never a silent login.
    let browser = app.new_browser();
    let (_, ch) = pkce_pair();
    app.browser_login(
        &browser,
        &app.authorize_url("beta", &cb.id, &ch, &[]),
        "alice",
        PW,
    )
    .await;
    for (hint, want) in [
        (tb["id_token"].as_str().unwrap(), None),
        (ta["id_token"].as_str().unwrap(), Some("login_required")),
    ] {
        let url = app.authorize_url(
            "beta",
            &cb.id,
            &ch,
            &[("prompt", "none"), ("id_token_hint", hint)],
        );
        let resp = browser.get(url).send().await.unwrap();
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(query_param(&loc, "error").as_deref(), want, "{loc}");
        assert_eq!(query_param(&loc, "code").is_some(), want.is_none(), "{loc}");
    }
}

async fn t10_unknown_foreign_and_disabled_clients_are_indistinguishable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let disabled = app.web_client("acme").await;
    let admin = app.system_token().await;
    let (s, _) = app
        .admin(
            &admin,
            Method::PATCH,
            &format!("/subscriptions/acme/clients/{}", disabled.id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let foreign = app.tenant_with_alice("beta").await;
    let random = uuid::Uuid::new_v4().to_string();
    let (_, ch) = pkce_pair();
    // /authorize: one error page, byte for byte.
    let mut pages = Vec::new();
    for id in [random.as_str(), foreign.id.as_str(), disabled.id.as_str()] {
        let resp = authorize_raw(&app, &good_pairs(id, &ch)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{id}");
        pages.push(resp.text().await.unwrap());
    }
    assert!(pages.iter().all(|p| p == &pages[0]), "{pages:?}");
    // /token: one 401 answer, with the right secret of the foreign and disabled clients.
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    let mut answers = Vec::new();
    for (id, secret) in [
        (random.as_str(), "a-secret"),
        (foreign.id.as_str(), foreign.secret.as_str()),
        (disabled.id.as_str(), disabled.secret.as_str()),
        (c.id.as_str(), "wrong"),
    ] {
        let resp = app
            .http
            .post(format!("{}/t/acme/token", app.base))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((resp.status(), challenge, resp.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    // Ids are random 128-bit values (22 base64url characters), never sequential: four
    // ids created in a row share no common prefix beyond chance.
    let more = [app.web_client("acme").await, app.web_client("acme").await];
    let ids: Vec<Vec<u8>> = [&c, &disabled, &more[0], &more[1]]
        .iter()
        .map(|client| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&client.id)
                .expect("a base64url client_id")
        })
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 16);
    }
    let shared = ids.windows(2).filter(|w| w[0][..4] == w[1][..4]).count();
    assert_eq!(shared, 0, "{ids:?}");
    assert_ne!(more[0].id, more[1].id);
}

async fn p3_verifiers_of_the_wrong_length_or_alphabet_never_redeem(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    // Each challenge is the true S256 of its verifier, so only the RFC 7636 §4.1 rule
    // (43-128 characters of [A-Za-z0-9-._~]) can refuse the malformed ones.
    let ok_43 = "a".repeat(43);
    let ok_128 = "-._~Az09".repeat(16);
    let short = "a".repeat(42);
    let long = "a".repeat(129);
    let plus = format!("{}+", "a".repeat(42));
    let bang = format!("{}!", "a".repeat(50));
    let space = format!("{} b", "a".repeat(50));
    for (verifier, good) in [
        (ok_43.as_str(), true),
        (ok_128.as_str(), true),
        (short.as_str(), false),
        (long.as_str(), false),
        (plus.as_str(), false),
        (bang.as_str(), false),
        (space.as_str(), false),
    ] {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let url = app.authorize_url("acme", &c.id, &challenge, &[]);
        let redirect = app
            .browser_login(&app.new_browser(), &url, "alice", PW)
            .await;
        let code = query_param(&redirect, "code").expect("a code");
        let form = redeem_form(&code, verifier, "https://c1.example/cb");
        let (s, b) = app.token("acme", &c.id, &c.secret, &form).await;
        if good {
            assert_eq!(s, StatusCode::OK, "{verifier}: {b}");
        } else {
            assert_eq!(s, StatusCode::BAD_REQUEST, "{verifier}: {b}");
            let error = b["error"].as_str().unwrap_or_default();
            assert!(
                matches!(error, "invalid_request" | "invalid_grant"),
                "{verifier}: {b}"
            );
        }
    }
}

/// Where a response sends the browser, if anywhere: `Location` or a meta refresh.
async fn forwards_to(resp: reqwest::Response) -> Option<String> {
    if let Some(l) = resp.headers().get("location") {
        return Some(l.to_str().unwrap().to_owned());
    }
    let body = resp.text().await.unwrap().to_ascii_lowercase();
    body.contains("http-equiv=\"refresh\"")
        .then(|| "meta refresh".to_owned())
}

/// Not a same-origin path nor a URL of our own public origin.
fn off_origin(target: &str, public: &str) -> bool {
    let own = target.starts_with(&format!("{public}/"));
    let path = target.starts_with('/') && !target.starts_with("//") && !target.starts_with("/\\");
    !(own || path)
}

async fn r6_login_never_forwards_to_a_return_to_and_error_pages_never_auto_forward(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let evil = ["https://evil.com", "//evil.com", "/\\evil.com"];
    for target in evil {
        let q: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        for path in ["/t/acme/login", "/admin/login"] {
            let resp = app
                .http
                .get(format!("{}{path}?return_to={q}", app.base))
                .send()
                .await
                .unwrap();
            assert!(resp.status().as_u16() < 500, "{path} {target}");
            if let Some(to) = forwards_to(resp).await {
                assert!(
                    !off_origin(&to, &app.public) && !to.contains("evil.com"),
                    "{path}: {to}"
                );
            }
        }
        // A real login whose page and form both carry the return_to: the browser still
        // ends at the client's registered redirect URI.
        let browser = app.new_browser();
        let (_, ch) = pkce_pair();
        let first = browser
            .get(app.authorize_url("acme", &c.id, &ch, &[("return_to", target)]))
            .send()
            .await
            .unwrap();
        let login = first.headers()["location"].to_str().unwrap().to_owned();
        let html = browser
            .get(format!("{}{login}&return_to={q}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("evil.com"), "the page does not carry it");
        let input = |name: &str| {
            let doc = scraper::Html::parse_document(&html);
            let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
            doc.select(&sel)
                .next()
                .unwrap()
                .value()
                .attr("value")
                .unwrap()
                .to_owned()
        };
        let (tx, csrf) = (input("tx"), input("csrf"));
        let resp = browser
            .post(format!("{}/t/acme/login", app.base))
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", PW),
                ("action", "login"),
                ("return_to", target),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let next = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(!next.contains("evil.com"), "{next}");
        let end = app.continue_login(&browser, next, "alice", PW).await;
        assert!(end.starts_with("https://c1.example/cb?"), "{end}");
        assert!(query_param(&end, "code").is_some(), "{end}");
    }
    // Error pages explain; they never forward, by header or by meta refresh.
    let (_, ch) = pkce_pair();
    let mut bad = good_pairs(&c.id, &ch);
    bad.retain(|(k, _)| *k != "redirect_uri");
    bad.push(("redirect_uri", "https://evil.com/cb"));
    let resp = authorize_raw(&app, &bad).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(forwards_to(resp).await, None);
}

async fn a6_a7_grants_a_client_is_not_registered_for_and_legacy_flows_are_refused(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let web = app.tenant_with_alice("acme").await;
    // A client registered for the code grant only, and a public client.
    let code_only = app
        .create_client(
            "acme",
            json!({"name": "code-only", "redirect_uris": ["https://c1.example/cb"],
            "grant_types": ["authorization_code"], "scope": "openid profile offline_access",
            "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    let public = app
        .create_client(
            "acme",
            json!({"name": "spa", "redirect_uris": ["https://c1.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile",
            "token_endpoint_auth_method": "none"}),
        )
        .await;
    // A real refresh token (of the web client) presented by the code-only client: the
    // grant type is refused before the token is looked at.
    let rt = app.code_flow("acme", &web, "alice", PW).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let (s, b) = app
        .token("acme", &code_only.id, &code_only.secret, &form)
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{b}"
    );
    // The code-only client's own code flow hands out no refresh token at all.
    let t = app.code_flow("acme", &code_only, "alice", PW).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    // The public client asking for client_credentials.
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", public.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let b: Value = resp.json().await.unwrap();
    assert_eq!(
        (status, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{b}"
    );
    // A7: implicit and hybrid are gone (the other response types: s6_1_…).
    let (_, ch) = pkce_pair();
    for rt in ["token", "code id_token", "id_token token"] {
        let pairs = with(
            &good_pairs(&web.id, &ch),
            &["response_type"],
            &[("response_type", rt)],
        );
        let resp = authorize_raw(&app, &pairs).await;
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("unsupported_response_type"),
            "{rt}"
        );
        assert!(!loc.contains("access_token") && !loc.contains('#'), "{loc}");
    }
}

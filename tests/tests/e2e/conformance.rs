//! Replicas of the OpenID Foundation conformance modules (SECURITY.md §2.1
//! `oidcc-basic-certification-test-plan`, §2.2 `oidcc-config-certification-test-plan`
//! and the extra modules of the full `oidcc-test-plan`). Each test carries the module's
//! name (dashes as underscores) and asserts what the module checks, against the real
//! server over HTTP. Modules we do not replicate are listed in docs/security.md §3.5.

use auth_server::tokens::{Alg, GeneratedKey, generate};
use base64::Engine;
use e2e::{Backend, Storage, TestApp, TestClient, on_backends, pkce_pair, query_param, skip};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PW: &str = "correct horse battery";
const CB: &str = "https://c1.example/cb";

/// Start `/authorize` (GET) for `c` in `browser` with `extra` parameters and log alice in
/// if asked; returns the redirect to the client and the PKCE verifier.
async fn authorize(
    app: &TestApp,
    browser: &reqwest::Client,
    c: &TestClient,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &challenge, extra);
    (
        app.browser_login(browser, &url, "alice", PW).await,
        verifier,
    )
}

/// The first hop of `/authorize` only (no login): where the server sends the browser.
async fn first_hop(browser: &reqwest::Client, url: &str) -> String {
    let resp = browser.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{url}");
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// Redeem `code` at the token endpoint (client_secret_basic).
async fn redeem_at(
    app: &TestApp,
    c: &TestClient,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> (StatusCode, Value) {
    app.token(
        "acme",
        &c.id,
        &c.secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn redeem(app: &TestApp, c: &TestClient, code: &str, verifier: &str) -> (StatusCode, Value) {
    redeem_at(app, c, code, verifier, CB).await
}

/// The code of a successful redirect, after checking the `state` and `iss` echoes.
fn code_of(app: &TestApp, redirect: &str) -> String {
    assert!(redirect.starts_with(CB), "{redirect}");
    assert_eq!(query_param(redirect, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(redirect, "iss"), Some(app.issuer("acme")));
    query_param(redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"))
}

/// A whole successful flow in `browser`: the token response.
async fn tokens(
    app: &TestApp,
    browser: &reqwest::Client,
    c: &TestClient,
    extra: &[(&str, &str)],
) -> Value {
    let (redirect, verifier) = authorize(app, browser, c, extra).await;
    let code = code_of(app, &redirect);
    let (s, body) = redeem(app, c, &code, &verifier).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

/// The error redirect the module expects: to the registered URI, with `error`, the
/// `state` echoed, `iss`, and an `error_description` without CR, LF or TAB.
fn assert_error_redirect(app: &TestApp, redirect: &str, error: &str) {
    assert!(redirect.starts_with(CB), "{redirect}");
    assert_eq!(
        query_param(redirect, "error").as_deref(),
        Some(error),
        "{redirect}"
    );
    assert_eq!(query_param(redirect, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(redirect, "iss"), Some(app.issuer("acme")));
    assert!(query_param(redirect, "code").is_none());
    if let Some(d) = query_param(redirect, "error_description") {
        assert!(!d.contains(['\r', '\n', '\t']), "{d:?}");
    }
}

/// The error page the module expects for a bad client or redirect URI: 400, no redirect.
async fn assert_error_page(app: &TestApp, url: &str) {
    let resp = app.new_browser().get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
    assert!(
        resp.headers().get("location").is_none(),
        "{url} must not redirect"
    );
}

/// `url` with its `redirect_uri` replaced by `uri` (`None`: removed).
fn with_redirect(url: &str, uri: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "redirect_uri")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(uri) = uri {
            q.append_pair("redirect_uri", uri);
        }
    }
    u.to_string()
}

/// The ID token's claims, after checking its signature against the tenant's JWKS (by
/// `kid`), `iss`, `aud` (the client) and `exp`, as an RP does.
async fn id_claims(app: &TestApp, c: &TestClient, id_token: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let kid = header.kid.expect("the ID token names its key");
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(format!("{}/jwks", app.issuer("acme")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[app.issuer("acme")]);
    v.set_audience(&[&c.id]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &v)
        .expect("the ID token verifies")
        .claims
}

async fn id_claims_of(app: &TestApp, c: &TestClient, t: &Value) -> Value {
    id_claims(app, c, t["id_token"].as_str().expect("an ID token")).await
}

async fn userinfo_get(app: &TestApp, at: &str) -> Value {
    let resp = app
        .http
        .get(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn discovery(app: &TestApp) -> Value {
    app.http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("acme")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not an array"))
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An unsigned (`alg: none`) request object, as the request-object modules send.
fn unsigned_request_object(c: &TestClient, redirect_uri: &str) -> String {
    let claims = json!({"iss": c.id, "aud": "acme", "response_type": "code", "client_id": c.id,
        "redirect_uri": redirect_uri, "scope": "openid", "state": "st-1", "nonce": "n-1"});
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims.to_string().as_bytes())
    )
}

on_backends!(
    oidcc_server,
    oidcc_response_type_missing,
    oidcc_idtoken_signature,
    oidcc_idtoken_unsigned,
    oidcc_userinfo_get,
    oidcc_userinfo_post_header,
    oidcc_userinfo_post_body,
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    oidcc_scope_profile,
    oidcc_scope_email,
    oidcc_scope_all,
    oidcc_alternate_happy_flow,
    oidcc_display_page,
    oidcc_display_popup,
    oidcc_prompt_login,
    oidcc_prompt_none_not_logged_in,
    oidcc_prompt_none_logged_in,
    oidcc_max_age_1,
    oidcc_max_age_10000,
    oidcc_ensure_request_with_unknown_parameter_succeeds,
    oidcc_id_token_hint,
    oidcc_login_hint,
    oidcc_ui_locales,
    oidcc_claims_locales,
    oidcc_ensure_request_with_acr_values_succeeds,
    oidcc_codereuse,
    oidcc_codereuse_30seconds,
    oidcc_ensure_registered_redirect_uri,
    oidcc_ensure_post_request_succeeds,
    oidcc_server_client_secret_post,
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
    oidcc_claims_essential,
    oidcc_ensure_request_object_with_redirect_uri,
    oidcc_refresh_token,
    oidcc_ensure_request_with_valid_pkce_succeeds,
);

// ---- oidcc-basic-certification-test-plan (SECURITY.md §2.1) ----

/// oidcc-server: the happy code flow driven by a real RP library (`openidconnect`).
async fn oidcc_server(backend: Backend) {
    use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
    use openidconnect::{
        AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
        IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, TokenResponse,
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let client = app.tenant_with_alice("acme").await;
    let issuer = app.issuer("acme");
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let redirect = app
        .browser_login(&app.new_browser(), url.as_str(), "alice", PW)
        .await;
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(&*issuer));
    let tokens = rp
        .exchange_code(AuthorizationCode::new(
            query_param(&redirect, "code").unwrap(),
        ))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let v = rp.id_token_verifier();
    // signature (JWKS, by kid), iss, aud, exp, nonce
    let claims = id_token.claims(&v, &nonce).expect("the ID token verifies");
    assert!(claims.expiration() > claims.issue_time());
    let at_hash = claims.access_token_hash().expect("at_hash");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&v).unwrap(),
    )
    .unwrap();
    assert_eq!(at_hash, &expected);
    // The module also checks an error response's error_description (no CR/LF/TAB).
    let (_, ch) = pkce_pair();
    let err = first_hop(
        &app.new_browser(),
        &app.authorize_url("acme", &client.id, &ch, &[("prompt", "none")]),
    )
    .await;
    assert_error_redirect(&app, &err, "login_required");
}

/// oidcc-response-type-missing: an error redirect (invalid_request), never a code.
async fn oidcc_response_type_missing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let url = app
        .authorize_url("acme", &c.id, &ch, &[])
        .replace("response_type=code&", "");
    assert!(!url.contains("response_type"));
    let redirect = first_hop(&app.new_browser(), &url).await;
    assert_error_redirect(&app, &redirect, "invalid_request");
}

/// oidcc-idtoken-signature: RS256 by default, the `kid` is in the JWKS and verifies.
async fn oidcc_idtoken_signature(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[("nonce", "n-1")]).await;
    let header = jsonwebtoken::decode_header(t["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let claims = id_claims_of(&app, &c, &t).await;
    assert_eq!(claims["nonce"], "n-1");
}

/// oidcc-idtoken-unsigned: the module is skipped when discovery does not list `none`;
/// we never list it and refuse to register a client asking for it.
async fn oidcc_idtoken_unsigned(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let d = discovery(&app).await;
    assert!(!strings(&d["id_token_signing_alg_values_supported"]).contains(&"none"));
    let admin = app.system_token().await;
    let (s, body) = app
        .admin(
            &admin,
            Method::POST,
            "/subscriptions/acme/clients",
            Some(json!({"name": "unsigned", "redirect_uris": [CB], "grant_types": ["authorization_code"],
                "scope": "openid", "token_endpoint_auth_method": "client_secret_basic",
                "id_token_signed_response_alg": "none"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

/// oidcc-userinfo-get
async fn oidcc_userinfo_get(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    let info = userinfo_get(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["sub"], id_claims_of(&app, &c, &t).await["sub"]);
}

/// oidcc-userinfo-post-header: POST with the token in the Authorization header.
async fn oidcc_userinfo_post_header(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    let resp = app
        .http
        .post(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["sub"], id_claims_of(&app, &c, &t).await["sub"]);
}

/// oidcc-userinfo-post-body: POST with the token in the form body (RFC 6750 §2.2).
async fn oidcc_userinfo_post_body(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    let resp = app
        .http
        .post(format!("{}/t/acme/userinfo", app.base))
        .form(&[("access_token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["sub"], id_claims_of(&app, &c, &t).await["sub"]);
}

/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    assert!(id_claims_of(&app, &c, &t).await.get("nonce").is_none());
}

/// oidcc-scope-profile: profile claims from UserInfo, nothing of email.
async fn oidcc_scope_profile(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[("scope", "openid profile")]).await;
    let info = userinfo_get(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["name"], "alice");
    assert!(info.get("email").is_none(), "{info}");
}

/// oidcc-scope-email: email claims from UserInfo, nothing of profile.
async fn oidcc_scope_email(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[("scope", "openid email")]).await;
    let info = userinfo_get(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "alice@example.com");
    assert!(info["email_verified"].is_boolean());
    assert!(info.get("preferred_username").is_none(), "{info}");
}

/// oidcc-scope-all: every user-claim scope we advertise (profile, email) at once;
/// `address` and `phone` are not advertised (the suite then skips those scopes).
async fn oidcc_scope_all(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let scopes = strings(&discovery(&app).await["scopes_supported"])
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(!scopes.iter().any(|s| s == "address" || s == "phone"));
    let t = tokens(
        &app,
        &app.new_browser(),
        &c,
        &[("scope", "openid profile email")],
    )
    .await;
    let info = userinfo_get(&app, t["access_token"].as_str().unwrap()).await;
    for claim in [
        "sub",
        "name",
        "preferred_username",
        "email",
        "email_verified",
    ] {
        assert!(info.get(claim).is_some(), "{claim} missing from {info}");
    }
}

/// oidcc-alternate-happy-flow: reversed scope order and reordered query parameters.
async fn oidcc_alternate_happy_flow(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (verifier, challenge) = pkce_pair();
    let mut url = url::Url::parse(&format!("{}/t/acme/authorize", app.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("state", "st-1")
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "offline_access email profile openid")
        .append_pair("nonce", "n-2")
        .append_pair("code_challenge", &challenge)
        .append_pair("redirect_uri", CB)
        .append_pair("client_id", &c.id)
        .append_pair("response_type", "code");
    let redirect = app
        .browser_login(&app.new_browser(), url.as_str(), "alice", PW)
        .await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert!(t["refresh_token"].is_string(), "offline_access granted");
    assert_eq!(id_claims_of(&app, &c, &t).await["nonce"], "n-2");
}

/// A flow with `extra` succeeds and yields a verifying ID token.
async fn accepted_without_error(backend: Backend, extra: &[(&str, &str)]) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, extra).await;
    id_claims_of(&app, &c, &t).await;
}

/// oidcc-display-page
async fn oidcc_display_page(backend: Backend) {
    accepted_without_error(backend, &[("display", "page")]).await;
}

/// oidcc-display-popup
async fn oidcc_display_popup(backend: Backend) {
    accepted_without_error(backend, &[("display", "popup")]).await;
}

/// oidcc-ensure-request-with-unknown-parameter-succeeds (RFC 6749 §3.1: ignored)
async fn oidcc_ensure_request_with_unknown_parameter_succeeds(backend: Backend) {
    accepted_without_error(backend, &[("extra", "foobar")]).await;
}

/// oidcc-ui-locales
async fn oidcc_ui_locales(backend: Backend) {
    accepted_without_error(backend, &[("ui_locales", "se")]).await;
}

/// oidcc-claims-locales
async fn oidcc_claims_locales(backend: Backend) {
    accepted_without_error(backend, &[("claims_locales", "se")]).await;
}

/// oidcc-prompt-login: with a session, `prompt=login` shows the login form again and
/// the new ID token has a later `auth_time`, same `sub`.
async fn oidcc_prompt_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let first = id_claims_of(&app, &c, &tokens(&app, &browser, &c, &[]).await).await;
    app.clock.advance(2);
    let (verifier, ch) = pkce_pair();
    let hop = first_hop(
        &browser,
        &app.authorize_url("acme", &c.id, &ch, &[("prompt", "login")]),
    )
    .await;
    assert!(
        hop.contains("/login?tx="),
        "re-authentication forced: {hop}"
    );
    let redirect = app.continue_login(&browser, hop, "alice", PW).await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let second = id_claims_of(&app, &c, &t).await;
    assert_eq!(second["sub"], first["sub"]);
    assert!(
        second["auth_time"].as_i64().unwrap() > first["auth_time"].as_i64().unwrap(),
        "{first} then {second}"
    );
}

/// oidcc-prompt-none-not-logged-in: `login_required` redirect.
async fn oidcc_prompt_none_not_logged_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let redirect = first_hop(
        &app.new_browser(),
        &app.authorize_url("acme", &c.id, &ch, &[("prompt", "none")]),
    )
    .await;
    assert_error_redirect(&app, &redirect, "login_required");
}

/// oidcc-prompt-none-logged-in: silent success for the same `sub`.
async fn oidcc_prompt_none_logged_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let first = id_claims_of(&app, &c, &tokens(&app, &browser, &c, &[]).await).await;
    let (verifier, ch) = pkce_pair();
    let redirect = first_hop(
        &browser,
        &app.authorize_url("acme", &c.id, &ch, &[("prompt", "none")]),
    )
    .await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(id_claims_of(&app, &c, &t).await["sub"], first["sub"]);
}

/// oidcc-max-age-1: after more than a second, `max_age=1` forces a new login and the ID
/// token carries the new `auth_time`.
async fn oidcc_max_age_1(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let first = id_claims_of(&app, &c, &tokens(&app, &browser, &c, &[]).await).await;
    app.clock.advance(2);
    let (verifier, ch) = pkce_pair();
    let hop = first_hop(
        &browser,
        &app.authorize_url("acme", &c.id, &ch, &[("max_age", "1")]),
    )
    .await;
    assert!(
        hop.contains("/login?tx="),
        "re-authentication forced: {hop}"
    );
    let redirect = app.continue_login(&browser, hop, "alice", PW).await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let second = id_claims_of(&app, &c, &t).await;
    assert_eq!(second["sub"], first["sub"]);
    assert!(
        second["auth_time"].as_i64().unwrap() >= first["auth_time"].as_i64().unwrap() + 2,
        "{first} then {second}"
    );
}

/// oidcc-max-age-10000: no new login; `auth_time` present and unchanged.
async fn oidcc_max_age_10000(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let first = id_claims_of(&app, &c, &tokens(&app, &browser, &c, &[]).await).await;
    app.clock.advance(2);
    let (verifier, ch) = pkce_pair();
    let redirect = first_hop(
        &browser,
        &app.authorize_url("acme", &c.id, &ch, &[("max_age", "10000")]),
    )
    .await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let second = id_claims_of(&app, &c, &t).await;
    assert!(second["auth_time"].is_i64());
    assert_eq!(second["auth_time"], first["auth_time"]);
    assert_eq!(second["sub"], first["sub"]);
}

/// oidcc-id-token-hint: `prompt=none` with the previous ID token: silent, same `sub`.
async fn oidcc_id_token_hint(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let t = tokens(&app, &browser, &c, &[]).await;
    let first = id_claims_of(&app, &c, &t).await;
    let (verifier, ch) = pkce_pair();
    let redirect = first_hop(
        &browser,
        &app.authorize_url(
            "acme",
            &c.id,
            &ch,
            &[
                ("prompt", "none"),
                ("id_token_hint", t["id_token"].as_str().unwrap()),
            ],
        ),
    )
    .await;
    let (s, t2) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    assert_eq!(id_claims_of(&app, &c, &t2).await["sub"], first["sub"]);
}

/// oidcc-login-hint: accepted; the flow completes.
async fn oidcc_login_hint(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (verifier, ch) = pkce_pair();
    let hop = first_hop(
        &browser,
        &app.authorize_url("acme", &c.id, &ch, &[("login_hint", "alice")]),
    )
    .await;
    assert!(hop.contains("/login?tx="), "{hop}");
    let redirect = app.continue_login(&browser, hop, "alice", PW).await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
}

/// oidcc-ensure-request-with-acr-values-succeeds: the suite's `acr_values=1 2` are
/// accepted and the ID token carries an `acr`.
async fn oidcc_ensure_request_with_acr_values_succeeds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(&app, &app.new_browser(), &c, &[("acr_values", "1 2")]).await;
    assert_eq!(id_claims_of(&app, &c, &t).await["acr"], "1fa");
}

/// oidcc-codereuse: the second use of a code is `invalid_grant`.
async fn oidcc_codereuse(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (redirect, verifier) = authorize(&app, &app.new_browser(), &c, &[]).await;
    let code = code_of(&app, &redirect);
    assert_eq!(redeem(&app, &c, &code, &verifier).await.0, StatusCode::OK);
    let (s, body) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

/// oidcc-codereuse-30seconds: reuse after 30 s is `invalid_grant` and the access token
/// of the first use is revoked.
async fn oidcc_codereuse_30seconds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (redirect, verifier) = authorize(&app, &app.new_browser(), &c, &[]).await;
    let code = code_of(&app, &redirect);
    let (s, first) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    app.clock.advance(30);
    let (s, body) = redeem(&app, &c, &code, &verifier).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(app.introspect("acme", &c, at).await["active"], false);
    let resp = app
        .http
        .get(format!("{}/t/acme/userinfo", app.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

/// oidcc-ensure-registered-redirect-uri: an altered redirect URI gets the error page.
async fn oidcc_ensure_registered_redirect_uri(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &ch, &[]);
    assert_error_page(
        &app,
        &with_redirect(&url, Some(&format!("{CB}/unregistered"))),
    )
    .await;
}

/// oidcc-ensure-post-request-succeeds: the authorization request as a POSTed form.
async fn oidcc_ensure_post_request_succeeds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let browser = app.new_browser();
    let (verifier, ch) = pkce_pair();
    let resp = browser
        .post(format!("{}/t/acme/authorize", app.base))
        .form(&[
            ("response_type", "code"),
            ("client_id", &c.id),
            ("redirect_uri", CB),
            ("scope", "openid profile"),
            ("state", "st-1"),
            ("nonce", "n-3"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let hop = resp.headers()["location"].to_str().unwrap().to_owned();
    let redirect = app.continue_login(&browser, hop, "alice", PW).await;
    let (s, t) = redeem(&app, &c, &code_of(&app, &redirect), &verifier).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(id_claims_of(&app, &c, &t).await["nonce"], "n-3");
}

/// oidcc-server-client-secret-post: the happy flow authenticating in the form body.
async fn oidcc_server_client_secret_post(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let c = app
        .create_client(
            "acme",
            json!({"name": "post", "redirect_uris": [CB], "grant_types": ["authorization_code"],
                "scope": "openid profile", "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    let (redirect, verifier) = authorize(
        &app,
        &app.new_browser(),
        &c,
        &[("scope", "openid profile"), ("nonce", "n-4")],
    )
    .await;
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code_of(&app, &redirect)),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let t: Value = resp.json().await.unwrap();
    assert_eq!(id_claims_of(&app, &c, &t).await["nonce"], "n-4");
}

/// oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: we do not
/// support `request_uri` (discovery says so) and answer `request_uri_not_supported`.
async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    assert_eq!(
        discovery(&app).await["request_uri_parameter_supported"],
        false
    );
    let (_, ch) = pkce_pair();
    let redirect = first_hop(
        &app.new_browser(),
        &app.authorize_url(
            "acme",
            &c.id,
            &ch,
            &[("request_uri", "https://c1.example/request.jwt")],
        ),
    )
    .await;
    assert_error_redirect(&app, &redirect, "request_uri_not_supported");
}

/// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: we do
/// not support `request` (discovery says so) and answer `request_not_supported`.
async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    assert_eq!(discovery(&app).await["request_parameter_supported"], false);
    let (_, ch) = pkce_pair();
    let request = unsigned_request_object(&c, CB);
    let redirect = first_hop(
        &app.new_browser(),
        &app.authorize_url("acme", &c.id, &ch, &[("request", &request)]),
    )
    .await;
    assert_error_redirect(&app, &redirect, "request_not_supported");
}

/// oidcc-claims-essential: a `claims` parameter asking for an essential `name` succeeds
/// (we do not process `claims`, but `profile` releases `name`).
async fn oidcc_claims_essential(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let t = tokens(
        &app,
        &app.new_browser(),
        &c,
        &[
            ("scope", "openid profile"),
            ("claims", r#"{"userinfo":{"name":{"essential":true}}}"#),
        ],
    )
    .await;
    let info = userinfo_get(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["name"], "alice");
}

/// oidcc-ensure-request-object-with-redirect-uri: the redirect URI is only inside the
/// request object. We do not read request objects, so the request lacks its
/// redirect URI: the module accepts the invalid-redirect error page (no redirect).
async fn oidcc_ensure_request_object_with_redirect_uri(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let request = unsigned_request_object(&c, CB);
    let url = app.authorize_url("acme", &c.id, &ch, &[("request", &request)]);
    assert_error_page(&app, &with_redirect(&url, None)).await;
}

/// oidcc-refresh-token: the refresh token works (and rotates), only for its client;
/// `offline_access` is advertised.
async fn oidcc_refresh_token(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let other = app.web_client("acme").await;
    assert!(strings(&discovery(&app).await["scopes_supported"]).contains(&"offline_access"));
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    let rt = t["refresh_token"].as_str().expect("a refresh token");
    let (s, body) = app
        .token(
            "acme",
            &other.id,
            &other.secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another client's refresh token"
    );
    let (s, refreshed) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], t["refresh_token"], "rotated");
    if refreshed.get("id_token").is_some() {
        let again = id_claims_of(&app, &c, &refreshed).await;
        assert_eq!(again["sub"], id_claims_of(&app, &c, &t).await["sub"]);
    }
}

/// oidcc-ensure-request-with-valid-pkce-succeeds
async fn oidcc_ensure_request_with_valid_pkce_succeeds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    assert!(strings(&discovery(&app).await["code_challenge_methods_supported"]).contains(&"S256"));
    let t = tokens(&app, &app.new_browser(), &c, &[]).await;
    assert!(t["access_token"].is_string());
}

// ---- oidcc-config-certification-test-plan (SECURITY.md §2.2) ----

on_backends!(oidcc_discovery_endpoint_verification);

/// Run `certs/make-dev-certs.sh` into `out`; `false` when openssl is missing.
fn dev_certs(out: &std::path::Path) -> bool {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    std::process::Command::new("bash")
        .arg(script)
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// RFC 6749 §3.3 scope-token syntax.
fn scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// BCP 47-ish language tag syntax (what the suite's locale conditions check).
fn language_tag(s: &str) -> bool {
    !s.is_empty()
        && s.split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// oidcc-discovery-endpoint-verification, served over HTTPS (the module requires every
/// endpoint to be https).
async fn oidcc_discovery_endpoint_verification(backend: Backend) {
    let certs = tempfile::tempdir().unwrap();
    if !dev_certs(certs.path()) {
        skip("openssl");
        return;
    }
    let Some(storage) = Storage::new(backend).await else {
        return;
    };
    let ca = std::fs::read(certs.path().join("ca.pem")).unwrap();
    let app = TestApp::on_tls(
        storage,
        &certs.path().join("server.pem"),
        &certs.path().join("server-key.pem"),
        &ca,
    )
    .await;
    app.create_subscription("acme").await;
    let issuer = app.issuer("acme");
    let resp = app
        .http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let m: Value = resp.json().await.unwrap();
    // issuer: the URL prefix of the document, a valid https URL without query/fragment.
    assert_eq!(m["issuer"], issuer.as_str());
    let parsed = url::Url::parse(&issuer).unwrap();
    assert_eq!(parsed.scheme(), "https");
    assert!(parsed.query().is_none() && parsed.fragment().is_none());
    assert!(strings(&m["response_types_supported"]).contains(&"code"));
    assert!(strings(&m["subject_types_supported"]).contains(&"public"));
    let algs = strings(&m["id_token_signing_alg_values_supported"]);
    assert!(algs.contains(&"RS256") && !algs.contains(&"none"));
    for e in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        assert!(m[e].is_string(), "{e} missing");
    }
    // All endpoints https.
    for (k, v) in m.as_object().unwrap() {
        if k.ends_with("_endpoint") || k == "jwks_uri" {
            assert!(v.as_str().unwrap().starts_with("https://"), "{k}: {v}");
        }
    }
    // jwks_uri fetchable; every key parses as a JWK usable for verification; kids distinct.
    let jwks: Value = app
        .http
        .get(m["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let mut kids: Vec<String> = Vec::new();
    for (raw, k) in jwks["keys"].as_array().unwrap().iter().zip(&set.keys) {
        jsonwebtoken::DecodingKey::from_jwk(k).expect("a usable public key");
        assert!(raw.get("d").is_none(), "no private parts in the JWKS");
        kids.push(k.common.key_id.clone().expect("every key has a kid"));
    }
    let n = kids.len();
    kids.sort();
    kids.dedup();
    assert_eq!(kids.len(), n, "kids are distinct");
    for b in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "claims_parameter_supported",
    ] {
        assert!(m[b].is_boolean(), "{b}");
    }
    assert!(strings(&m["claims_supported"]).contains(&"sub"));
    assert!(strings(&m["grant_types_supported"]).contains(&"authorization_code"));
    let scopes = strings(&m["scopes_supported"]);
    assert!(scopes.contains(&"openid"));
    assert!(scopes.iter().all(|s| scope_token(s)), "{scopes:?}");
    for l in ["ui_locales_supported", "claims_locales_supported"] {
        if let Some(v) = m.get(l) {
            assert!(strings(v).iter().all(|t| language_tag(t)), "{l}: {v}");
        }
    }
    assert!(m["code_challenge_methods_supported"].is_array());
}

// ---- extra modules of the full oidcc-test-plan (SECURITY.md §2.2, last paragraph) ----

on_backends!(
    oidcc_redirect_uri_query_ok,
    oidcc_redirect_uri_query_added,
    oidcc_redirect_uri_query_mismatch,
    oidcc_redirect_uri_regfrag,
    oidcc_ensure_redirect_uri_in_authorization_request,
    oidcc_server_rotate_keys,
    oidcc_refresh_token_rp_key_rotation,
    oidcc_ensure_client_assertion_with_iss_aud_succeeds,
);

const CB_QUERY: &str = "https://c1.example/cb?foo=bar";

/// A client whose only redirect URI carries a query.
async fn query_client(app: &TestApp) -> TestClient {
    app.create_client(
        "acme",
        json!({"name": "q", "redirect_uris": [CB_QUERY], "grant_types": ["authorization_code"],
            "scope": "openid profile", "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await
}

/// oidcc-redirect-uri-query-OK: a registered query is kept and the code is added to it.
async fn oidcc_redirect_uri_query_ok(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let c = query_client(&app).await;
    let (verifier, ch) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &ch, &[("scope", "openid profile")]);
    let redirect = app
        .browser_login(
            &app.new_browser(),
            &with_redirect(&url, Some(CB_QUERY)),
            "alice",
            PW,
        )
        .await;
    assert!(redirect.starts_with(&format!("{CB_QUERY}&")), "{redirect}");
    assert_eq!(query_param(&redirect, "foo").as_deref(), Some("bar"));
    let code = query_param(&redirect, "code").unwrap();
    let (s, t) = redeem_at(&app, &c, &code, &verifier, CB_QUERY).await;
    assert_eq!(s, StatusCode::OK, "{t}");
}

/// oidcc-redirect-uri-query-added: a query the registration lacks gets the error page.
async fn oidcc_redirect_uri_query_added(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let (_, ch) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &ch, &[]);
    assert_error_page(&app, &with_redirect(&url, Some(&format!("{CB}?foo=bar")))).await;
}

/// oidcc-redirect-uri-query-mismatch: a different query value gets the error page.
async fn oidcc_redirect_uri_query_mismatch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let c = query_client(&app).await;
    let (_, ch) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &ch, &[("scope", "openid profile")]);
    assert_error_page(
        &app,
        &with_redirect(&url, Some("https://c1.example/cb?foo=zed")),
    )
    .await;
}

/// oidcc-redirect-uri-regfrag: registering a redirect URI with a fragment is refused
/// (OIDC Registration §2, RFC 6749 §3.1.2).
async fn oidcc_redirect_uri_regfrag(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let admin = app.system_token().await;
    let (s, body) = app
        .admin(
            &admin,
            Method::POST,
            "/subscriptions/acme/clients",
            Some(
                json!({"name": "frag", "redirect_uris": [format!("{CB}#frag")],
                "grant_types": ["authorization_code"], "scope": "openid",
                "token_endpoint_auth_method": "client_secret_basic"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

/// oidcc-ensure-redirect-uri-in-authorization-request: OIDC Core §3.1.2.1 requires
/// `redirect_uri` even when only one is registered: the error page, no redirect.
async fn oidcc_ensure_redirect_uri_in_authorization_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let c = app
        .create_client(
            "acme",
            json!({"name": "one", "redirect_uris": [CB], "grant_types": ["authorization_code"],
                "scope": "openid profile", "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    let (_, ch) = pkce_pair();
    let url = app.authorize_url("acme", &c.id, &ch, &[("scope", "openid profile")]);
    assert_error_page(&app, &with_redirect(&url, None)).await;
}

/// oidcc-server-rotate-keys: after a rotation the JWKS holds the new signing key and
/// still the old one; tokens signed before and after both verify.
async fn oidcc_server_rotate_keys(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let before = tokens(&app, &app.new_browser(), &c, &[]).await;
    let old_kid = jsonwebtoken::decode_header(before["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    let admin = app.system_token().await;
    let (s, body) = app
        .admin(
            &admin,
            Method::POST,
            "/subscriptions/acme/keys/rotate",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let after = tokens(&app, &app.new_browser(), &c, &[]).await;
    let new_kid = jsonwebtoken::decode_header(after["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid, "the rotation changed the signing key");
    // id_claims fetches the JWKS afresh and looks the kid up: both keys are there.
    id_claims_of(&app, &c, &after).await;
    id_claims_of(&app, &c, &before).await;
}

/// A private_key_jwt client for the code flow with refresh tokens, whose key is `key`.
async fn key_client(app: &TestApp, key: &GeneratedKey) -> TestClient {
    app.create_client(
        "acme",
        json!({"name": "pkjwt", "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid offline_access", "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk]}}),
    )
    .await
}

/// A client assertion (RFC 7523) by `client_id`, for `aud`, signed with `key`.
fn assertion(key: &GeneratedKey, client_id: &str, aud: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &h,
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string()}),
        &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
    )
    .unwrap()
}

/// POST `form` to the token endpoint authenticated by `client_assertion`.
async fn token_with_assertion(
    app: &TestApp,
    form: &[(&str, &str)],
    client_assertion: &str,
) -> (StatusCode, Value) {
    let mut form = form.to_vec();
    form.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    form.push(("client_assertion", client_assertion));
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

/// A code for `c` (scope `openid offline_access`) and its verifier.
async fn code_for(app: &TestApp, c: &TestClient) -> (String, String) {
    let (redirect, verifier) = authorize(
        app,
        &app.new_browser(),
        c,
        &[("scope", "openid offline_access")],
    )
    .await;
    (code_of(app, &redirect), verifier)
}

/// oidcc-refresh-token-rp-key-rotation: the client rotates its key (its registered JWKS
/// is replaced); the refresh token then works with an assertion signed by the new key,
/// and the retired key no longer authenticates.
async fn oidcc_refresh_token_rp_key_rotation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let (k1, k2) = (generate(Alg::ES256).unwrap(), generate(Alg::ES256).unwrap());
    let c = key_client(&app, &k1).await;
    let aud = format!("{}/token", app.issuer("acme"));
    let (code, verifier) = code_for(&app, &c).await;
    let (s, t) = token_with_assertion(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
        &assertion(&k1, &c.id, &aud),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let admin = app.system_token().await;
    let (s, body) = app
        .admin(
            &admin,
            Method::PATCH,
            &format!("/subscriptions/acme/clients/{}", c.id),
            Some(json!({"jwks": {"keys": [k2.public_jwk]}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rt = t["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let (s, body) = token_with_assertion(&app, &refresh, &assertion(&k1, &c.id, &aud)).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "the retired key"
    );
    let (s, body) = token_with_assertion(&app, &refresh, &assertion(&k2, &c.id, &aud)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
}

/// oidcc-ensure-client-assertion-with-iss-aud-succeeds: a client assertion whose `aud`
/// is the issuer (not the token endpoint) is accepted (RFC 7523 §3, OIDC Core §9).
async fn oidcc_ensure_client_assertion_with_iss_aud_succeeds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant_with_alice("acme").await;
    let key = generate(Alg::ES256).unwrap();
    let c = key_client(&app, &key).await;
    let (code, verifier) = code_for(&app, &c).await;
    let (s, t) = token_with_assertion(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
        &assertion(&key, &c.id, &app.issuer("acme")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    id_claims_of(&app, &c, &t).await;
}

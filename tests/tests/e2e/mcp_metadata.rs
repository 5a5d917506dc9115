//! What MCP clients read and rely on (issue 6, "Metadata the MCP clients read" and
//! "Public-client refresh"): the MCP fields of RFC 8414 / OIDC discovery at every URL
//! form the SDK tries, `Cache-Control: no-store` on every token response (success and
//! error, every grant), and a registered public MCP client whose refresh token is
//! rotated with the grace window, so several IDE windows refreshing at once all succeed.

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    discovery_has_the_mcp_fields_at_every_url_form,
    every_token_response_is_no_store_and_public_mcp_clients_refresh_concurrently,
);

const RESOURCE: &str = "https://mcp.acme.example/mcp";

async fn settings(app: &TestApp, s: Value) {
    let t = app.system_token().await;
    let (status, b) = app
        .admin(
            &t,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": s})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
}

async fn all_forms(app: &TestApp) -> Vec<(String, Value)> {
    let issuer = app.issuer("acme");
    let mut out = Vec::new();
    for url in [
        format!("{}/.well-known/oauth-authorization-server/t/acme", app.base),
        format!("{}/.well-known/openid-configuration/t/acme", app.base),
        format!("{issuer}/.well-known/openid-configuration"),
        format!("{issuer}/.well-known/oauth-authorization-server"),
    ] {
        let resp = app.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        out.push((url, resp.json().await.unwrap()));
    }
    out
}

async fn discovery_has_the_mcp_fields_at_every_url_form(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let issuer = app.issuer("acme");
    for (url, m) in all_forms(&app).await {
        // RFC 8414 §3.3: the issuer is the URL the document was derived from.
        assert_eq!(m["issuer"], issuer.as_str(), "{url}");
        assert_eq!(
            m["code_challenge_methods_supported"],
            json!(["S256"]),
            "{url}"
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["resource_indicators_supported"], true, "{url}");
        assert!(
            m["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&"mcp".into())
        );
        assert!(
            m["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&"none".into()),
            "public MCP clients authenticate with none"
        );
        assert_eq!(
            m["client_id_metadata_document_supported"], false,
            "{url}: off by default"
        );
        assert!(m.get("registration_endpoint").is_none(), "{url}");
    }
    settings(
        &app,
        json!({"registration": "token", "client_id_metadata_documents": true}),
    )
    .await;
    for (url, m) in all_forms(&app).await {
        assert_eq!(m["client_id_metadata_document_supported"], true, "{url}");
        assert_eq!(
            m["registration_endpoint"],
            format!("{issuer}/register"),
            "{url}"
        );
    }
}

/// The (unverified) claims of a JWT: the audience check here is about what was minted.
fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// POST to the token endpoint; the status, `Cache-Control` and body.
async fn token(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, String, Value) {
    let mut req = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let cc = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cc, resp.json().await.unwrap())
}

async fn every_token_response_is_no_store_and_public_mcp_clients_refresh_concurrently(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let acme = app.create_subscription("acme").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    settings(
        &app,
        json!({"registration": "open", "mcp_resources": [RESOURCE]}),
    )
    .await;
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let (mcp_id, mcp_secret) = (
        s(&acme["mcp_client"]["client_id"]),
        s(&acme["mcp_client"]["client_secret"]),
    );

    // Client credentials: success and errors are no-store.
    for (form, status) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "mcp"),
                ("resource", RESOURCE),
            ],
            StatusCode::OK,
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", "mcp admin")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "mcp"),
                ("resource", "https://elsewhere.example/mcp"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (st, cc, b) = token(&app, Some((&mcp_id, &mcp_secret)), &form).await;
        assert_eq!((st, cc.as_str()), (status, "no-store"), "{form:?}: {b}");
    }
    let (st, cc, _) = token(
        &app,
        Some((&mcp_id, "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!((st, cc.as_str()), (StatusCode::UNAUTHORIZED, "no-store"));

    // A registered public MCP client: code + PKCE + resource, no secret anywhere.
    let reg: Value = app
        .http
        .post(format!("{}/t/acme/register", app.base))
        .json(&json!({"client_name": "IDE", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none",
                      "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = s(&reg["client_id"]);
    let (verifier, challenge) = pkce_pair();
    let mut url = url::Url::parse(&format!("{}/t/acme/authorize", app.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:50123/cb")
        .append_pair("scope", "mcp")
        .append_pair("state", "s1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", RESOURCE);
    let redirect = app
        .browser_login(
            &app.new_browser(),
            url.as_str(),
            "alice",
            "correct horse battery",
        )
        .await;
    let code = query_param(&redirect, "code").unwrap_or_else(|| panic!("{redirect}"));
    let (st, cc, t0) = token(
        &app,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:50123/cb"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((st, cc.as_str()), (StatusCode::OK, "no-store"), "{t0}");
    let rt0 = s(&t0["refresh_token"]);

    // Three IDE windows refresh with the same token at once: all succeed with the same
    // successor (the grace window), each access token still bound to the resource.
    let refresh = |rt: String| {
        let app = &app;
        let client_id = client_id.clone();
        async move {
            token(
                app,
                None,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &client_id),
                    ("refresh_token", &rt),
                ],
            )
            .await
        }
    };
    let answers = futures_util::future::join_all((0..3).map(|_| refresh(rt0.clone()))).await;
    let mut successors = Vec::new();
    for (st, cc, b) in &answers {
        assert_eq!((*st, cc.as_str()), (StatusCode::OK, "no-store"), "{b}");
        successors.push(s(&b["refresh_token"]));
        let claims = jwt_claims(&s(&b["access_token"]));
        assert_eq!(claims["aud"], json!(RESOURCE), "{claims}");
    }
    successors.dedup();
    assert_eq!(
        successors.len(),
        1,
        "one successor, not a branch per window"
    );
    assert_ne!(successors[0], rt0, "the refresh token was rotated");
    // The successor works; once used, the original is reuse outside the window.
    let (st, _, t2) = refresh(successors[0].clone()).await;
    assert_eq!(st, StatusCode::OK, "{t2}");
    app.clock.advance(11);
    let (st, cc, b) = refresh(rt0.clone()).await;
    assert_eq!(
        (st, cc.as_str(), b["error"].as_str()),
        (StatusCode::BAD_REQUEST, "no-store", Some("invalid_grant"))
    );
}

//! RFC 7591 dynamic client registration and RFC 7592 management at `/t/{slug}/register`:
//! off by default, open or initial-access-token gated, redirect URI and scope policy,
//! quotas, and a registered public client completing a code flow with a resource.

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_backends!(
    registration_is_off_by_default_and_announced_only_when_enabled,
    a_registered_public_client_gets_an_audience_bound_mcp_token_and_manages_itself,
    registration_refuses_bad_metadata_missing_tokens_and_quota_overruns,
    rfc7592_update_replaces_the_metadata_under_the_registration_policy,
);

const RESOURCE: &str = "https://mcp.acme.example/mcp";

async fn settings(app: &TestApp, slug: &str, s: Value) {
    let t = app.system_token().await;
    let (status, b) = app
        .admin(
            &t,
            Method::PATCH,
            &format!("/subscriptions/{slug}"),
            Some(json!({"settings": s})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
}

async fn register(
    app: &TestApp,
    slug: &str,
    bearer: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(format!("{}/t/{slug}/register", app.base))
        .json(&body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap_or(Value::Null))
}

fn public_client() -> Value {
    json!({"client_name": "IDE agent", "redirect_uris": ["https://c1.example/cb"], "token_endpoint_auth_method": "none",
           "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "unknown_member": 1})
}

async fn registration_is_off_by_default_and_announced_only_when_enabled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let (s, b) = register(&app, "acme", None, public_client()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{b}"
    );
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/acme",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta.get("registration_endpoint").is_none());
    settings(&app, "acme", json!({"registration": "open"})).await;
    for url in [
        format!("{}/.well-known/oauth-authorization-server/t/acme", app.base),
        format!("{}/t/acme/.well-known/openid-configuration", app.base),
    ] {
        let meta: Value = app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            meta["registration_endpoint"],
            format!("{}/register", app.issuer("acme"))
        );
    }
}

async fn a_registered_public_client_gets_an_audience_bound_mcp_token_and_manages_itself(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let alice = app
        .create_user("acme", "alice", "correct horse battery")
        .await;
    let rs = app.create_client("acme", json!({"name": "mcp-server", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true})).await;
    settings(
        &app,
        "acme",
        json!({"registration": "open", "mcp_resources": [RESOURCE]}),
    )
    .await;
    let (s, reg) = register(&app, "acme", None, public_client()).await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["scope"], "mcp", "the policy's default scope");
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert!(
        reg.get("client_secret").is_none(),
        "public clients get no secret"
    );
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reg["registration_client_uri"],
        format!("{}/register/{client_id}", app.issuer("acme"))
    );

    // Code + PKCE + resource through the login and consent pages.
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &client_id,
        &challenge,
        &[("scope", "mcp"), ("resource", RESOURCE)],
    );
    let redirect = app
        .browser_login(&app.new_browser(), &url, "alice", "correct horse battery")
        .await;
    let code = query_param(&redirect, "code").unwrap_or_else(|| panic!("{redirect}"));
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", &verifier),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let t: Value = resp.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    assert!(t["refresh_token"].is_string());
    let i = app.introspect("acme", &rs, at).await;
    assert_eq!(
        (i["active"].as_bool(), i["scope"].as_str()),
        (Some(true), Some("mcp"))
    );
    assert_eq!(i["aud"], json!(RESOURCE));

    // RFC 7592: read with the registration access token; anything else is invalid_token.
    let uri = reg["registration_client_uri"]
        .as_str()
        .unwrap()
        .replace(&app.public, &app.base);
    let resp = app.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["client_id"], client_id.as_str());
    assert_eq!(
        read["registration_access_token"], rat,
        "RFC 7592 §3: the information response carries the (unchanged) token"
    );
    assert!(read.get("client_secret").is_none());
    assert_eq!(
        resp_cache_control(&app, &uri, &rat).await.as_deref(),
        Some("no-store")
    );
    for wrong in [Some("nope"), None] {
        let mut r = app.http.get(&uri);
        if let Some(w) = wrong {
            r = r.bearer_auth(w);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // Admins see it among registered and AI clients.
    let admin = app.system_token().await;
    let (_, list) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/registered-clients",
            None,
        )
        .await;
    assert_eq!(list["items"][0]["client_id"], client_id.as_str());
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?limit=100",
            None,
        )
        .await;
    assert!(
        audit.to_string().contains("client.registered"),
        "registration is audited"
    );
    assert!(
        !audit.to_string().contains(&rat),
        "no token in the audit log"
    );

    // RFC 7592 delete: the client, its tokens and the consents given to it are gone.
    let consents_path = format!("/subscriptions/acme/users/{alice}/consents");
    let (_, consents) = app.admin(&admin, Method::GET, &consents_path, None).await;
    assert_eq!(consents["items"][0]["client_id"], client_id.as_str());
    let resp = app
        .http
        .delete(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.introspect("acme", &rs, at).await,
        json!({"active": false})
    );
    let resp = app.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, consents) = app.admin(&admin, Method::GET, &consents_path, None).await;
    assert_eq!(consents["items"], json!([]), "{consents}");
}

async fn registration_refuses_bad_metadata_missing_tokens_and_quota_overruns(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    settings(
        &app,
        "acme",
        json!({"registration": "open", "registration_max_clients": 2, "registration_per_hour": 3}),
    )
    .await;
    let with = |patch: Value| {
        let mut b = public_client();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, code) in [
        (
            with(json!({"redirect_uris": ["http://app.example/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["https://*.example/cb"]})),
            "invalid_redirect_uri",
        ),
        (with(json!({"redirect_uris": []})), "invalid_redirect_uri"),
        (
            with(json!({"grant_types": ["client_credentials"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"scope": "mcp admin"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"token_endpoint_auth_method": "private_key_jwt"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"application_type": "desktop"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"response_types": ["token"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"redirect_uris": ["com.example.app:/cb"]})),
            "invalid_redirect_uri",
        ),
    ] {
        let (s, b) = register(&app, "acme", None, body.clone()).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}: {b}"
        );
    }
    // Quota: two clients, then refused.
    let (s, first) = register(&app, "acme", None, with(json!({"redirect_uris": ["http://127.0.0.1:8123/cb"], "token_endpoint_auth_method": "client_secret_basic"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert!(
        first["client_secret"].is_string(),
        "confidential clients get their secret once"
    );
    let (s, _) = register(&app, "acme", None, public_client()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = register(&app, "acme", None, public_client()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{b}"
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("limit of 2")
    );
    // Rate: the fourth valid registration this hour is slowed down.
    let admin = app.system_token().await;
    let (s, _) = app
        .admin(
            &admin,
            Method::DELETE,
            &format!(
                "/subscriptions/acme/clients/{}",
                first["client_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NO_CONTENT,
        "admins delete registered clients"
    );
    let (s, b) = register(&app, "acme", None, public_client()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("slow_down")),
        "{b}"
    );

    // Token mode: an initial access token from the admin API is required.
    settings(&app, "acme", json!({"registration": "token", "registration_max_clients": 10, "registration_per_hour": 100})).await;
    app.clock.advance(3600);
    let admin = app.system_token().await;
    let (s, b) = register(&app, "acme", None, public_client()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token")),
        "{b}"
    );
    let (s, iat) = app
        .admin(
            &admin,
            Method::POST,
            "/subscriptions/acme/registration-token",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let iat = iat["initial_access_token"].as_str().unwrap().to_owned();
    let (s, b) = register(&app, "acme", Some("wrong"), public_client()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let (s, b) = register(&app, "acme", Some(&iat), public_client()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, sub) = app
        .admin(&admin, Method::GET, "/subscriptions/acme", None)
        .await;
    assert!(
        sub["settings"].get("registration_token_sha256").is_none(),
        "{sub}"
    );
}

async fn resp_cache_control(app: &TestApp, uri: &str, rat: &str) -> Option<String> {
    let resp = app.http.get(uri).bearer_auth(rat).send().await.unwrap();
    resp.headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn put(app: &TestApp, uri: &str, bearer: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut req = app.http.put(uri).json(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let s = resp.status();
    if s == StatusCode::UNAUTHORIZED {
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    (s, resp.json().await.unwrap_or(Value::Null))
}

/// Whether `id:secret` authenticates at the revocation endpoint (RFC 7009 checks the
/// client before anything else; an unknown token is still 200).
async fn secret_works(app: &TestApp, id: &str, secret: &str) -> bool {
    let resp = app
        .http
        .post(format!("{}/t/acme/revoke", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    resp.status() == StatusCode::OK
}

async fn rfc7592_update_replaces_the_metadata_under_the_registration_policy(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    settings(&app, "acme", json!({"registration": "open"})).await;
    let (s, reg) = register(
        &app,
        "acme",
        None,
        json!({"client_name": "A", "redirect_uris": ["https://c1.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = reg["registration_client_uri"]
        .as_str()
        .unwrap()
        .replace(&app.public, &app.base);
    assert!(secret_works(&app, &id, &secret).await);

    // A full replacement: what is sent is the new registration, omitted members take
    // their defaults, and the read-only members a client echoes back are ignored.
    let mut body = reg.clone();
    for k in ["client_secret", "client_secret_expires_at"] {
        body.as_object_mut().unwrap().remove(k);
    }
    body["client_name"] = json!("B");
    body["redirect_uris"] = json!(["https://c2.example/cb", "http://127.0.0.1/cb"]);
    body["grant_types"] = json!(["authorization_code", "refresh_token"]);
    let (s, upd) = put(&app, &uri, Some(&rat), &body).await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["client_name"], "B");
    assert_eq!(
        upd["redirect_uris"],
        json!(["https://c2.example/cb", "http://127.0.0.1/cb"])
    );
    assert_eq!(
        upd["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(upd["registration_access_token"], rat.as_str());
    assert!(upd.get("client_secret").is_none(), "{upd}");
    assert!(
        secret_works(&app, &id, &secret).await,
        "the secret is unchanged"
    );
    let read: Value = app
        .http
        .get(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_name"], "B");
    assert_eq!(read["scope"], "mcp");

    // The current secret may be sent back; another one may not (no chosen secrets).
    let mut with_secret = body.clone();
    with_secret["client_secret"] = json!(secret);
    let (s, b) = put(&app, &uri, Some(&rat), &with_secret).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    with_secret["client_secret"] = json!("my-own-secret");
    let (s, b) = put(&app, &uri, Some(&rat), &with_secret).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
        "{b}"
    );

    // Wrong, missing or another client's token, and unknown clients: 401 invalid_token.
    let (s, other) = register(&app, "acme", None, public_client()).await;
    assert_eq!(s, StatusCode::CREATED);
    let other_rat = other["registration_access_token"].as_str().unwrap();
    for (u, t) in [
        (uri.clone(), Some("nope")),
        (uri.clone(), None),
        (uri.clone(), Some(other_rat)),
        (uri.replace(&id, "no-such-client"), Some(rat.as_str())),
    ] {
        let (s, b) = put(&app, &u, t, &body).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token")),
            "{u} {t:?}: {b}"
        );
    }

    // Invalid metadata: the registration policy's error codes, nothing changed.
    let with = |patch: Value| {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (bad, code) in [
        (
            with(json!({"redirect_uris": ["http://app.example/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"redirect_uris": ["https://*.example/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            with(json!({"scope": "mcp admin"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"grant_types": ["client_credentials"]})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"token_endpoint_auth_method": "none"})),
            "invalid_client_metadata",
        ),
        (
            with(json!({"client_id": "someone-else"})),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let (s, b) = put(&app, &uri, Some(&rat), &bad).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{bad}: {b}"
        );
    }
    let read: Value = app
        .http
        .get(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_name"], "B");
    assert_eq!(read["token_endpoint_auth_method"], "client_secret_basic");

    // Audited with the changes, never with a secret or token.
    let admin = app.system_token().await;
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?limit=100",
            None,
        )
        .await;
    let text = audit.to_string();
    assert!(text.contains("client.updated"), "{audit}");
    assert!(text.contains("c2.example"), "the change is in the diff");
    assert!(!text.contains(&rat) && !text.contains(&secret));
}

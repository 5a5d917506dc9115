//! The client credentials grant, JWT and opaque tokens, introspection and revocation.

use e2e::{Backend, TestApp, on_backends};
use reqwest::StatusCode;
use serde_json::json;

on_backends!(
    client_credentials_tokens_introspect_and_revoke,
    grant_type_and_scope_restrictions_hold
);

async fn client_credentials_tokens_introspect_and_revoke(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let rs = app.create_client("acme", json!({"name": "rs", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true})).await;
    for format in ["jwt", "opaque"] {
        let svc = app
            .create_client("acme", json!({"name": format, "grant_types": ["client_credentials"], "scope": "read write", "token_endpoint_auth_method": "client_secret_post", "access_token_format": format}))
            .await;
        let resp = app
            .http
            .post(format!("{}/t/acme/token", app.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &svc.id),
                ("client_secret", &svc.secret),
                ("scope", "read"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let t: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["scope"], "read");
        let at = t["access_token"].as_str().unwrap();
        assert_eq!(at.split('.').count() == 3, format == "jwt");
        let i = app.introspect("acme", &rs, at).await;
        assert_eq!(i["active"], true, "{format}");
        assert_eq!(i["sub"], svc.id.as_str());
        assert_eq!(i["sub_tenant"], "acme");
        assert_eq!(i["scope"], "read");
        let resp = app
            .http
            .post(format!("{}/t/acme/revoke", app.base))
            .form(&[
                ("token", at),
                ("client_id", &svc.id),
                ("client_secret", &svc.secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            app.introspect("acme", &rs, at).await,
            json!({"active": false}),
            "{format}"
        );
    }
    // A client not allowed to introspect gets 403, never token data.
    let plain = app.create_client("acme", json!({"name": "p", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"})).await;
    let resp = app
        .http
        .post(format!("{}/t/acme/introspect", app.base))
        .basic_auth(&plain.id, Some(&plain.secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

async fn grant_type_and_scope_restrictions_hold(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let web = app.tenant_with_alice("acme").await;
    let (s, b) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (s, b) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let svc = app.create_client("acme", json!({"name": "s", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic"})).await;
    // Only the registered authentication method works (RFC 9700 §2.5): Basic client, secret in the body.
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", svc.id.as_str()),
            ("client_secret", svc.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, b) = app
        .token(
            "acme",
            &svc.id,
            &svc.secret,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (s, b) = app
        .token(
            "acme",
            &svc.id,
            &svc.secret,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://unknown.example/"),
            ],
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .basic_auth(&svc.id, Some(&svc.secret))
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::BAD_REQUEST,
        "duplicate parameters"
    );
}

on_backends!(private_key_jwt_authenticates_once_per_assertion);

async fn private_key_jwt_authenticates_once_per_assertion(backend: Backend) {
    use auth_server::tokens::{Alg, generate};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let key = generate(Alg::ES256).unwrap();
    let c = app
        .create_client("acme", json!({"name": "pkjwt", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk]}}))
        .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sign = |claims: serde_json::Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(key.kid.clone());
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&key.private_der),
        )
        .unwrap()
    };
    let aud = format!("{}/token", app.issuer("acme"));
    let good = sign(
        json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": now + 60, "iat": now, "jti": "j-1"}),
    );
    let post = |assertion: String| {
        let app = &app;
        async move {
            let resp = app
                .http
                .post(format!("{}/t/acme/token", app.base))
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap();
            resp.status()
        }
    };
    assert_eq!(post(good.clone()).await, StatusCode::OK);
    assert_eq!(
        post(good).await,
        StatusCode::UNAUTHORIZED,
        "a replayed jti is refused"
    );
    for (why, claims) in [
        (
            "expired",
            json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": now - 300, "jti": "j-2"}),
        ),
        (
            "wrong aud",
            json!({"iss": c.id, "sub": c.id, "aud": "https://elsewhere/", "exp": now + 60, "jti": "j-3"}),
        ),
        (
            "no sub",
            json!({"iss": c.id, "aud": aud, "exp": now + 60, "jti": "j-4"}),
        ),
        (
            "iat far in the future",
            json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": now + 600, "iat": now + 61, "jti": "j-5"}),
        ),
    ] {
        let a = sign(claims);
        assert_eq!(post(a).await, StatusCode::UNAUTHORIZED, "{why}");
    }
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": c.id, "sub": c.id, "aud": aud, "exp": now + 60, "jti": "j-6"}),
        &jsonwebtoken::EncodingKey::from_secret(b"public"),
    )
    .unwrap();
    assert_eq!(
        post(hs).await,
        StatusCode::UNAUTHORIZED,
        "HMAC assertions are refused"
    );
}

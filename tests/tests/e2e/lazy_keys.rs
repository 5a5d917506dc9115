//! RS256 keys made on first use (issue 10 point 3): a new subscription has only its
//! ES256 and EdDSA keys; its first JWKS request or RS256 signature makes exactly one
//! active and one next RS256 key, however many requests on however many instances ask at
//! once, and stores them before the JWKS or the token is returned; a rotation before
//! first use leaves RS256 alone.

use e2e::{Backend, TestApp, TestClient, on_backends, verify_jwt};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

on_backends!(
    a_new_subscription_has_rs256_keys_from_its_first_jwks_request,
    a_first_rs256_id_token_without_a_jwks_request_publishes_its_key,
    concurrent_first_rs256_tokens_on_one_instance_make_one_pair,
    two_instances_racing_on_one_database_make_one_pair,
    a_rotation_before_first_use_leaves_rs256_to_its_first_use,
);

/// Kids of the subscription's `alg` keys in `status`, through the admin keys API.
async fn kids(app: &TestApp, slug: &str, alg: &str, status: &str) -> Vec<String> {
    let admin = app.system_token().await;
    let path = format!("/subscriptions/{slug}/keys");
    let (s, body) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg && k["status"] == status)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The JWK Set and its `Cache-Control`.
async fn jwks(app: &TestApp, slug: &str) -> (Value, String) {
    let resp = app
        .http
        .get(format!("{}/t/{slug}/jwks", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    (resp.json().await.unwrap(), cache)
}

fn published_algs(jwks: &Value) -> Vec<&str> {
    let mut algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    algs.sort_unstable();
    algs
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// A client-credentials client whose access tokens are RS256 JWTs.
async fn rs256_client(app: &TestApp, slug: &str) -> TestClient {
    app.create_client(
        slug,
        json!({"name": "m2m-rs", "grant_types": ["client_credentials"], "scope": "read",
               "token_endpoint_auth_method": "client_secret_basic",
               "access_token_signing_alg": "RS256", "introspection": true}),
    )
    .await
}

/// A client-credentials access token for `c`; panics unless the answer is 200.
async fn access_token(app: &TestApp, slug: &str, c: &TestClient) -> String {
    let form = [("grant_type", "client_credentials"), ("scope", "read")];
    let (s, body) = app.token(slug, &c.id, &c.secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// An RP that discovers the issuer before the first login (and, like openidconnect-rs,
/// never re-fetches JWKS) holds the RS256 key that signs its first ID token.
async fn a_new_subscription_has_rs256_keys_from_its_first_jwks_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    assert!(kids(&app, "acme", "RS256", "active").await.is_empty());
    assert!(kids(&app, "acme", "RS256", "next").await.is_empty());
    let (before, cache) = jwks(&app, "acme").await;
    assert_eq!(
        published_algs(&before),
        ["ES256", "ES256", "EdDSA", "EdDSA", "RS256", "RS256"],
        "{before}"
    );
    assert_eq!(cache, "public, max-age=60");
    let active = kids(&app, "acme", "RS256", "active").await;
    assert_eq!(active.len(), 1);
    assert_eq!(kids(&app, "acme", "RS256", "next").await.len(), 1);

    let tokens = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(kid(id_token), active[0]);
    let claims = verify_jwt(id_token, &before, &app.issuer("acme"), &c.id);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(jwks(&app, "acme").await.0, before, "nothing new to publish");
}

async fn a_first_rs256_id_token_without_a_jwks_request_publishes_its_key(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    assert!(kids(&app, "acme", "RS256", "active").await.is_empty());
    // Discovery still offers RS256: it is the ID-token default.
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.issuer("acme")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        meta["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );

    let tokens = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(kids(&app, "acme", "RS256", "active").await, [kid(id_token)]);
    assert_eq!(kids(&app, "acme", "RS256", "next").await.len(), 1);
    let (after, cache) = jwks(&app, "acme").await;
    assert_eq!(published_algs(&after).len(), 6, "{after}");
    assert_eq!(cache, "public, max-age=60");
    assert!(
        after["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid(id_token))
    );
    let claims = verify_jwt(id_token, &after, &app.issuer("acme"), &c.id);
    assert_eq!(claims["nonce"], "n-1");

    let admin = app.system_token().await;
    let (s, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?limit=200",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let generated: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "key.generated")
        .collect();
    assert_eq!(generated.len(), 1, "{audit}");
    assert_eq!(generated[0]["target"]["id"], "RS256");
}

async fn concurrent_first_rs256_tokens_on_one_instance_make_one_pair(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let c = rs256_client(&app, "acme").await;
    let tokens = join_all((0..32).map(|_| access_token(&app, "acme", &c))).await;
    let active = kids(&app, "acme", "RS256", "active").await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(kids(&app, "acme", "RS256", "next").await.len(), 1);
    assert!(tokens.iter().all(|t| kid(t) == active[0]));
    let (set, _) = jwks(&app, "acme").await;
    for t in &tokens {
        verify_jwt(t, &set, &app.issuer("acme"), &c.id);
    }
    assert_eq!(app.introspect("acme", &c, &tokens[0]).await["active"], true);
}

async fn two_instances_racing_on_one_database_make_one_pair(backend: Backend) {
    let Some(one) = TestApp::spawn(backend).await else {
        return;
    };
    one.create_subscription("acme").await;
    let c = rs256_client(&one, "acme").await;
    let two = TestApp::on(Arc::clone(&one.storage)).await;
    // Both instances cache the ring without RS256 keys before the race (introspecting a
    // JWT-shaped token loads it; a JWKS request would make the keys).
    for app in [&one, &two] {
        assert_eq!(
            app.introspect("acme", &c, "e30.e30.c2ln").await["active"],
            false
        );
    }
    let (from_one, from_two) = tokio::join!(
        join_all((0..16).map(|_| access_token(&one, "acme", &c))),
        join_all((0..16).map(|_| access_token(&two, "acme", &c))),
    );
    let active = kids(&one, "acme", "RS256", "active").await;
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(kids(&two, "acme", "RS256", "next").await.len(), 1);
    assert!(
        from_one
            .iter()
            .chain(&from_two)
            .all(|t| kid(t) == active[0])
    );
    // Each instance publishes the pair and accepts the other's tokens at once, without
    // waiting for its ring cache to expire.
    for (app, token) in [(&one, &from_two[0]), (&two, &from_one[0])] {
        let (set, _) = jwks(app, "acme").await;
        verify_jwt(token, &set, &app.issuer("acme"), &c.id);
        assert_eq!(app.introspect("acme", &c, token).await["active"], true);
    }
}

async fn a_rotation_before_first_use_leaves_rs256_to_its_first_use(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let admin = app.system_token().await;
    let rotate = || {
        app.admin(
            &admin,
            Method::POST,
            "/subscriptions/acme/keys/rotate",
            None,
        )
    };
    let (s, body) = rotate().await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["active"].as_array().unwrap().len(),
        2,
        "ES256 and EdDSA: {body}"
    );
    for status in ["active", "next", "retired"] {
        assert!(kids(&app, "acme", "RS256", status).await.is_empty());
    }

    let c = rs256_client(&app, "acme").await;
    let first = access_token(&app, "acme", &c).await;
    assert_eq!(kids(&app, "acme", "RS256", "active").await, [kid(&first)]);
    let next = kids(&app, "acme", "RS256", "next").await;
    assert_eq!(next.len(), 1);

    // Once made, RS256 rotates like the others: the published next key signs.
    let (s, body) = rotate().await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["active"].as_array().unwrap().len(), 3, "{body}");
    assert_eq!(kids(&app, "acme", "RS256", "active").await, next);
    assert_eq!(kids(&app, "acme", "RS256", "retired").await, [kid(&first)]);
    let second = access_token(&app, "acme", &c).await;
    assert_eq!(kid(&second), next[0]);
    assert_eq!(app.introspect("acme", &c, &first).await["active"], true);
}

//! Key rotation: the next key is published before it signs; tokens signed before a
//! rotation still verify after it; JWKS carries both keys.

use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};

on_backends!(tokens_signed_before_a_rotation_still_verify);

async fn tokens_signed_before_a_rotation_still_verify(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let before = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let jwks_url = format!("{}/jwks", app.issuer("acme"));
    let jwks0: serde_json::Value = app
        .http
        .get(&jwks_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks0["keys"].as_array().unwrap().len(),
        6,
        "active and next key of RS256, ES256 and EdDSA"
    );
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
    let promoted: Vec<String> = serde_json::from_value(body["active"].clone()).unwrap();
    for kid in &promoted {
        assert!(
            jwks0["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == kid.as_str()),
            "the new active key {kid} was published before it signed"
        );
    }

    let jwks1: serde_json::Value = app
        .http
        .get(&jwks_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks1["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()),
        "the retired key stays published"
    );
    assert_eq!(kids.len(), 9, "active, next and retired of each algorithm");

    // A token minted before the rotation still introspects as active.
    assert_eq!(
        app.introspect("acme", &c, before["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
    let after = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let new_kid = jsonwebtoken::decode_header(after["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid);
    assert!(promoted.contains(&new_kid));

    let (s, keys) = app
        .admin(&admin, Method::GET, "/subscriptions/acme/keys", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("private_key").is_none())
    );
}

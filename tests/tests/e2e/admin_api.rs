//! The admin API contract: validation errors name their field, duplicates are 409,
//! secrets are shown once and never again, changes are audited.

use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use serde_json::json;

on_backends!(
    bad_bodies_are_400_with_the_field,
    bad_json_and_unknown_fields_answer_the_whole_error_body,
    duplicates_are_409_and_secrets_are_shown_once,
    the_openapi_document_is_served
);

async fn bad_bodies_are_400_with_the_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let t = app.system_token().await;
    for (body, field) in [
        (json!({"slug": "ok-slug", "name": "n", "extra": 1}), "extra"),
        (json!({"slug": "Bad Slug", "name": "n"}), "slug"),
        (json!({"slug": 5, "name": "n"}), "slug"),
        (json!({"name": "n"}), "slug"),
    ] {
        let (s, b) = app
            .admin(&t, Method::POST, "/subscriptions", Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(b["error"], "invalid_request");
        assert_eq!(b["field"], field, "{body} -> {b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let resp = app
        .http
        .post(format!("{}/admin/v1/subscriptions", app.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    app.create_subscription("acme").await;
    for uri in [
        "https://x/cb#frag",
        "https://*.x/cb",
        "http://x/cb",
        "javascript:alert(1)",
        "/relative",
    ] {
        let (s, b) = app
            .admin(&t, Method::POST, "/subscriptions/acme/clients", Some(json!({"name": "c", "redirect_uris": [uri], "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none"})))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(b["field"], "redirect_uris[0]");
    }
    let resp = app
        .http
        .get(format!("{}/admin/v1/subscriptions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn duplicates_are_409_and_secrets_are_shown_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let t = app.system_token().await;
    let created = app.create_subscription("acme").await;
    assert!(
        created["mcp_client"]["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 43),
        "256-bit MCP client secret"
    );
    let (s, b) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions",
            Some(json!({"slug": "acme", "name": "again"})),
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let mcp = created["mcp_client"]["client_id"].as_str().unwrap();
    let (s, client) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/clients/{mcp}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(client.get("client_secret").is_none() && client.get("secret_hash").is_none());
    assert_eq!(client["scope"], "mcp offline_access openid");
    let user = app.create_user("acme", "bob", "a long password").await;
    let (s, _) = app
        .admin(
            &t,
            Method::POST,
            "/subscriptions/acme/users",
            Some(json!({"username": "BOB", "password": "x"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "usernames are normalised before the uniqueness check"
    );
    let (s, u) = app
        .admin(
            &t,
            Method::GET,
            &format!("/subscriptions/acme/users/{user}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(u.get("password").is_none() && u.get("password_hash").is_none());
    let (s, audit) = app
        .admin(&t, Method::GET, "/subscriptions/acme/audit?limit=200", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = audit.to_string();
    assert!(
        text.contains("client.created") && text.contains("user.created"),
        "{text}"
    );
    assert!(
        !text.contains(created["mcp_client"]["client_secret"].as_str().unwrap()),
        "no secret in the audit log"
    );
    // The minted AI client takes its secret by Basic or in the body.
    let mcp_secret = created["mcp_client"]["client_secret"].as_str().unwrap();
    let resp = app
        .http
        .post(format!("{}/t/acme/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", mcp),
            ("client_secret", mcp_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "client_secret_post for the MCP client"
    );
    let (s, _) = app
        .token(
            "acme",
            mcp,
            mcp_secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "client_secret_basic for the MCP client");
    let rotated = app
        .admin(
            &t,
            Method::POST,
            &format!("/subscriptions/acme/clients/{mcp}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(rotated.0, StatusCode::OK);
    let (s, _) = app
        .token(
            "acme",
            mcp,
            created["mcp_client"]["client_secret"].as_str().unwrap(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old secret stops working");
    let (s, _) = app
        .token(
            "acme",
            mcp,
            rotated.1["client_secret"].as_str().unwrap(),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

async fn the_openapi_document_is_served(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let doc: serde_json::Value = app
        .http
        .get(format!("{}/admin/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/admin/v1/subscriptions/{slug}/clients"]["post"].is_object());
}

/// POST `body` with `content_type` to `path`: status and JSON answer.
async fn raw_post(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: &'static str,
) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(format!("{}/admin/v1{path}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

async fn bad_json_and_unknown_fields_answer_the_whole_error_body(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let t = app.system_token().await;
    let json = "application/json";
    for (path, content_type, body, expected) in [
        (
            "/subscriptions",
            json,
            "{not json",
            json!({"error": "invalid_request", "field": "body", "message": "key must be a string"}),
        ),
        (
            "/subscriptions",
            json,
            r#"{"slug": "acme""#,
            json!({"error": "invalid_request", "field": "body", "message": "EOF while parsing an object"}),
        ),
        (
            "/subscriptions",
            "text/plain",
            r#"{"slug": "acme", "name": "n"}"#,
            json!({"error": "invalid_request", "field": "body", "message": "Content-Type must be application/json"}),
        ),
        (
            "/subscriptions",
            json,
            r#"{"slug": "acme", "name": "n", "extra": 1}"#,
            json!({"error": "invalid_request", "field": "extra", "message": "unknown field `extra`, expected one of `slug`, `name`, `database_url`"}),
        ),
        (
            "/subscriptions",
            json,
            r#"{"slug": 5, "name": "n"}"#,
            json!({"error": "invalid_request", "field": "slug", "message": "invalid type: integer `5`, expected a string"}),
        ),
    ] {
        let (s, b) = raw_post(&app, &t, path, content_type, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(b, expected, "{body}");
    }
    // The same contract on another resource, and nothing was created by the refusals.
    app.create_subscription("acme").await;
    let (s, b) = raw_post(
        &app,
        &t,
        "/subscriptions/acme/users",
        json,
        r#"{"username": "bob", "pasword": "x"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"], "invalid_request");
    assert_eq!(b["field"], "pasword");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown field `pasword`, expected one of"),
        "{b}"
    );
    let (_, users) = app
        .admin(&t, Method::GET, "/subscriptions/acme/users", None)
        .await;
    assert_eq!(users["items"], json!([]));
}

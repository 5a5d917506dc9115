//! Discovery metadata (OIDC Discovery §4, RFC 8414), its path-inserted forms, and the
//! security headers every response carries.

use e2e::{Backend, TestApp, on_backends};
use reqwest::StatusCode;

on_backends!(
    discovery_is_served_per_issuer_and_at_the_root_insertion_points,
    ops_endpoints_answer
);

async fn discovery_is_served_per_issuer_and_at_the_root_insertion_points(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    let issuer = app.issuer("acme");
    for url in [
        format!("{issuer}/.well-known/openid-configuration"),
        format!("{issuer}/.well-known/oauth-authorization-server"),
        format!("{}/.well-known/oauth-authorization-server/t/acme", app.base),
        format!("{}/.well-known/openid-configuration/t/acme", app.base),
    ] {
        let resp = app.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let m: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(m["issuer"], issuer.as_str());
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert!(
            m["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&"RS256".into())
        );
        assert!(
            m["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&"openid".into())
        );
        let jwks = app
            .http
            .get(m["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), StatusCode::OK);
    }
    let resp = app
        .http
        .get(format!(
            "{}/t/no-such/.well-known/openid-configuration",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

async fn ops_endpoints_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.system_token().await;
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tokens_issued_total{grant_type=\"client_credentials\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

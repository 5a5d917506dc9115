//! Discovery metadata (OIDC Discovery §4, RFC 8414), its path-inserted forms, and the
//! security headers every response carries.

use e2e::{Backend, TestApp, on_backends};
use reqwest::StatusCode;

on_backends!(
    discovery_is_served_per_issuer_and_at_the_root_insertion_points,
    ops_endpoints_answer,
    metrics_count_introspections_login_failures_and_latency_per_route,
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
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("tokens_issued_total{grant_type=\"client_credentials\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

/// The value of the sample `name` whose labels include every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (set, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| set.split(',').any(|p| p == format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())?
    })
}

async fn metrics_count_introspections_login_failures_and_latency_per_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let scrape = || app.metrics();
    let before = scrape().await;
    assert_eq!(
        e2e::sample(&before, "introspections_total"),
        Some(0.0),
        "{before}"
    );
    assert_eq!(e2e::sample(&before, "login_failures_total"), Some(0.0));
    let c = app.tenant_with_alice("acme").await;
    let t = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let at = t["access_token"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    }
    // Two wrong passwords: two failures (the successful login above is not one).
    let browser = app.new_browser();
    let (_, challenge) = e2e::pkce_pair();
    let (tx, csrf) = app
        .open_login_form(&browser, &app.authorize_url("acme", &c.id, &challenge, &[]))
        .await;
    for _ in 0..2 {
        let resp = browser
            .post(format!("{}/t/acme/login", app.base))
            .form(&[
                ("tx", tx.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "wrong"),
                ("action", "login"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let m = scrape().await;
    assert_eq!(e2e::sample(&m, "introspections_total"), Some(3.0), "{m}");
    assert_eq!(e2e::sample(&m, "login_failures_total"), Some(2.0), "{m}");
    assert_eq!(
        sample(
            &m,
            "tokens_issued_total",
            &[("grant_type", "authorization_code")]
        ),
        Some(1.0),
        "{m}"
    );
    // Latency histogram samples are labelled with the route pattern (never the concrete
    // path, which would carry tenant slugs without bound), the method and the status.
    let introspect = [
        ("route", "/t/{slug}/introspect"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert_eq!(
        sample(&m, "http_request_duration_seconds_count", &introspect),
        Some(3.0),
        "{m}"
    );
    let mut inf = introspect.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        sample(&m, "http_request_duration_seconds_bucket", &inf),
        Some(3.0)
    );
    assert!(sample(&m, "http_request_duration_seconds_sum", &introspect).is_some_and(|s| s > 0.0));
    let failed_logins = [
        ("route", "/t/{slug}/login"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert_eq!(
        sample(&m, "http_request_duration_seconds_count", &failed_logins),
        Some(2.0),
        "{m}"
    );
    assert!(
        !m.contains("/t/acme/"),
        "a concrete path leaked into a label"
    );
}

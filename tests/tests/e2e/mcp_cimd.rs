//! Client ID Metadata Documents: a client whose `client_id` is the URL of its metadata,
//! served here by a small loopback HTTP server (the harness runs in test mode, which
//! allows `http://127.0.0.1` documents), and every SSRF and policy refusal.

use e2e::{Backend, TestApp, on_backends, pkce_pair, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_backends!(
    a_metadata_document_client_signs_in_with_consent_showing_its_host,
    bad_metadata_documents_are_refused_with_a_clear_reason,
    outside_test_mode_loopback_documents_are_refused_even_by_name,
    documents_are_cached_with_a_floor,
);

const RESOURCE: &str = "https://mcp.acme.example/mcp";

/// Serve fixed answers per path on 127.0.0.1; returns the base URL.
async fn document_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let base = b.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let doc = |id: &str| {
                    json!({"client_id": id, "client_name": "Agent X", "redirect_uris": ["https://c1.example/cb"], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}).to_string()
                };
                let (status, extra, body) = match path.as_str() {
                    "/good.json" => (
                        "200 OK",
                        "Cache-Control: max-age=600\r\n",
                        doc(&format!("{base}/good.json")),
                    ),
                    "/mismatch.json" => ("200 OK", "", doc("https://evil.example/client.json")),
                    "/big.json" => (
                        "200 OK",
                        "",
                        format!(
                            "{{\"client_id\": \"{base}/big.json\", \"pad\": \"{}\"}}",
                            "x".repeat(6000)
                        ),
                    ),
                    "/redirect.json" => ("302 Found", "Location: /good.json\r\n", String::new()),
                    "/slow.json" => {
                        tokio::time::sleep(std::time::Duration::from_secs(7)).await;
                        ("200 OK", "", doc(&format!("{base}/slow.json")))
                    }
                    _ => ("404 Not Found", "", String::new()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    base
}

async fn enable(app: &TestApp, cimd: bool) {
    let t = app.system_token().await;
    let (s, b) = app
        .admin(&t, Method::PATCH, "/subscriptions/acme", Some(json!({"settings": {"client_id_metadata_documents": cimd, "mcp_resources": [RESOURCE]}})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn a_metadata_document_client_signs_in_with_consent_showing_its_host(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let docs = document_server().await;
    app.create_subscription("acme").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    let rs = app.create_client("acme", json!({"name": "mcp-server", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true})).await;
    enable(&app, true).await;
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
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    let client_id = format!("{docs}/good.json");
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &client_id,
        &challenge,
        &[("scope", "mcp"), ("resource", RESOURCE)],
    );
    let browser = app.new_browser();
    let redirect = app
        .browser_login(&browser, &url, "alice", "correct horse battery")
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
    let i = app
        .introspect("acme", &rs, t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (i["scope"].as_str(), i["client_id"].as_str()),
        (Some("mcp"), Some(client_id.as_str()))
    );
    assert_eq!(i["aud"], json!(RESOURCE));

    // Consent is asked again every time, and the page leads with the document's host.
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        &client_id,
        &challenge,
        &[("scope", "mcp"), ("resource", RESOURCE)],
    );
    let resp = browser.get(&url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/consent"), "{location}");
    let html = browser
        .get(format!("{}{location}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Application from <strong>127.0.0.1</strong>"),
        "{html}"
    );

    // The document asks for `openid`? No: beyond the policy scopes nothing is granted.
    let url = app.authorize_url("acme", &client_id, &challenge, &[("scope", "mcp openid")]);
    let resp = browser.get(&url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope"),
        "{location}"
    );
}

async fn bad_metadata_documents_are_refused_with_a_clear_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let docs = document_server().await;
    app.create_subscription("acme").await;
    let authorize = |client_id: String| {
        let app = &app;
        async move {
            let (_, challenge) = pkce_pair();
            let url = app.authorize_url("acme", &client_id, &challenge, &[("scope", "mcp")]);
            let resp = app.new_browser().get(url).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    // Off unless the subscription allows it.
    let (s, html) = authorize(format!("{docs}/good.json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("does not accept client metadata documents"),
        "{html}"
    );
    enable(&app, true).await;
    for (client_id, reason) in [
        (format!("{docs}/mismatch.json"), "does not equal its URL"),
        (format!("{docs}/big.json"), "larger than 5 KiB"),
        (format!("{docs}/redirect.json"), "redirects are refused"),
        (format!("{docs}/missing.json"), "404"),
        (
            "https://10.0.0.1/client.json".to_owned(),
            "private, link-local or reserved",
        ),
        (
            "https://169.254.169.254/latest/meta-data.json".to_owned(),
            "private, link-local or reserved",
        ),
        (
            "http://app.example/client.json".to_owned(),
            "must use https",
        ),
        (format!("{docs}/slow.json"), "longer than 5 seconds"),
    ] {
        let (s, html) = authorize(client_id.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(
            html.contains(reason),
            "{client_id}: expected {reason:?} in {html}"
        );
    }
}

/// `GET /authorize` with a metadata-document client; the status and page.
async fn authorize_page(app: &TestApp, client_id: &str) -> (StatusCode, String) {
    let (_, challenge) = pkce_pair();
    let url = app.authorize_url("acme", client_id, &challenge, &[("scope", "mcp")]);
    let resp = app.new_browser().get(url).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn outside_test_mode_loopback_documents_are_refused_even_by_name(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.cimd_allow_loopback = false).await else {
        return;
    };
    let docs = document_server().await;
    let port = docs.rsplit(':').next().unwrap().to_owned();
    app.create_subscription("acme").await;
    enable(&app, true).await;
    for (client_id, reason) in [
        (
            format!("{docs}/good.json"),
            "loopback client_id URLs are accepted only in test mode",
        ),
        (
            format!("https://127.0.0.1:{port}/good.json"),
            "127.0.0.1 is a loopback address",
        ),
        // A name is resolved first, and every address it resolves to is checked.
        (
            format!("https://localhost:{port}/good.json"),
            "is a loopback address",
        ),
        (
            format!("https://[::1]:{port}/good.json"),
            "::1 is a loopback address",
        ),
        (
            "https://192.168.1.10/client.json".to_owned(),
            "private, link-local or reserved",
        ),
        (
            "https://[fd00::1]/client.json".to_owned(),
            "private, link-local or reserved",
        ),
    ] {
        let (s, html) = authorize_page(&app, &client_id).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(
            html.contains(reason),
            "{client_id}: expected {reason:?} in {html}"
        );
    }
}

/// One document at `/doc.json` with `cache_control`, counting its fetches.
async fn counting_server(
    cache_control: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/doc.json", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (u, h) = (url.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            h.fetch_add(1, Ordering::SeqCst);
            let body = json!({"client_id": u, "client_name": "Cached", "redirect_uris": ["https://c1.example/cb"], "token_endpoint_auth_method": "none"}).to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: {cache_control}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (url, hits)
}

async fn documents_are_cached_with_a_floor(backend: Backend) {
    use std::sync::atomic::Ordering;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    enable(&app, true).await;
    // max-age is honoured, and "no-store" / max-age=0 still get the 60 s floor, so a
    // hostile host cannot make the server fetch on every request.
    for cc in ["max-age=600", "no-store"] {
        let (url, hits) = counting_server(cc).await;
        for _ in 0..3 {
            let (s, html) = authorize_page(&app, &url).await;
            assert_eq!(s, StatusCode::FOUND, "{cc}: {html}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 1, "{cc}: fetched once");
    }
}

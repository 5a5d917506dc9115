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
    admins_list_metadata_document_clients_and_deleting_one_revokes_its_tokens_and_blocks_it,
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

/// A code flow of the metadata-document client `client_id` for alice; the token response.
async fn cimd_tokens(app: &TestApp, client_id: &str) -> Value {
    let (verifier, challenge) = pkce_pair();
    let url = app.authorize_url(
        "acme",
        client_id,
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
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", "https://c1.example/cb"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn admins_list_metadata_document_clients_and_deleting_one_revokes_its_tokens_and_blocks_it(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let docs = document_server().await;
    app.create_subscription("acme").await;
    app.create_subscription("globex").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    let rs = app.create_client("acme", json!({"name": "mcp-server", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true})).await;
    enable(&app, true).await;
    let admin = app.system_token().await;
    let client_id = format!("{docs}/good.json");
    let item: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let item = format!("/subscriptions/acme/metadata-clients/{item}");

    // Nothing is remembered before a token is issued.
    let (s, listed) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/metadata-clients",
            None,
        )
        .await;
    assert_eq!(
        (s, &listed["items"]),
        (StatusCode::OK, &json!([])),
        "{listed}"
    );

    let first = cimd_tokens(&app, &client_id).await;
    let second = cimd_tokens(&app, &client_id).await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &rs, access).await["active"], true);
    let (s, listed) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/metadata-clients",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "one row per URL however often used: {listed}"
    );
    let c = &items[0];
    assert_eq!(
        (&c["client_id"], &c["host"], &c["name"], &c["blocked"]),
        (
            &json!(client_id),
            &json!("127.0.0.1"),
            &json!("Agent X"),
            &json!(false)
        ),
        "{c}"
    );
    assert!(c["first_used_at"].as_i64().unwrap() <= c["last_used_at"].as_i64().unwrap());
    let (s, one) = app.admin(&admin, Method::GET, &item, None).await;
    assert_eq!(
        (s, &one["client_id"]),
        (StatusCode::OK, &json!(client_id)),
        "{one}"
    );
    // Tenant-scoped: another subscription knows nothing of it.
    let (s, other) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/globex/metadata-clients",
            None,
        )
        .await;
    assert_eq!(
        (s, &other["items"]),
        (StatusCode::OK, &json!([])),
        "{other}"
    );
    let globex_item = item.replace("/acme/", "/globex/");
    let (s, _) = app.admin(&admin, Method::DELETE, &globex_item, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.introspect("acme", &rs, access).await["active"], true);

    // DELETE: every token of the client dies at once, and the URL is refused.
    let (s, b) = app.admin(&admin, Method::DELETE, &item, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    for t in [&first, &second] {
        let i = app
            .introspect("acme", &rs, t["access_token"].as_str().unwrap())
            .await;
        assert_eq!(i, json!({"active": false}));
    }
    let refresh = |token: String| {
        let app = &app;
        let client_id = client_id.clone();
        async move {
            let resp = app
                .http
                .post(format!("{}/t/acme/token", app.base))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{b}"
    );
    assert!(
        b["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("administrator of this subscription has blocked")),
        "{b}"
    );
    let (s, html) = authorize_page(&app, &client_id).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            "invalid_client: an administrator of this subscription has blocked this client"
        ),
        "{html}"
    );
    let (_, one) = app.admin(&admin, Method::GET, &item, None).await;
    assert_eq!(one["blocked"], true, "{one}");
    assert!(one["blocked_at"].is_i64(), "{one}");
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?limit=200",
            None,
        )
        .await;
    let blocked: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "client.blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{audit}");
    assert_eq!(
        blocked[0]["target"],
        json!({"type": "client", "id": client_id})
    );
    assert_eq!(
        blocked[0]["diff"]["revoked_grants"]["new"], 2,
        "{}",
        blocked[0]
    );

    // Lifting the block lets the URL sign in again; the revoked tokens stay revoked.
    let (s, _) = app
        .admin(&admin, Method::DELETE, &format!("{item}/block"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .admin(&admin, Method::DELETE, &format!("{item}/block"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not blocked any more");
    let (_, one) = app.admin(&admin, Method::GET, &item, None).await;
    assert_eq!(
        (&one["blocked"], &one["blocked_at"]),
        (&json!(false), &Value::Null)
    );
    let i = app.introspect("acme", &rs, access).await;
    assert_eq!(i, json!({"active": false}));
    let (s, _) = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "the revoked grant stays revoked"
    );
    let fresh = cimd_tokens(&app, &client_id).await;
    let i = app
        .introspect("acme", &rs, fresh["access_token"].as_str().unwrap())
        .await;
    assert_eq!(i["active"], true, "{i}");
    let (_, audit) = app
        .admin(
            &admin,
            Method::GET,
            "/subscriptions/acme/audit?limit=200",
            None,
        )
        .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "client.unblocked" && e["target"]["id"] == json!(client_id)),
        "{audit}"
    );
    let (s, _) = app
        .admin(
            &admin,
            Method::DELETE,
            "/subscriptions/acme/metadata-clients/https%3A%2F%2Funknown.example%2Fc.json",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, spec) = app.admin(&admin, Method::GET, "/openapi.json", None).await;
    assert!(
        spec["paths"]["/admin/v1/subscriptions/{slug}/metadata-clients/{client_id}"]["delete"]
            .is_object()
    );
}

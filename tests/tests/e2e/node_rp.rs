//! The same flow driven by npm `openid-client` v6 (a node script), so a second,
//! independent RP implementation checks our protocol responses.

use e2e::{Backend, TestApp, on_backends};
use std::path::Path;

on_backends!(openid_client_completes_the_whole_flow);

/// Make sure `tests/node_modules` exists (`npm ci`), or report why not.
fn node_ready() -> bool {
    e2e::node_package("openid-client")
}

async fn openid_client_completes_the_whole_flow(backend: Backend) {
    if !node_ready() {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme-node").await;
    app.create_user("acme-node", "alice", "correct horse battery")
        .await;
    let client = app
        .create_client(
        "acme-node",
        serde_json::json!({"name": "node", "redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile offline_access", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}),
        )
        .await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("node")
        .arg(dir.join("node/rp-flow.mjs"))
        .env("ISSUER", app.issuer("acme-node"))
        .env("CLIENT_ID", &client.id)
        .env("CLIENT_SECRET", &client.secret)
        .env("REDIRECT_URI", "http://127.0.0.1/cb")
        .env("USERNAME", "alice")
        .env("PASSWORD", "correct horse battery")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openid-client flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(result["ok"], true, "{result}");
}

//! The official MCP TypeScript SDK (npm `@modelcontextprotocol/sdk`) as MCP server and
//! MCP client against this server: `tests/node/mcp-sdk.mjs`. Its metadata-document client
//! is served over https on loopback with a throw-away CA (`certs/make-dev-certs.sh`) that
//! the server trusts through `AUTH_CIMD_CA_FILE`. The MCP server's `write_note` tool
//! needs `notes:write` beyond `mcp`: a token without it gets `403 insufficient_scope`
//! (asserted here from the raw answer), and the SDK steps up by re-authorizing.

use e2e::{Backend, TestApp, on_backends};
use std::path::Path;
use std::process::Command;

on_backends!(
    the_mcp_typescript_sdk_reaches_a_protected_tool_by_client_credentials_registration_cimd_and_step_up
);

/// A throw-away CA and a certificate for 127.0.0.1 in `dir` (needs `openssl`).
fn dev_certs(dir: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    let ok = Command::new("bash")
        .arg(script)
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        e2e::skip("openssl (certs/make-dev-certs.sh)");
    }
    ok
}

/// Make sure the SDK is installed (`npm ci`), or report why not.
fn sdk_ready() -> bool {
    e2e::node_package("@modelcontextprotocol/sdk")
}

async fn the_mcp_typescript_sdk_reaches_a_protected_tool_by_client_credentials_registration_cimd_and_step_up(
    backend: Backend,
) {
    if !sdk_ready() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    if !dev_certs(certs.path()) {
        return;
    }
    let ca = certs.path().join("ca.pem");
    let Some(app) = TestApp::spawn_with(backend, |s| s.cimd_ca_file = Some(ca)).await else {
        return;
    };
    let acme = app.create_subscription("acme").await;
    let globex = app.create_subscription("globex").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    let rs = app
        .create_client("acme", serde_json::json!({"name": "mcp-server", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
        .await;
    let admin = app.system_token().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let out = tokio::process::Command::new("node")
        .arg(dir.join("node/mcp-sdk.mjs"))
        .current_dir(dir)
        .env("BASE", &app.base)
        .env("ISSUER", app.issuer("acme"))
        .env("OTHER_ISSUER", app.issuer("globex"))
        .env("SLUG", "acme")
        .env("OTHER_SLUG", "globex")
        .env("ADMIN_TOKEN", &admin)
        .env("RS_ID", &rs.id)
        .env("RS_SECRET", &rs.secret)
        .env("MCP_CLIENT_ID", s(&acme["mcp_client"]["client_id"]))
        .env("MCP_CLIENT_SECRET", s(&acme["mcp_client"]["client_secret"]))
        .env("OTHER_MCP_CLIENT_ID", s(&globex["mcp_client"]["client_id"]))
        .env(
            "OTHER_MCP_CLIENT_SECRET",
            s(&globex["mcp_client"]["client_secret"]),
        )
        .env("USERNAME", "alice")
        .env("PASSWORD", "correct horse battery")
        .env("CIMD_CERT", certs.path().join("server.pem"))
        .env("CIMD_KEY", certs.path().join("server-key.pem"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MCP SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(
        result["client_credentials"],
        acme["mcp_client"]["client_id"]
    );
    assert!(result["registered"].is_string(), "{result}");
    let cimd = result["cimd"].as_str().unwrap_or_default();
    assert!(
        cimd.starts_with("https://127.0.0.1:") && cimd.ends_with("/agent.json"),
        "the tool saw the metadata document URL as the client: {result}"
    );
    assert_eq!(
        result["cimd_consent_host"], true,
        "consent leads with the document's host: {result}"
    );
    // The metadata-document client was not registered: only the DCR client is listed.
    let (_, listed) = app
        .admin(
            &admin,
            reqwest::Method::GET,
            "/subscriptions/acme/registered-clients",
            None,
        )
        .await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["items"][0]["client_id"], result["registered"]);
    assert!(
        result["no_token"]
            .as_str()
            .is_some_and(|w| w.contains("resource_metadata=")),
        "{result}"
    );
    // Step-up: the tool that needs more than the token carries answers 403 with a
    // challenge naming the scope to ask for and where the resource metadata is.
    assert_eq!(result["step_up_status"], 403, "{result}");
    let challenge = result["step_up_challenge"].as_str().unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    for part in [
        "error=\"insufficient_scope\"",
        "scope=\"mcp notes:write\"",
        "resource_metadata=\"http://127.0.0.1:",
        "/.well-known/oauth-protected-resource/mcp\"",
    ] {
        assert!(challenge.contains(part), "{part} in {challenge}");
    }
    assert_eq!(
        result["step_up_requested_scope"], "mcp notes:write",
        "the SDK re-authorized with the challenge's scope: {result}"
    );
    let scopes = result["step_up_scopes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        scopes.contains(&serde_json::json!("notes:write"))
            && scopes.contains(&serde_json::json!("mcp")),
        "the stepped-up token reached the tool: {result}"
    );
}

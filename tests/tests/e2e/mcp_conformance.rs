//! The MCP conformance suite (npm `@modelcontextprotocol/conformance`, its
//! `authorization` scenarios) against a subscription set up as an MCP authorization
//! server: an MCP resource, open dynamic registration, and metadata-document clients
//! (loopback allowed in test mode). `tests/node/mcp-conformance.mjs` runs the suite and
//! plays the user at our login and consent pages. Results: docs/mcp.md "Conformance".

use e2e::{Backend, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;

on_backends!(the_mcp_conformance_suite_passes_its_authorization_server_scenarios);

const RESOURCE: &str = "https://mcp.acme.example/mcp";

/// Every check the suite runs, with the status we claim (docs/mcp.md). A check that
/// fails, disappears or appears makes the test fail, so the table stays true.
const CLAIMED: &[(&str, &str, &str)] = &[
    (
        "authorization-server-metadata-endpoint",
        "authorization-server-metadata",
        "SUCCESS",
    ),
    (
        "authorization-server-metadata-endpoint",
        "authorization-server-metadata-cimd",
        "SUCCESS",
    ),
    (
        "authorization-code-grant",
        "authorization-code-grant",
        "SUCCESS",
    ),
];

/// Make sure the suite is installed (`npm ci`), or report why not.
fn suite_ready() -> bool {
    e2e::node_package("@modelcontextprotocol/conformance")
}

/// A loopback port nobody listens on, for the suite's callback server.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Run the suite with `client` (`("CLIENT_ID", id)` or `("CIMD", "1")`); its result line.
async fn run_suite(app: &TestApp, port: u16, client: (&str, &str)) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("node")
        .arg(dir.join("node/mcp-conformance.mjs"))
        .current_dir(dir)
        .env("BASE", &app.base)
        .env("ISSUER", app.issuer("acme"))
        .env("RESOURCE", RESOURCE)
        .env("PORT", port.to_string())
        .env("USERNAME", "alice")
        .env("PASSWORD", "correct horse battery")
        .env(client.0, client.1)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance driver failed:\n{stdout}\n{stderr}"
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for (scenario, checks) in result["scenarios"].as_object().unwrap() {
        for c in checks.as_array().unwrap() {
            seen.push((
                scenario.clone(),
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            ));
        }
    }
    seen.sort();
    let mut claimed: Vec<(String, String, String)> = CLAIMED
        .iter()
        .map(|(s, i, st)| ((*s).to_owned(), (*i).to_owned(), (*st).to_owned()))
        .collect();
    claimed.sort();
    assert_eq!(
        seen, claimed,
        "conformance results differ from the claimed table\n{result}\n{stderr}"
    );
    assert_eq!(result["exit"], 0, "{result}\n{stderr}");
    result
}

async fn the_mcp_conformance_suite_passes_its_authorization_server_scenarios(backend: Backend) {
    if !suite_ready() {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_subscription("acme").await;
    app.create_user("acme", "alice", "correct horse battery")
        .await;
    let admin = app.system_token().await;
    let (s, b) = app
        .admin(
            &admin,
            Method::PATCH,
            "/subscriptions/acme",
            Some(json!({"settings": {"mcp_resources": [RESOURCE], "registration": "open", "client_id_metadata_documents": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // 1. A client registered through RFC 7591, as an MCP client would.
    let port = free_port();
    let reg: Value = app
        .http
        .post(format!("{}/t/acme/register", app.base))
        .json(&json!({"client_name": "conformance", "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
                      "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap_or_else(|| panic!("{reg}"));
    let r = run_suite(&app, port, ("CLIENT_ID", client_id)).await;
    assert_eq!(r["client_id"], client_id);

    // 2. A Client ID Metadata Document client served on loopback.
    let r = run_suite(&app, free_port(), ("CIMD", "1")).await;
    assert!(
        r["client_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("http://127.0.0.1:")),
        "{r}"
    );
}

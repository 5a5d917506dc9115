//! HTTPS served directly (`AUTH_TLS_CERT`/`AUTH_TLS_KEY`) with a certificate from the
//! dev CA script: a client that trusts that CA completes the code flow, and a renewed
//! certificate written over the files is served without a restart.

use e2e::{Backend, Storage, TestApp, on_backends, skip};
use std::path::Path;
use std::time::Duration;

on_backends!(a_client_trusting_the_dev_ca_completes_the_code_flow_over_https);

/// Run `certs/make-dev-certs.sh` into `out`; `false` when openssl is missing.
fn dev_certs(out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    std::process::Command::new("bash")
        .arg(script)
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn client_trusting(ca: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
}

async fn a_client_trusting_the_dev_ca_completes_the_code_flow_over_https(backend: Backend) {
    let certs = tempfile::tempdir().unwrap();
    let first = certs.path().join("first");
    let renewed = certs.path().join("renewed");
    if !dev_certs(&first) || !dev_certs(&renewed) {
        skip("openssl");
        return;
    }
    // The server reads its pair from files that a renewal will overwrite.
    let served = certs.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let (cert, key) = (served.join("server.pem"), served.join("server-key.pem"));
    std::fs::copy(first.join("server.pem"), &cert).unwrap();
    std::fs::copy(first.join("server-key.pem"), &key).unwrap();
    let Some(storage) = Storage::new(backend).await else {
        return;
    };
    let ca = std::fs::read(first.join("ca.pem")).unwrap();
    let app = TestApp::on_tls(storage, &cert, &key, &ca).await;
    assert!(app.base.starts_with("https://"), "{}", app.base);

    let c = app.tenant_with_alice("acme").await;
    let tokens = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    // The issuer is the https URL.
    let discovery: serde_json::Value = app
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
    assert_eq!(discovery["issuer"], format!("{}/t/acme", app.base));
    // Plain HTTP on the TLS port gets no answer a client could mistake for one.
    let plain = reqwest::Client::new()
        .get(app.base.replace("https://", "http://") + "/healthz")
        .send()
        .await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));

    // A client that trusts only the renewed certificate's CA is refused…
    let renewed_client = client_trusting(&renewed.join("ca.pem"));
    let healthz = format!("{}/healthz", app.base);
    assert!(renewed_client.get(&healthz).send().await.is_err());
    // …until the renewal is written over the served files: picked up without a restart.
    std::fs::copy(renewed.join("server-key.pem"), &key).unwrap();
    std::fs::copy(renewed.join("server.pem"), &cert).unwrap();
    let mut served_renewed = false;
    for _ in 0..60 {
        if renewed_client.get(&healthz).send().await.is_ok() {
            served_renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        served_renewed,
        "the renewed certificate is served without a restart"
    );
    // And the old CA is no longer what the server presents.
    assert!(
        client_trusting(&first.join("ca.pem"))
            .get(&healthz)
            .send()
            .await
            .is_err()
    );
}

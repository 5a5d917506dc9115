//! Redis over TLS (`rediss://`, docs/operations.md "Redis deployments"): a Redis that
//! speaks TLS only, with a certificate from a throwaway CA. A server that trusts that CA
//! through `AUTH_REDIS_CA_FILE` keeps its codes and sessions there and completes the code
//! flow; a server that does not refuses to start, naming the variable and the
//! certificate, instead of falling back to anything.

use auth_server::config::Settings;
use auth_server::startup::{Application, BuildOptions};
use e2e::throwaway::Redis;
use e2e::{Storage, TestApp, skip};
use std::path::Path;
use std::time::{Duration, Instant};

/// `certs/make-dev-certs.sh` into `out` (CA, and a server certificate for 127.0.0.1 and
/// localhost); `false` when openssl is missing.
fn dev_certs(out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    std::process::Command::new("bash")
        .arg(script)
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rediss_url_trusting_the_private_ca_completes_the_code_flow_and_an_untrusted_one_stops_the_start()
 {
    let certs = tempfile::tempdir().unwrap();
    if !dev_certs(certs.path()) {
        skip("openssl");
        return;
    }
    let (cert, key) = (
        certs.path().join("server.pem"),
        certs.path().join("server-key.pem"),
    );
    let Some(redis) = Redis::start_tls(&cert, &key).await else {
        skip("redis-server with TLS support (--tls-port)");
        return;
    };
    assert!(redis.url().starts_with("rediss://"), "{}", redis.url());
    let pg = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(storage) = Storage::postgres_redis(&pg, &redis.url()).await else {
        return;
    };

    // The system roots do not know the throwaway CA: the start fails, quickly and
    // clearly, before serving anything.
    let data = tempfile::tempdir().unwrap();
    let untrusting = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        database_url: Some(storage.database_url.clone()),
        redis_url: Some(redis.url()),
        db_max_connections: 2,
        ..Settings::default()
    };
    let options = BuildOptions {
        cache_prefix: Some(storage.prefix.clone()),
        ..BuildOptions::default()
    };
    let started = Instant::now();
    let refused = Application::build(untrusting, options).await;
    let error = format!(
        "{:#}",
        refused
            .err()
            .expect("an untrusted certificate stops the start")
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused within the connect bound"
    );
    for part in ["AUTH_REDIS_URL", "certificate", "AUTH_REDIS_CA_FILE"] {
        assert!(error.contains(part), "the error names {part}: {error}");
    }

    // Trusting the CA: codes, login transactions and sessions live in the TLS Redis.
    let ca = certs.path().join("ca.pem");
    let app = TestApp::on_with(storage, |s| s.redis_ca_file = Some(ca)).await;
    let c = app.tenant_with_alice("acme").await;
    let tokens = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    let (s, ready) = {
        let r = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert_eq!(s, reqwest::StatusCode::OK, "{ready}");
}

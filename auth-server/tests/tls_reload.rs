//! `SIGHUP` reloads the TLS pair (docs/operations.md "TLS"): the binary serves a
//! certificate from one CA; the files are overwritten with a pair from another CA while
//! keeping their modification times, so that only the signal can trigger the reload (the
//! file watcher compares modification times); after `kill -HUP` a new connection is
//! served the new certificate and the log says the signal did it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `certs/make-dev-certs.sh` into `out`; `false` when openssl is missing.
fn dev_certs(out: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs/make-dev-certs.sh");
    Command::new("bash")
        .arg(script)
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A client that trusts only `ca`, on fresh connections (no pooled connection can
/// carry an old handshake into the check).
fn client_trusting(ca: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Overwrite `to` with `from`'s bytes and give it back its modification time.
fn replace_keeping_mtime(from: &Path, to: &Path) {
    let modified = std::fs::metadata(to).unwrap().modified().unwrap();
    std::fs::write(to, std::fs::read(from).unwrap()).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(to).unwrap();
    f.set_modified(modified).unwrap();
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next JSON log line whose message is `message` (a blocking receive with a
/// deadline, no sleep).
fn wait_for(lines: &mpsc::Receiver<String>, message: &str) -> serde_json::Value {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {message:?} in the log"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["fields"]["message"] == message {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_replaced_certificate_in_service_for_new_connections() {
    let certs = tempfile::tempdir().unwrap();
    let (first, renewed) = (certs.path().join("first"), certs.path().join("renewed"));
    if !dev_certs(&first) || !dev_certs(&renewed) {
        if std::env::var("AUTH_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("openssl is required (AUTH_TEST_REQUIRE_SERVICES=1)");
        }
        eprintln!(
            "SKIPPED sighup_puts_a_replaced_certificate_in_service_for_new_connections: openssl unreachable"
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (cert, key) = (data.path().join("tls.pem"), data.path().join("tls-key.pem"));
    std::fs::copy(first.join("server.pem"), &cert).unwrap();
    std::fs::copy(first.join("server-key.pem"), &key).unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") {
            command.env_remove(k);
        }
    }
    let mut child = command
        .arg("serve")
        .env("AUTH_DATA_DIR", data.path())
        .env("AUTH_LISTEN", "127.0.0.1:0")
        .env("AUTH_LOG_FORMAT", "json")
        .env("AUTH_TLS_CERT", &cert)
        .env("AUTH_TLS_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
    let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
    for pipe in [out, err] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let pid = child.id().to_string();
    let _server = Killed(child);
    let listening = wait_for(&lines, "listening");
    let port = listening["fields"]["port"].as_u64().unwrap();
    let healthz = format!("https://127.0.0.1:{port}/healthz");

    let old_ca = first.join("ca.pem");
    let new_ca = renewed.join("ca.pem");
    let ok = client_trusting(&old_ca).get(&healthz).send().await;
    assert!(
        ok.is_ok_and(|r| r.status().is_success()),
        "serves the first pair"
    );
    assert!(client_trusting(&new_ca).get(&healthz).send().await.is_err());

    // Key first, then certificate: the order a renewal tool writes in.
    replace_keeping_mtime(&renewed.join("server-key.pem"), &key);
    replace_keeping_mtime(&renewed.join("server.pem"), &cert);
    let hup = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(hup.success());
    let reloaded = wait_for(&lines, "TLS certificate reloaded");
    assert_eq!(reloaded["fields"]["trigger"], "SIGHUP", "{reloaded}");

    let ok = client_trusting(&new_ca).get(&healthz).send().await;
    assert!(
        ok.is_ok_and(|r| r.status().is_success()),
        "a new connection gets the new certificate"
    );
    assert!(
        client_trusting(&old_ca).get(&healthz).send().await.is_err(),
        "the old certificate is out of service"
    );
}

//! The start and stop log lines of the real binary (docs/operations.md "Start and stop
//! logs"): they say what the server runs with (listen address, public URL, database
//! kind and host, Redis, TLS, master key source, admin client id) and never a secret,
//! although the database URL carries a password and the master key and admin secret
//! come from the environment.

use std::process::{Child, Command};
use std::time::Duration;

const DB_PASSWORD: &str = "Pg-Passw0rd-never-logged";
const MASTER_KEY: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const ADMIN_SECRET: &str = "admin-secret-never-logged-0123456789";

/// Kills the child if the test fails before it exits by itself.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Report a missing PostgreSQL: a skip locally, a failure in CI.
fn skip(what: &str) {
    if std::env::var("AUTH_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{what} is required (AUTH_TEST_REQUIRE_SERVICES=1) but unreachable");
    }
    eprintln!(
        "SKIPPED start_and_stop_logs_say_what_was_configured_and_no_secret: {what} unreachable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_stop_logs_say_what_was_configured_and_no_secret() {
    use sea_orm::ConnectionTrait;
    let admin_url = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        sea_orm::Database::connect(&admin_url),
    )
    .await;
    let Ok(Ok(admin)) = connected else {
        skip("postgres");
        return;
    };
    let name = format!("auth_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    // The test server trusts local connections, so any password is accepted: what
    // matters is that the URL carries one.
    let mut db_url = url::Url::parse(&admin_url).unwrap();
    db_url.set_username("postgres").unwrap();
    db_url.set_password(Some(DB_PASSWORD)).unwrap();
    db_url.set_path(&format!("/{name}"));
    let (host, port) = (
        db_url.host_str().unwrap().to_owned(),
        db_url.port().unwrap_or(5432),
    );

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let listen = free_port();
    let base = format!("http://127.0.0.1:{listen}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .env("AUTH_LISTEN", format!("127.0.0.1:{listen}"))
        .env("AUTH_PUBLIC_URL", "https://login.example.com")
        .env("AUTH_DATA_DIR", dir.path().join("data"))
        .env("AUTH_DATABASE_URL", db_url.as_str())
        .env("AUTH_MASTER_KEY", MASTER_KEY)
        .env("AUTH_ADMIN_CLIENT_ID", "ops-admin")
        .env("AUTH_ADMIN_CLIENT_SECRET", ADMIN_SECRET)
        .env("AUTH_LOG", "info")
        .env("AUTH_LOG_FORMAT", "json")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            up = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "server came up: {}",
        std::fs::read_to_string(&log_path).unwrap()
    );
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = server.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(exited.is_some_and(|s| s.success()), "clean exit: {text}");
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;

    for secret in [DB_PASSWORD, MASTER_KEY, ADMIN_SECRET] {
        assert!(!text.contains(secret), "a secret is in the log: {text}");
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let fields = |message: &str| {
        lines
            .iter()
            .map(|l| &l["fields"])
            .find(|f| f["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {text}"))
            .clone()
    };
    for message in ["auth-server started", "auth-server stopped"] {
        let f = fields(message);
        assert_eq!(f["listen"], format!("127.0.0.1:{listen}"), "{f}");
        assert_eq!(f["public_url"], "https://login.example.com/", "{f}");
        assert_eq!(
            f["database"],
            format!("postgres:{host}:{port}/{name}"),
            "{f}"
        );
        assert_eq!(f["redis"], "in-process", "{f}");
        assert_eq!(f["tls"], false, "{f}");
        assert_eq!(f["master_key"], "AUTH_MASTER_KEY", "{f}");
        assert_eq!(f["admin_client_id"], "ops-admin", "{f}");
    }
}

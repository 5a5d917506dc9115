//! `auth-server doctor` as an operator runs it: exit 0 on a healthy SQLite data dir,
//! non-zero naming the failing check when Redis or PostgreSQL refuse connections or the
//! master key is not the one the signing keys were sealed with, and never a secret in
//! its output.

use std::process::{Command, Output};

const SECRET: &str = "Hunter2Hunter2Hunter2";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.args(args)
        .env("AUTH_DATA_DIR", dir)
        .env("AUTH_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A data dir with the system subscription and `acme`, each with its keys.
fn initialised() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "admin",
        "subscription",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
    ];
    let out = run(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out).1);
    dir
}

/// The line of check `name`: `(status, detail)`.
fn line<'a>(stdout: &'a str, name: &str) -> (&'a str, &'a str) {
    stdout
        .lines()
        .find_map(|l| {
            let mut cols = l.splitn(3, char::is_whitespace).filter(|c| !c.is_empty());
            let status = cols.next()?;
            let rest = l[status.len()..].trim_start();
            let detail = rest.strip_prefix(name)?.trim_start();
            Some((status, detail))
        })
        .unwrap_or_else(|| panic!("no {name} check in:\n{stdout}"))
}

/// A loopback port that refuses connections (bound, read, released).
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn doctor_on_a_healthy_sqlite_data_dir_exits_0_with_one_line_per_check() {
    let dir = initialised();
    let out = run(dir.path(), &["doctor"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    for name in [
        "config",
        "data_dir",
        "master_key",
        "database",
        "migrations",
        "clock",
        "redis",
        "keys",
        "tls",
    ] {
        let (status, detail) = line(&stdout, name);
        assert_eq!(status, "ok", "{name}: {detail}\n{stdout}");
    }
    assert!(
        line(&stdout, "keys").1.starts_with("2 subscriptions"),
        "{stdout}"
    );
    assert!(line(&stdout, "clock").1.contains("SQLite"), "{stdout}");

    let out = run(dir.path(), &["doctor", "--json"], &[]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["checks"].as_array().unwrap().len(), 9, "{report}");
}

#[test]
fn a_refused_redis_fails_the_redis_check_without_showing_its_password() {
    let dir = initialised();
    let url = format!("redis://:{SECRET}@127.0.0.1:{}", refused_port());
    let out = run(dir.path(), &["doctor"], &[("AUTH_REDIS_URL", &url)]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    let (status, detail) = line(&stdout, "redis");
    assert_eq!(status, "fail", "{stdout}");
    assert!(detail.contains("127.0.0.1"), "{detail}");
    assert!(stderr.contains("failed"), "{stderr}");
    // The other checks still ran and passed.
    assert_eq!(line(&stdout, "keys").0, "ok", "{stdout}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}{stderr}"
    );
}

#[test]
fn a_refused_postgresql_fails_the_database_check_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://auth:{SECRET}@127.0.0.1:{}/auth", refused_port());
    let out = run(
        dir.path(),
        &["doctor", "--json"],
        &[("AUTH_DATABASE_URL", &url)],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let database = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "database")
        .unwrap();
    assert_eq!(database["status"], "fail", "{report}");
    assert_eq!(report["healthy"], false);
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}{stderr}"
    );
}

#[test]
fn a_master_key_that_did_not_seal_the_keys_fails_the_keys_check() {
    let dir = initialised();
    let other = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let out = run(dir.path(), &["doctor"], &[("AUTH_MASTER_KEY", other)]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    let (status, detail) = line(&stdout, "keys");
    assert_eq!(status, "fail", "{stdout}");
    assert!(
        detail.contains("acme:") && detail.contains("AUTH_MASTER_KEY"),
        "{detail}"
    );
    assert!(!stdout.contains(other));

    // The key file itself, altered in place, is caught the same way.
    let file = dir.path().join("master-key");
    std::fs::write(&file, format!("{other}\n")).unwrap();
    let out = run(dir.path(), &["doctor"], &[]);
    assert_eq!(line(&text(&out).0, "keys").0, "fail");
}

#[test]
fn a_secret_file_readable_by_others_fails_the_data_dir_check() {
    use std::os::unix::fs::PermissionsExt;
    let dir = initialised();
    let file = dir.path().join("admin-client-secret");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(dir.path(), &["doctor"], &[]);
    let (stdout, _) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    let (status, detail) = line(&stdout, "data_dir");
    assert_eq!(status, "fail");
    assert!(detail.contains("admin-client-secret is 0644"), "{detail}");
}

#[test]
fn on_postgresql_the_clock_is_compared_with_the_database() {
    let url = std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let probe = std::process::Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        if std::env::var("AUTH_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("postgres is required (AUTH_TEST_REQUIRE_SERVICES=1) but unreachable");
        }
        eprintln!(
            "SKIPPED on_postgresql_the_clock_is_compared_with_the_database: postgres unreachable"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The maintenance database: the doctor only reads, so its migrations show as pending.
    let out = run(dir.path(), &["doctor"], &[("AUTH_DATABASE_URL", &url)]);
    let (stdout, stderr) = text(&out);
    let (status, detail) = line(&stdout, "clock");
    assert_eq!(status, "ok", "{stdout}{stderr}");
    assert!(detail.contains("database's now()"), "{detail}");
    assert_eq!(line(&stdout, "database").0, "ok", "{stdout}");
}

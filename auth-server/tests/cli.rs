//! Process-level behaviour of the binary: bad configuration stops it with one line that
//! names the variable; `--help` documents every subcommand and variable.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn a_bad_listen_address_stops_the_server_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .env("AUTH_LISTEN", "not-an-address")
        .env("AUTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("AUTH_LISTEN"), "{err}");
}

#[test]
fn a_bad_master_key_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .env("AUTH_MASTER_KEY", "c2VjcmV0LXZhbHVl")
        .env("AUTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AUTH_MASTER_KEY") && !err.contains("c2VjcmV0LXZhbHVl"),
        "{err}"
    );
}

#[test]
fn help_documents_subcommands_and_variables() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "serve",
        "migrate",
        "keys",
        "admin",
        "AUTH_PUBLIC_URL",
        "AUTH_DATABASE_URL",
        "AUTH_REDIS_URL",
        "AUTH_MASTER_KEY",
        "AUTH_ADMIN_CLIENT_SECRET",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn migrate_creates_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("migrate")
        .env("AUTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("auth.db").exists());
}

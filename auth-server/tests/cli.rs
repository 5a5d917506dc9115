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

#[test]
fn audit_events_stream_to_the_sink_verify_and_export_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("audit.jsonl");
    let out = bin()
        .args([
            "admin",
            "subscription",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
        ])
        .env("AUTH_DATA_DIR", dir.path())
        .env("AUTH_AUDIT_SINK", &sink)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streamed = std::fs::read_to_string(&sink).unwrap();
    let actions: Vec<String> = streamed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        actions.contains(&"subscription.created".to_owned())
            && actions.contains(&"client.created".to_owned()),
        "{actions:?}"
    );
    assert!(
        !streamed.contains("client_secret\":\""),
        "no secret in the sink"
    );

    let verify = bin()
        .args(["audit", "verify", "--subscription", "acme"])
        .env("AUTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("intact"));

    let export = bin()
        .args(["audit", "export", "--subscription", "acme"])
        .env("AUTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(export.status.success());
    let lines = String::from_utf8_lossy(&export.stdout).lines().count();
    assert_eq!(lines, actions.len(), "export returns what was streamed");
}

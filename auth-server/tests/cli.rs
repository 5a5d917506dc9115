//! Process-level behaviour of the binary: bad configuration stops it with one line that
//! names the variable; `--help` documents every subcommand and variable; a first start
//! writes the bootstrap admin secret to a 0600 file and logs only its path; the operator
//! commands (`keys rotate`, `admin client create`, `admin user create`, `admin subscription
//! export`/`import`) work.

use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
    // The export is exactly acme's part of the stream (the sink also carried the system
    // subscription's bootstrap events), and nothing else: no log line on stdout.
    let streamed: Vec<serde_json::Value> = streamed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exported: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let acme = streamed
        .iter()
        .find(|e| e["id"] == exported[0]["id"])
        .expect("exported events were streamed")["subscription_id"]
        .clone();
    let ids = |events: Vec<&serde_json::Value>| -> Vec<String> {
        let mut v: Vec<String> = events.iter().map(|e| e["id"].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        ids(exported.iter().collect()),
        ids(streamed
            .iter()
            .filter(|e| e["subscription_id"] == acme)
            .collect()),
        "export returns what was streamed"
    );
}

/// A server process started by a test, with its log lines (stdout and stderr) arriving on
/// a channel; killed (by its own handle) when dropped.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Server {
    /// `auth-server serve` on a free port with JSON logs; returns once it listens.
    fn start(dir: &std::path::Path) -> Server {
        let mut child = bin()
            .arg("serve")
            .env("AUTH_DATA_DIR", dir)
            .env("AUTH_LISTEN", "127.0.0.1:0")
            .env("AUTH_LOG_FORMAT", "json")
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
        let mut server = Server {
            child,
            port: 0,
            lines,
            log: Vec::new(),
        };
        // Wait for the "listening" event (a blocking receive with a deadline, no sleep).
        while server.port == 0 {
            let line = server
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("the server did not start: {:?}", server.log));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["fields"]["message"] == "listening" {
                server.port = v["fields"]["port"].as_u64().unwrap() as u16;
            }
            server.log.push(line);
        }
        server
    }

    /// One HTTP/1.1 exchange; returns the status and the body.
    fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// A client-credentials token request at `/t/{slug}/token`.
    fn client_credentials(&self, slug: &str, id: &str, secret: &str, scope: &str) -> (u16, String) {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        self.http(
            "POST",
            &format!("/t/{slug}/token"),
            &[
                ("Authorization", &format!("Basic {basic}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!("grant_type=client_credentials&scope={scope}"),
        )
    }

    /// Stop the process and return everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The pipes are closed now: the reader threads drain them and hang up.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.log.push(line);
        }
        self.log.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn a_first_start_writes_the_admin_secret_0600_and_logs_its_path_but_never_the_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let path = dir.path().join("admin-client-secret");
    let meta = std::fs::metadata(&path).expect("the secret file exists after a first start");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let secret = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(secret.len() >= 32, "a generated secret is long");
    // It is the real secret of the bootstrap admin client.
    let (status, body) = server.client_credentials("system", "admin", &secret, "admin");
    assert_eq!(status, 200, "{body}");
    let log = server.stop();
    assert!(
        log.contains(&path.display().to_string()),
        "the log names the file: {log}"
    );
    assert!(!log.contains(&secret), "the secret reached the log");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!log.contains(&token), "a token reached the log");
}

/// Run a CLI command on `dir`; returns stdout, panicking with stderr on failure.
fn run_ok(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = bin();
    c.args(args).env("AUTH_DATA_DIR", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value after `prefix` on the line that starts with it.
fn field<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
        .trim()
}

#[test]
fn keys_rotate_and_admin_client_and_user_create_work_against_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(
        d,
        &[
            "admin",
            "subscription",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
        ],
        &[],
    );
    let out = run_ok(
        d,
        &[
            "admin",
            "client",
            "create",
            "--subscription",
            "acme",
            "--name",
            "svc",
            "--grant-types",
            "client_credentials",
            "--scope",
            "read write",
        ],
        &[],
    );
    let client_id = field(&out, "client_id:").to_owned();
    let secret = field(&out, "client_secret:")
        .trim_end_matches("(shown once)")
        .trim()
        .to_owned();
    assert!(secret.len() >= 32, "{out}");
    let out = run_ok(
        d,
        &[
            "admin",
            "user",
            "create",
            "--subscription",
            "acme",
            "--username",
            "bob",
        ],
        &[("AUTH_NEW_USER_PASSWORD", "correct horse battery")],
    );
    let bob = field(&out, "user id (sub):").to_owned();
    assert!(!out.contains("correct horse battery"));
    // A taken username and an unknown subscription are refused with a non-zero exit.
    for args in [
        &[
            "admin",
            "user",
            "create",
            "--subscription",
            "acme",
            "--username",
            "bob",
        ][..],
        &["keys", "rotate", "--subscription", "no-such"][..],
    ] {
        let out = bin().args(args).env("AUTH_DATA_DIR", d).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    let active = |out: &str| -> Vec<String> {
        field(out, "rotated; active keys:")
            .split(", ")
            .map(str::to_owned)
            .collect()
    };
    let first = active(&run_ok(
        d,
        &["keys", "rotate", "--subscription", "acme"],
        &[],
    ));
    let second = active(&run_ok(
        d,
        &["keys", "rotate", "--subscription", "acme"],
        &[],
    ));
    assert!(!first.is_empty());
    assert!(
        first.iter().all(|k| !second.contains(k)),
        "{first:?} {second:?}"
    );

    let server = Server::start(d);
    // The client works: a token with its scope.
    let (status, body) = server.client_credentials("acme", &client_id, &secret, "read");
    assert_eq!(status, 200, "{body}");
    // JWKS publishes the active keys and the ones just retired (tokens they signed
    // must still verify).
    let (status, jwks) = server.http("GET", "/t/acme/jwks", &[], "");
    assert_eq!(status, 200);
    let jwks: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    for kid in first.iter().chain(&second) {
        assert!(kids.contains(&kid.as_str()), "{kid} not in {kids:?}");
    }
    server.stop();
    // Each command left its audit event, and the user is the printed `sub`.
    let export = run_ok(d, &["audit", "export", "--subscription", "acme"], &[]);
    // Nothing but JSON lines on stdout: the command's own logs go to stderr.
    let events: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let count = |action: &str| events.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("key.rotated"), 2, "{export}");
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "user.created" && e["target"]["id"] == bob.as_str())
    );
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "client.created" && e["target"]["id"] == client_id.as_str())
    );
    assert!(!export.contains(&secret), "no secret in the audit trail");
}

#[test]
fn subscription_export_and_import_move_a_tenant_to_another_data_dir() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());
    run_ok(
        a,
        &[
            "admin",
            "subscription",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
        ],
        &[],
    );
    run_ok(
        a,
        &[
            "admin",
            "user",
            "create",
            "--subscription",
            "acme",
            "--username",
            "alice",
        ],
        &[("AUTH_NEW_USER_PASSWORD", "correct horse battery")],
    );
    let bundle = a.join("acme.bundle.json");
    let bundle_arg = bundle.to_str().unwrap();
    let export = [
        "admin",
        "subscription",
        "export",
        "--subscription",
        "acme",
        "--out",
        bundle_arg,
    ];
    let pass = (
        "AUTH_EXPORT_PASSPHRASE",
        "a long passphrase from the environment",
    );
    // Without a passphrase, or with a short one: refused, no file.
    for env in [None, Some("short")] {
        let mut c = bin();
        c.args(export).env("AUTH_DATA_DIR", a);
        if let Some(p) = env {
            c.env(pass.0, p);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("AUTH_EXPORT_PASSPHRASE") || err.contains("at least 16 characters"),
            "{err}"
        );
        assert!(!bundle.exists());
    }
    let out = run_ok(a, &export, &[pass]);
    assert!(out.contains("exported subscription acme"), "{out}");
    // Never overwritten.
    let out = bin()
        .args(export)
        .env("AUTH_DATA_DIR", a)
        .env(pass.0, pass.1)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // Another data dir has another master key; the tenant and its audit chain arrive.
    let import = ["admin", "subscription", "import", "--from", bundle_arg];
    let out = run_ok(b, &import, &[pass]);
    assert!(out.contains("imported subscription acme"), "{out}");
    let out = run_ok(b, &["audit", "verify", "--subscription", "acme"], &[]);
    assert!(out.contains("audit chain intact"), "{out}");
    let out = run_ok(b, &["keys", "rotate", "--subscription", "acme"], &[]);
    assert!(out.contains("rotated"), "{out}");
    // Twice: the slug is taken.
    let out = bin()
        .args(import)
        .env("AUTH_DATA_DIR", b)
        .env(pass.0, pass.1)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("subscription \"acme\" already exists"),
        "{err}"
    );
}

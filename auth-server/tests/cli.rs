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

// ---- `admin` through the in-process admin API (issue 11 point 4) ----

/// Run a CLI command on `dir` and return (success, stdout, stderr).
fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = bin();
    c.args(args).env("AUTH_DATA_DIR", dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Run a `--json` admin command that must succeed; returns its parsed standard output.
fn json_ok(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = run_ok(dir, args, &[]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

#[test]
fn completion_scripts_are_generated_without_any_configuration() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bin()
            .args(["completion", shell])
            // A configuration that would not load: completion must not need it.
            .env("AUTH_LISTEN", "not-an-address")
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("auth-server") && script.contains("provision"),
            "{shell}: {script:.200}"
        );
    }
    let bash = bin().args(["completion", "bash"]).output().unwrap();
    let bash = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.contains("complete -F"), "a bash completion function");
}

#[test]
fn generic_admin_commands_round_trip_through_the_api_with_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // create = POST /admin/v1/subscriptions; --json prints the API's answer.
    let sub = json_ok(
        d,
        &[
            "admin",
            "--json",
            "create",
            "subscriptions",
            "-s",
            "slug=acme",
            "-s",
            "name=Acme",
        ],
    );
    assert_eq!(sub["slug"], "acme");
    assert!(sub["issuer"].as_str().unwrap().ends_with("/t/acme"));
    assert!(sub["mcp_client"]["client_secret"].as_str().unwrap().len() >= 32);
    // get, with --json after the subcommand too (a global flag).
    let got = json_ok(
        d,
        &["admin", "get", "/admin/v1/subscriptions/acme", "--json"],
    );
    assert_eq!(got["name"], "Acme");
    assert!(got.get("mcp_client").is_none(), "the secret is shown once");
    // Without --json: a table for a listing.
    let table = run_ok(d, &["admin", "get", "subscriptions"], &[]);
    assert!(table.lines().next().unwrap().contains("SLUG"), "{table}");
    assert!(
        table.contains("acme") && table.contains("system"),
        "{table}"
    );
    // A body from a file, with -s on top (key:=JSON for non-strings).
    let body = d.join("client.json");
    std::fs::write(
        &body,
        r#"{"name": "svc", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}"#,
    )
    .unwrap();
    let client = json_ok(
        d,
        &[
            "admin",
            "--json",
            "create",
            "subscriptions/acme/clients",
            "-f",
            body.to_str().unwrap(),
            "-s",
            "introspection:=true",
        ],
    );
    let id = client["client_id"].as_str().unwrap().to_owned();
    let path = format!("subscriptions/acme/clients/{id}");
    let updated = json_ok(
        d,
        &["admin", "--json", "update", &path, "-s", "name=renamed"],
    );
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["introspection"], true);
    let deleted = run_ok(d, &["admin", "delete", &path], &[]);
    assert!(deleted.contains("deleted"), "{deleted}");
    // The API's errors: non-zero exit, the error code (and field) on stderr.
    let (ok, out, err) = run(d, &["admin", "get", &path], &[]);
    assert!(!ok && out.is_empty());
    assert!(err.contains("not_found") && err.contains("404"), "{err}");
    let (ok, _, err) = run(
        d,
        &[
            "admin",
            "create",
            "subscriptions",
            "-s",
            "slug=acme",
            "-s",
            "name=Again",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("conflict") && err.contains("slug"), "{err}");
    let long = format!("password={}", "secret-".repeat(700));
    let (ok, _, err) = run(
        d,
        &[
            "admin",
            "create",
            "subscriptions/acme/users",
            "-s",
            "username=x",
            "-s",
            &long,
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("invalid_request") && err.contains("password"),
        "{err}"
    );
    assert!(!err.contains("secret-"), "no secret in the error: {err}");
    let (ok, _, err) = run(d, &["admin", "get", "no/such/path"], &[]);
    assert!(!ok && err.contains("not_found"), "{err}");
    // The changes are audited with the CLI as the actor.
    let audit = json_ok(
        d,
        &[
            "admin",
            "--json",
            "audit",
            "list",
            "--subscription",
            "acme",
            "--action",
            "client.updated",
        ],
    );
    let events = audit["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["actor"]["client_id"], "cli");
}

#[test]
fn typed_admin_commands_cover_the_common_console_actions() {
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
    let list = json_ok(d, &["admin", "--json", "subscription", "list", "--all"]);
    let slugs: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"acme") && slugs.contains(&"system"),
        "{slugs:?}"
    );
    let show = run_ok(d, &["admin", "subscription", "show", "acme"], &[]);
    assert!(show.contains("issuer:"), "{show}");
    // Clients: create (the historic flags), list, rotate the secret, delete.
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
        ],
        &[],
    );
    let id = field(&out, "client_id:").to_owned();
    let old = field(&out, "client_secret:").to_owned();
    let listed = run_ok(
        d,
        &["admin", "client", "list", "--subscription", "acme"],
        &[],
    );
    assert!(
        listed.contains(&id) && listed.contains("CLIENT_ID"),
        "{listed}"
    );
    let rotated = run_ok(
        d,
        &[
            "admin",
            "client",
            "rotate-secret",
            "--subscription",
            "acme",
            &id,
        ],
        &[],
    );
    assert_ne!(field(&rotated, "client_secret:"), old);
    run_ok(
        d,
        &["admin", "client", "delete", "--subscription", "acme", &id],
        &[],
    );
    // Users: create, disable, reset password, reset 2FA.
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
            "--email",
            "bob@example.com",
        ],
        &[("AUTH_NEW_USER_PASSWORD", "correct horse battery")],
    );
    let bob = field(&out, "user id (sub):").to_owned();
    run_ok(
        d,
        &["admin", "user", "disable", "--subscription", "acme", &bob],
        &[],
    );
    let shown = json_ok(
        d,
        &[
            "admin",
            "--json",
            "user",
            "show",
            "--subscription",
            "acme",
            &bob,
        ],
    );
    assert_eq!(shown["disabled"], true);
    assert_eq!(shown["email"], "bob@example.com");
    run_ok(
        d,
        &["admin", "user", "enable", "--subscription", "acme", &bob],
        &[],
    );
    let (ok, _, err) = run(
        d,
        &[
            "admin",
            "user",
            "reset-password",
            "--subscription",
            "acme",
            &bob,
        ],
        &[],
    );
    assert!(!ok && err.contains("AUTH_NEW_USER_PASSWORD"), "{err}");
    run_ok(
        d,
        &[
            "admin",
            "user",
            "reset-password",
            "--subscription",
            "acme",
            &bob,
        ],
        &[("AUTH_NEW_USER_PASSWORD", "another long passphrase")],
    );
    run_ok(
        d,
        &["admin", "user", "reset-2fa", "--subscription", "acme", &bob],
        &[],
    );
    // Keys: list and rotate.
    let keys = json_ok(
        d,
        &["admin", "--json", "keys", "list", "--subscription", "acme"],
    );
    // Active and next of ES256 and EdDSA; RS256 waits for its first use.
    assert_eq!(keys["items"].as_array().unwrap().len(), 4, "{keys}");
    let rotated = run_ok(
        d,
        &["admin", "keys", "rotate", "--subscription", "acme"],
        &[],
    );
    assert!(rotated.starts_with("rotated; active keys:"), "{rotated}");
    // Connections: an empty list; testing an unknown one is the API's 404.
    let conns = run_ok(
        d,
        &["admin", "connection", "list", "--subscription", "acme"],
        &[],
    );
    assert!(conns.contains("(none)"), "{conns}");
    let (ok, _, err) = run(
        d,
        &[
            "admin",
            "connection",
            "test",
            "--subscription",
            "acme",
            "nope",
        ],
        &[],
    );
    assert!(!ok && err.contains("not_found"), "{err}");
    // The audit listing with a filter, as a table.
    let audit = run_ok(
        d,
        &[
            "admin",
            "audit",
            "list",
            "--subscription",
            "acme",
            "--target-type",
            "user",
        ],
        &[],
    );
    assert!(
        audit.contains("user.created") && audit.contains("user.updated"),
        "{audit}"
    );
    assert!(!audit.contains("client.created"), "{audit}");
}

/// The usernames of a subscription, from `admin --json user list --all`.
fn usernames(dir: &std::path::Path, slug: &str) -> Vec<String> {
    let v = json_ok(
        dir,
        &[
            "admin",
            "--json",
            "user",
            "list",
            "--subscription",
            slug,
            "--all",
        ],
    );
    let mut names: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_csv_import_reports_each_bad_line_and_imports_the_others() {
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
    let csv = d.join("users.csv");
    // Line 4's password is over the 4 KiB limit: the API refuses it.
    let long = "secret-".repeat(700);
    std::fs::write(
        &csv,
        format!(
            "username,email,name,password\n\
             alice,alice@example.com,Alice,correct horse battery\n\
             bob,bob@example.com,\"Bob, Jr.\",\n\
             carol,carol@example.com,Carol,{long}\n\
             dave,dave@example.com\n\
             alice,other@example.com,Alice Again,\n\
             erin,,,\n"
        ),
    )
    .unwrap();
    let (ok, out, err) = run(
        d,
        &[
            "admin",
            "user",
            "import",
            "--subscription",
            "acme",
            "--from",
            csv.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok, "a failed line makes the exit non-zero");
    assert!(out.contains("line 4: password:"), "{out}");
    assert!(!out.contains("secret-"), "no password in the report: {out}");
    assert!(
        out.contains("line 5: 2 fields where the header has 4"),
        "{out}"
    );
    assert!(out.contains("line 6: username:"), "{out}");
    assert!(out.contains("imported 3 users, 3 failed"), "{out}");
    assert!(err.contains("3 of 6 records were not imported"), "{err}");
    assert_eq!(usernames(d, "acme"), ["alice", "bob", "erin"]);
    // --json: the same report as JSON.
    std::fs::write(&csv, "username\nfrank\n\n").unwrap();
    let v = json_ok(
        d,
        &[
            "admin",
            "--json",
            "user",
            "import",
            "--subscription",
            "acme",
            "--from",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (v["imported"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(0))
    );
}

#[test]
fn an_ldif_import_reads_base64_values_and_continued_lines() {
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
    let ldif = d.join("export.ldif");
    // "Élise Müller" in base64, and a mail folded over two lines (RFC 2849).
    std::fs::write(
        &ldif,
        "version: 1\n\
         \n\
         dn: ou=people,dc=example,dc=org\n\
         objectClass: organizationalUnit\n\
         ou: people\n\
         \n\
         dn: uid=elise,ou=people,dc=example,dc=org\n\
         objectClass: inetOrgPerson\n\
         uid: elise\n\
         cn: Elise\n\
         displayName:: w4lsaXNlIE3DvGxsZXI=\n\
         mail: elise.mueller@exa\n mple.org\n\
         userPassword: correct horse battery\n\
         \n\
         dn: uid=hash,ou=people,dc=example,dc=org\n\
         objectClass: inetOrgPerson\n\
         uid: hash\n\
         userPassword: {SSHA}c2VjcmV0c2FsdA==\n",
    )
    .unwrap();
    let (ok, out, _) = run(
        d,
        &[
            "admin",
            "user",
            "import",
            "--subscription",
            "acme",
            "--from",
            ldif.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("line 16: userPassword: is a hashed password"),
        "{out}"
    );
    assert!(
        out.contains("imported 1 users, 1 failed, 1 entries skipped"),
        "{out}"
    );
    let v = json_ok(
        d,
        &["admin", "--json", "user", "list", "--subscription", "acme"],
    );
    let elise = &v["items"][0];
    assert_eq!(elise["username"], "elise");
    assert_eq!(elise["name"], "Élise Müller");
    assert_eq!(elise["email"], "elise.mueller@example.org");
}

#[test]
fn provisioning_creates_many_subscriptions_and_reports_the_rate() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let creds = d.join("creds.jsonl");
    let v = json_ok(
        d,
        &[
            "admin",
            "--json",
            "subscription",
            "provision",
            "--prefix",
            "t",
            "--count",
            "50",
            "--concurrency",
            "4",
            "--credentials-out",
            creds.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (v["created"].as_u64(), v["failed"].as_u64()),
        (Some(50), Some(0)),
        "{v}"
    );
    assert!(v["per_second"].as_f64().unwrap() > 0.0);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&creds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 50);
    assert!(
        lines
            .iter()
            .all(|l| l["client_secret"].as_str().is_some_and(|s| s.len() >= 32))
    );
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let all = json_ok(d, &["admin", "--json", "subscription", "list", "--all"]);
    let slugs: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 51, "the 50 and system");
    assert!(
        slugs.contains(&"t-01") && slugs.contains(&"t-50"),
        "{slugs:?}"
    );
    // Each has its keys (RS256 comes with its first use) and MCP client.
    let keys = json_ok(
        d,
        &["admin", "--json", "keys", "list", "--subscription", "t-37"],
    );
    assert_eq!(keys["items"].as_array().unwrap().len(), 4);
    // Again with the same prefix: every slug is taken, reported, and the exit is non-zero.
    let (ok, out, err) = run(
        d,
        &[
            "admin",
            "subscription",
            "provision",
            "--prefix",
            "t",
            "--count",
            "10",
        ],
        &[],
    );
    assert!(!ok);
    assert!(out.contains("created 0 subscriptions"), "{out}");
    assert!(
        err.contains("t-01: conflict") && err.contains("10 of 10"),
        "{err}"
    );
    // The human output names the elapsed time and the rate.
    let out = run_ok(
        d,
        &[
            "admin",
            "subscription",
            "provision",
            "--prefix",
            "u",
            "--count",
            "2",
        ],
        &[],
    );
    assert!(
        out.contains("created 2 subscriptions in") && out.contains("per second"),
        "{out}"
    );
}

/// A fresh PostgreSQL database (dropped on drop), or `None` when PostgreSQL is
/// unreachable: a skip locally, a failure with `AUTH_TEST_REQUIRE_SERVICES=1` (CI).
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn create() -> Option<PgDatabase> {
        use sea_orm::ConnectionTrait;
        let admin = std::env::var("AUTH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("auth_cli_{}", uuid::Uuid::new_v4().simple());
        let created = Self::runtime().block_on(async {
            let db =
                tokio::time::timeout(Duration::from_secs(5), sea_orm::Database::connect(&admin))
                    .await
                    .ok()?
                    .ok()?;
            let ok = db
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .is_ok();
            let _ = db.close().await;
            ok.then_some(())
        });
        if created.is_none() {
            if std::env::var("AUTH_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
                panic!("postgres is required (AUTH_TEST_REQUIRE_SERVICES=1) but unreachable");
            }
            eprintln!("SKIPPED: postgres unreachable");
            return None;
        }
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        Some(PgDatabase {
            admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use sea_orm::ConnectionTrait;
        let (admin, name) = (self.admin.clone(), self.name.clone());
        Self::runtime().block_on(async {
            if let Ok(db) = sea_orm::Database::connect(&admin).await {
                let _ = db
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = db.close().await;
            }
        });
    }
}

#[test]
fn import_provisioning_and_generic_commands_work_on_postgresql() {
    let Some(pg) = PgDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = [("AUTH_DATABASE_URL", pg.url.as_str())];
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&run_ok(d, args, &env)).unwrap()
    };
    let v = json(&[
        "admin",
        "--json",
        "subscription",
        "provision",
        "--prefix",
        "pg",
        "--count",
        "12",
        "--concurrency",
        "4",
    ]);
    assert_eq!(
        (v["created"].as_u64(), v["failed"].as_u64()),
        (Some(12), Some(0)),
        "{v}"
    );
    let got = json(&["admin", "--json", "get", "subscriptions/pg-07"]);
    assert_eq!(got["slug"], "pg-07");
    let csv = d.join("users.csv");
    std::fs::write(&csv, "username,email\nann,ann@example.com\nbad,x,y\nben,\n").unwrap();
    let (ok, out, _) = run(
        d,
        &[
            "admin",
            "user",
            "import",
            "--subscription",
            "pg-07",
            "--from",
            csv.to_str().unwrap(),
        ],
        &env,
    );
    assert!(!ok);
    assert!(
        out.contains("line 3: 3 fields where the header has 2"),
        "{out}"
    );
    assert!(out.contains("imported 2 users, 1 failed"), "{out}");
    let users = json(&["admin", "--json", "user", "list", "--subscription", "pg-07"]);
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
    // Nothing went to the SQLite file of the data dir.
    assert!(!d.join("auth.db").exists());
    let (ok, _, err) = run(d, &["admin", "delete", "subscriptions/nope"], &env);
    assert!(!ok && err.contains("not_found"), "{err}");
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

/// `a` then `b`, as one argument list.
fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

#[test]
fn user_sessions_and_sign_out_commands_reach_the_api() {
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
            "user",
            "create",
            "--subscription",
            "acme",
            "--username",
            "bob",
        ],
        &[],
    );
    let bob = field(&out, "user id (sub):").to_owned();
    let sessions = ["admin", "user", "sessions", "--subscription", "acme"];
    // No browser has signed in: an empty table, and the API's JSON with --json.
    let table = run_ok(d, &cat(&sessions, &[bob.as_str()]), &[]);
    assert_eq!(table.trim(), "(none)");
    let v = json_ok(
        d,
        &cat(&["admin", "--json"], &cat(&sessions[1..], &[bob.as_str()])),
    );
    assert_eq!(v, serde_json::json!({"sessions": [], "grants": []}));
    // An unknown session, an unknown user: the API's 404 on standard error, exit 1.
    let sign_out = ["admin", "user", "sign-out", "--subscription", "acme"];
    let (ok, _, err) = run(
        d,
        &cat(&sign_out, &[bob.as_str(), "--session", "nope"]),
        &[],
    );
    assert!(
        !ok && err.contains("not_found") && err.contains("404"),
        "{err}"
    );
    let (ok, _, err) = run(d, &cat(&sessions, &["nobody"]), &[]);
    assert!(!ok && err.contains("not_found"), "{err}");
    // Everywhere: done, and audited as the CLI.
    let out = run_ok(d, &cat(&sign_out, &[bob.as_str()]), &[]);
    assert!(out.contains("signed out everywhere"), "{out}");
    let audit = json_ok(
        d,
        &[
            "admin",
            "--json",
            "get",
            "subscriptions/acme/audit",
            "-q",
            "action=user.signed_out",
        ],
    );
    let ev = &audit["items"][0];
    assert_eq!(ev["target"]["id"], bob.as_str(), "{audit}");
    assert_eq!(ev["actor"]["client_id"], "cli", "{audit}");
}

//! Graceful shutdown of the real binary: SIGTERM while requests are in flight lets every
//! accepted request finish with its normal answer, then the process exits cleanly and
//! stops listening.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

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

fn client() -> reqwest::Client {
    // One connection per request: a request is either accepted with its connection or
    // refused, never sent on a pooled connection the server is closing.
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_lets_every_accepted_request_finish() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AUTH_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .env("AUTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("AUTH_PUBLIC_URL", &base)
        .env("AUTH_DATA_DIR", dir.path())
        .env("AUTH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let http = client();
    let mut up = false;
    for _ in 0..300 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server came up");

    let secret = std::fs::read_to_string(dir.path().join("admin-client-secret")).unwrap();
    let token: serde_json::Value = http
        .post(format!("{base}/t/system/token"))
        .basic_auth("admin", Some(secret.trim()))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let created = http
        .post(format!("{base}/admin/v1/subscriptions"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // The burst: user creations hash their password with argon2id behind a semaphore of
    // one permit per core, so they queue and are still running when SIGTERM arrives.
    let (answered, mut first) = tokio::sync::mpsc::unbounded_channel::<()>();
    let burst: Vec<_> = (0..16)
        .map(|i| {
            let req = http
                .post(format!("{base}/admin/v1/subscriptions/acme/users"))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "username": format!("user{i}"),
                    "password": "correct horse battery staple",
                    "email": format!("user{i}@example.com"),
                    "name": format!("User {i}"),
                }));
            let answered = answered.clone();
            tokio::spawn(async move {
                let outcome = req.send().await.map(|r| r.status().as_u16());
                let _ = answered.send(());
                outcome
            })
        })
        .collect();
    // Every request has been accepted once one of them is answered (connecting and
    // parsing the headers is far faster than one argon2 hash); then stop the server.
    first.recv().await.unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The test proves something only if requests were still running at SIGTERM.
    let mut answered_by_now = 1;
    while first.try_recv().is_ok() {
        answered_by_now += 1;
    }
    assert!(answered_by_now < 16, "requests were in flight at SIGTERM");

    for (i, handle) in burst.into_iter().enumerate() {
        let outcome = handle.await.unwrap();
        assert_eq!(
            outcome.as_ref().ok(),
            Some(&201),
            "request {i} was accepted before SIGTERM and must complete: {outcome:?}"
        );
    }
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = server.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("the server exits after draining");
    assert!(status.success(), "clean exit: {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after the shutdown"
    );
}

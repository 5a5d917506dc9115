//! The embedded database's write-ahead log stays bounded under a stream of writes.
//! SQLite checkpoints the log after a commit that runs to completion; an `INSERT …
//! RETURNING` that the driver stops reading after its row commits when it is reset
//! instead, and never checkpoints. Token issuance was such a stream: with opaque tokens
//! the log grew by every token (about 14 KiB each) and the database file stayed empty.

use e2e::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

/// Tokens issued; without checkpoints their log would be about 40 MiB.
const TOKENS: usize = 3_000;
/// SQLite checkpoints at 1,000 pages (4 MiB); a few of those may pile up between
/// checkpoints under concurrent writers.
const MAX_LOG: u64 = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_token_issuance_keeps_the_write_ahead_log_bounded() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.create_subscription("acme").await;
    let c = app
        .create_client(
            "acme",
            json!({"name": "svc", "grant_types": ["client_credentials"], "scope": "read", "token_endpoint_auth_method": "client_secret_basic", "access_token_format": "opaque"}),
        )
        .await;
    let size = |name: &str| {
        std::fs::metadata(app.storage.dir.path().join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let db_before = size("auth.db");
    let mut largest_log = 0;
    for _ in 0..TOKENS / 100 {
        let batch = (0..100).map(|_| {
            app.token(
                "acme",
                &c.id,
                &c.secret,
                &[("grant_type", "client_credentials"), ("scope", "read")],
            )
        });
        for (status, body) in futures_util::future::join_all(batch).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        largest_log = largest_log.max(size("auth.db-wal"));
    }
    assert!(
        largest_log < MAX_LOG,
        "the log reached {largest_log} bytes for {TOKENS} tokens: no checkpoint ran"
    );
    assert!(
        size("auth.db") > db_before,
        "the tokens reached the database file (checkpointed)"
    );
}

//! Backup and restore of the embedded database: a refresh token issued before the
//! backup still works after the database was wiped and restored from it.

use e2e::{Backend, TestApp};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_issued_before_a_backup_works_after_wipe_and_restore() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = app.tenant_with_alice("acme").await;
    let before = app
        .code_flow("acme", &c, "alice", "correct horse battery")
        .await;
    let backup = app.storage.dir.path().join("backup.db");
    app.ctx.store.backup_sqlite(&backup).await.unwrap();
    // A backup never overwrites.
    assert!(app.ctx.store.backup_sqlite(&backup).await.is_err());
    // Changes after the backup are lost by the restore: this user will be gone.
    app.create_user("acme", "bob", "correct horse battery")
        .await;

    let storage = app.stop().await;
    let db = storage.dir.path().join("auth.db");
    for f in ["auth.db", "auth.db-wal", "auth.db-shm"] {
        let _ = std::fs::remove_file(storage.dir.path().join(f));
    }
    assert!(!db.exists(), "wiped");
    auth_server::store::backup::restore_sqlite(&storage.database_url, &backup).unwrap();

    let app = TestApp::on(storage).await;
    let (s, body) = app
        .token(
            "acme",
            &c.id,
            &c.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", before["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &c, at).await["active"], true);
    let admin = app.system_token().await;
    let (s, users) = app
        .admin(
            &admin,
            reqwest::Method::GET,
            "/subscriptions/acme/users",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!users.to_string().contains("\"bob\""), "{users}");
}

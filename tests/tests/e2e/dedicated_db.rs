//! Dedicated database per subscription (issue 8 point 6): a subscription created with a
//! `database_url` keeps all its tenant data there, the shared database keeps only its
//! subscription row, clients see no difference, other instances serve it without
//! restart, and the URL never comes back out of the admin API.

use e2e::acl::{PASSWORD, World};
use e2e::{Backend, Storage, TestApp, on_backends};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

on_backends!(
    a_dedicated_subscription_keeps_every_tenant_row_in_its_own_database,
    a_bad_database_url_is_a_400_naming_it_and_writes_nothing,
    moving_a_subscription_to_a_dedicated_database_keeps_its_tokens_and_users,
);

/// The tenant tables and whether a flow of the test leaves rows in them.
const TENANT_TABLES: [&str; 10] = [
    "signing_keys",
    "clients",
    "users",
    "token_families",
    "refresh_tokens",
    "audit_events",
    "acl_workspaces",
    "acl_groups",
    "acl_apps",
    "user_sessions",
];

/// A scratch database for a dedicated subscription: another SQLite file next to the
/// shared one, or a fresh PostgreSQL database on the same server (dropped afterwards).
struct ScratchDb {
    url: String,
    pg: Option<(String, String)>,
}

impl ScratchDb {
    async fn new(storage: &Storage, name: &str) -> ScratchDb {
        if storage.database_url.starts_with("sqlite:") {
            let path = storage.dir.path().join(format!("{name}.db"));
            return ScratchDb {
                url: format!("sqlite://{}?mode=rwc", path.display()),
                pg: None,
            };
        }
        let mut admin = url::Url::parse(&storage.database_url).unwrap();
        admin.set_path("/postgres");
        let db_name = format!("auth_test_ded_{}", uuid::Uuid::new_v4().simple());
        let conn = Database::connect(admin.as_str()).await.unwrap();
        conn.execute_unprepared(&format!("CREATE DATABASE \"{db_name}\""))
            .await
            .unwrap();
        let _ = conn.close().await;
        let mut url = admin.clone();
        url.set_path(&format!("/{db_name}"));
        ScratchDb {
            url: url.to_string(),
            pg: Some((admin.to_string(), db_name)),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(db) = Database::connect(admin).await {
                    let _ = db
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Rows of `table` belonging to subscription `sub` in the database `db`.
async fn rows(db: &DatabaseConnection, table: &str, sub: &str) -> i64 {
    rows_where(db, table, "subscription_id", sub).await
}

/// Rows of `table` whose `column` is `value` in the database `db`.
async fn rows_where(db: &DatabaseConnection, table: &str, column: &str, value: &str) -> i64 {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1")
        }
        _ => format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?"),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [value.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Every tenant table's rows of `sub` in `db`, by table.
async fn census(db: &DatabaseConnection, sub: &str) -> HashMap<&'static str, i64> {
    let mut out = HashMap::new();
    for t in TENANT_TABLES {
        out.insert(t, rows(db, t, sub).await);
    }
    out
}

/// The column `database_url_ciphertext` of subscription `sub` in `db`.
async fn stored_url(db: &DatabaseConnection, sub: &str) -> Option<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT database_url_ciphertext AS u FROM subscriptions WHERE id = $1"
        }
        _ => "SELECT database_url_ciphertext AS u FROM subscriptions WHERE id = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [sub.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<Option<String>>("", "u").unwrap()
}

/// Create subscription `slug` on `database_url` as the system admin.
async fn create(app: &TestApp, slug: &str, database_url: &str) -> (StatusCode, Value, String) {
    let t = app.system_token().await;
    let resp = app
        .http
        .post(format!("{}/admin/v1/subscriptions", app.base))
        .bearer_auth(&t)
        .json(&json!({"slug": slug, "name": slug, "database_url": database_url}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn a_dedicated_subscription_keeps_every_tenant_row_in_its_own_database(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dedicated = ScratchDb::new(&app.storage, "ded").await;
    let (s, created, text) = create(&app, "ded", &dedicated.url).await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    assert_eq!(created["dedicated_database"], true, "{created}");
    assert!(!text.contains(&dedicated.url), "the URL leaked: {text}");
    let sub = created["id"].as_str().unwrap().to_owned();

    // The tenant's world: a web client, an ACL resource server, users, a workspace.
    let mut w = World {
        app: &app,
        slug: "ded".into(),
        admin: app.system_token().await,
        web: app
            .create_client("ded", json!({"name": "web", "redirect_uris": ["https://c1.example/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid profile email offline_access", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
            .await,
        rs: app
            .create_client("ded", json!({"name": "rs", "grant_types": ["client_credentials"], "scope": "read",
                "token_endpoint_auth_method": "client_secret_basic", "introspection": true}))
            .await,
        users: HashMap::new(),
    };
    w.user("alice").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "participant").await;
    w.group("eng", "Engineering", &["alice"]).await;
    w.app(
        "eng",
        "bug-tracker",
        json!([{"group": "Engineering", "actions": ["read", "edit"], "records": "all"}]),
        json!([]),
    )
    .await;

    // Client credentials, introspected.
    let (s, cc) = app
        .token(
            "ded",
            &w.rs.id,
            &w.rs.secret,
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{cc}");
    let at = cc["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("ded", &w.rs, at).await["active"], true);

    // A code flow of alice, its refresh, and the ACL member of introspection.
    let tokens = app.code_flow("ded", &w.web, "alice", PASSWORD).await;
    let (s, refreshed) = app
        .token(
            "ded",
            &w.web.id,
            &w.web.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    let alice_at = refreshed["access_token"].as_str().unwrap();
    let d = w.decision(alice_at, "eng", "bug-tracker", None).await;
    assert_eq!(d["allowed"], true, "{d}");
    assert_eq!(d["actions"], json!(["read", "edit"]), "{d}");

    // Admin CRUD and the audit log, through the admin API.
    let bob = app.create_user("ded", "bob", PASSWORD).await;
    let (s, b) = w
        .call(
            Method::PATCH,
            &format!("/users/{bob}"),
            Some(json!({"name": "Bob"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = w.call(Method::DELETE, &format!("/users/{bob}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, audit) = w.call(Method::GET, "/audit?limit=200", None).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "subscription.created",
        "user.created",
        "user.updated",
        "user.deleted",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }

    // A subscription without a database_url stays in the shared database.
    let plain = app.create_subscription("plain").await;
    let plain_id = plain["id"].as_str().unwrap().to_owned();
    assert_eq!(plain["dedicated_database"], false, "{plain}");
    app.create_user("plain", "carol", PASSWORD).await;

    // The SQL truth: every tenant row of `ded` in its database, none in the shared one.
    let shared = Database::connect(e2e::inspect_url(&app.storage.database_url))
        .await
        .unwrap();
    let own = Database::connect(e2e::inspect_url(&dedicated.url))
        .await
        .unwrap();
    let there = census(&own, &sub).await;
    let here = census(&shared, &sub).await;
    for t in TENANT_TABLES {
        assert!(
            there[t] > 0,
            "no {t} rows in the dedicated database: {there:?}"
        );
        assert_eq!(
            here[t], 0,
            "{t} rows of ded in the shared database: {here:?}"
        );
    }
    // The control row stays shared, with the URL sealed (not the URL itself).
    let sealed = stored_url(&shared, &sub)
        .await
        .expect("a sealed database_url");
    assert!(!sealed.contains("sqlite") && !sealed.contains("postgres"));
    assert_eq!(
        stored_url(&own, &sub).await,
        None,
        "the anchor row has no URL"
    );
    // The plain tenant: all in the shared database, nothing in the dedicated one.
    assert!(rows(&shared, "users", &plain_id).await > 0);
    assert!(rows(&shared, "signing_keys", &plain_id).await > 0);
    assert_eq!(census(&own, &plain_id).await.values().sum::<i64>(), 0);

    // The admin API never returns the URL: one subscription, the listing.
    let t = app.system_token().await;
    for path in ["/subscriptions/ded", "/subscriptions?limit=100"] {
        let resp = app
            .http
            .get(format!("{}/admin/v1{path}", app.base))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        let text = resp.text().await.unwrap();
        assert!(!text.contains(&dedicated.url), "{path}: {text}");
        assert!(!text.contains("database_url"), "{path}: {text}");
        assert!(
            text.contains("\"dedicated_database\":true"),
            "{path}: {text}"
        );
    }

    // A second instance serves the dedicated tenant: its tokens verify there, and it
    // issues new ones from the same database.
    let b = TestApp::on(Arc::clone(&app.storage)).await;
    assert_eq!(b.introspect("ded", &w.rs, at).await["active"], true);
    let (s, cc2) = b
        .token(
            "ded",
            &w.rs.id,
            &w.rs.secret,
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{cc2}");
    let t2 = b.code_flow("ded", &w.web, "alice", PASSWORD).await;
    assert_eq!(
        app.introspect("ded", &w.web, t2["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
    assert_eq!(rows(&shared, "refresh_tokens", &sub).await, 0);

    // Deleting the subscription deletes its rows in its database (not the database).
    let (s, _) = app
        .admin(&t, Method::DELETE, "/subscriptions/ded", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(census(&own, &sub).await.values().sum::<i64>(), 0);
    assert_eq!(rows_where(&own, "subscriptions", "id", &sub).await, 0);
    let (s, _) = app.admin(&t, Method::GET, "/subscriptions/ded", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The plain tenant is untouched.
    assert!(rows(&shared, "users", &plain_id).await > 0);
}

async fn a_bad_database_url_is_a_400_naming_it_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let unreachable = "postgres://nobody:secret-pw@127.0.0.1:1/nothing";
    for url in [
        "mysql://db.example/tenant",
        "not a url",
        "postgres://db.example/",
        unreachable,
    ] {
        let (s, body, text) = create(&app, "bad", url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {text}");
        assert_eq!(body["field"], "database_url", "{url}: {body}");
        assert!(!text.contains("secret-pw"), "{url}: {text}");
    }
    // The shared database as a "dedicated" one is refused: it is a control plane.
    let (s, body, _) = create(&app, "bad", &app.storage.database_url).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "database_url", "{body}");
    // Nothing was written.
    let t = app.system_token().await;
    let (s, _) = app.admin(&t, Method::GET, "/subscriptions/bad", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app
        .admin(&t, Method::GET, "/subscriptions?limit=100", None)
        .await;
    let slugs: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["system"]);
}

async fn moving_a_subscription_to_a_dedicated_database_keeps_its_tokens_and_users(
    backend: Backend,
) {
    use auth_server::service::Actor;
    use auth_server::service::transfer::dedicated::{MoveError, move_database};
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let web = app.tenant_with_alice("acme").await;
    app.create_subscription("beta").await;
    let before = app.code_flow("acme", &web, "alice", PASSWORD).await;
    let acme = app.ctx.store.subscriptions().by_slug("acme").await.unwrap();
    let beta = app.ctx.store.subscriptions().by_slug("beta").await.unwrap();
    let target = ScratchDb::new(&app.storage, "moved").await;
    let url = secrecy::SecretString::from(target.url.clone());
    let actor = Actor::default();

    // Refusals first: they move nothing.
    let shared_url = secrecy::SecretString::from(app.storage.database_url.clone());
    let e = move_database(&app.ctx, "acme", &shared_url, Duration::ZERO, &actor)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("database_url"), "{e}");
    let e = move_database(&app.ctx, "system", &url, Duration::ZERO, &actor)
        .await
        .unwrap_err();
    assert!(matches!(e, MoveError::System), "{e}");

    let moved = move_database(&app.ctx, "acme", &url, Duration::ZERO, &actor)
        .await
        .unwrap();
    assert!(moved.rows["users"] >= 1, "{:?}", moved.rows);

    // The rows are in the dedicated database only; beta stays shared.
    let shared = Database::connect(e2e::inspect_url(&app.storage.database_url))
        .await
        .unwrap();
    let own = Database::connect(e2e::inspect_url(&target.url))
        .await
        .unwrap();
    for t in [
        "signing_keys",
        "clients",
        "users",
        "token_families",
        "refresh_tokens",
        "audit_events",
        "user_sessions",
    ] {
        assert!(rows(&own, t, &acme.id.0).await > 0, "no {t} rows moved");
        assert_eq!(
            rows(&shared, t, &acme.id.0).await,
            0,
            "{t} rows left behind"
        );
    }
    assert!(stored_url(&shared, &acme.id.0).await.is_some());
    assert!(rows(&shared, "users", &beta.id.0).await == 0);
    assert!(rows(&shared, "signing_keys", &beta.id.0).await > 0);
    assert_eq!(rows(&own, "signing_keys", &beta.id.0).await, 0);

    // Clients notice nothing: the access token is still active, the refresh token
    // redeems, alice logs in again, on this instance and on another one.
    let at = before["access_token"].as_str().unwrap();
    assert_eq!(app.introspect("acme", &web, at).await["active"], true);
    let (s, refreshed) = app
        .token(
            "acme",
            &web.id,
            &web.secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", before["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    app.code_flow("acme", &web, "alice", PASSWORD).await;
    let b = TestApp::on(Arc::clone(&app.storage)).await;
    let new_at = refreshed["access_token"].as_str().unwrap();
    assert_eq!(b.introspect("acme", &web, new_at).await["active"], true);
    let t = app.system_token().await;
    let (_, view) = app
        .admin(&t, Method::GET, "/subscriptions/acme", None)
        .await;
    assert_eq!(view["dedicated_database"], true, "{view}");

    // Once moved, never again (and nothing changes).
    let e = move_database(&app.ctx, "acme", &url, Duration::ZERO, &actor)
        .await
        .unwrap_err();
    assert!(matches!(e, MoveError::AlreadyDedicated(_)), "{e}");
    // Another tenant may join the same dedicated database.
    move_database(&app.ctx, "beta", &url, Duration::ZERO, &actor)
        .await
        .unwrap();
    assert!(rows(&own, "signing_keys", &beta.id.0).await > 0);
    assert_eq!(rows(&shared, "signing_keys", &beta.id.0).await, 0);
    let bc = app.web_client("beta").await;
    assert!(!bc.id.is_empty());
}

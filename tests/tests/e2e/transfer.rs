//! Moving one subscription between deployments (issue 8 point 5): export from one
//! deployment, import into another with a different master key (SQLite → PostgreSQL and
//! back), and the tenant works there as before — same keys, its tokens verify and
//! refresh, its users log in with password and TOTP, its ACL answers are the same, its
//! connection secret decrypts and its audit chain verifies. Refused imports (wrong
//! passphrase, taken slug, damaged or unknown bundles, a failure half-way) write nothing.

use auth_server::service::audit::{self, Verification};
use auth_server::service::transfer::{self, TransferError, bundle::BundleError};
use auth_server::service::{Actor, connections};
use e2e::acl::World;
use e2e::totp;
use e2e::{Backend, Storage, TestApp, on_backends, pkce_pair, query_param, verify_jwt};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const PASSPHRASE: &str = "a long export passphrase for the move";

fn cli() -> Actor {
    Actor {
        client_id: Some("cli".into()),
        ..Actor::default()
    }
}

/// A source on `from` and a target on `to` (its own data dir, hence its own master
/// key) that announces the same public URL: the tenant moves behind the same name.
async fn two_deployments(from: Backend, to: Backend) -> Option<(TestApp, TestApp)> {
    let source = TestApp::spawn(from).await?;
    let storage = Storage::new(to).await?;
    storage.public_url.set(source.public.clone()).unwrap();
    let target = TestApp::on(storage).await;
    Some((source, target))
}

fn passphrase_file(app: &TestApp, text: &str) -> PathBuf {
    let path = app
        .storage
        .dir
        .path()
        .join(format!("pass-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, format!("{text}\n")).unwrap();
    path
}

async fn export(app: &TestApp, slug: &str) -> PathBuf {
    let out = app.storage.dir.path().join(format!("{slug}.bundle.json"));
    let pass = passphrase_file(app, PASSPHRASE);
    transfer::export_to_file(&app.ctx, slug, &out, Some(&pass), &cli())
        .await
        .unwrap();
    out
}

async fn import(app: &TestApp, file: &Path, passphrase: &str) -> Result<String, TransferError> {
    let pass = passphrase_file(app, passphrase);
    transfer::import_from_file(&app.ctx, file, Some(&pass), &cli())
        .await
        .map(|imported| imported.to_string())
}

async fn jwks(app: &TestApp, slug: &str) -> Value {
    let mut keys: Vec<Value> = app
        .http
        .get(format!("{}/t/{slug}/jwks", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["keys"]
        .as_array()
        .unwrap()
        .clone();
    keys.sort_by_key(|k| k["kid"].as_str().unwrap().to_owned());
    Value::Array(keys)
}

async fn chain(app: &TestApp, slug: &str) -> i64 {
    let sub = app.ctx.store.subscriptions().by_slug(slug).await.unwrap();
    match audit::verify(&app.ctx, &sub.id).await.unwrap() {
        Verification::Intact { events } => events as i64,
        broken => panic!("audit chain of {slug} broken: {broken:?}"),
    }
}

async fn moved_tenant_works_on_the_target(from: Backend, to: Backend) {
    let Some((source, target)) = two_deployments(from, to).await else {
        return;
    };
    // The tenant: clients, users (one with TOTP), an OIDC connection with a secret,
    // ACL data, and tokens issued on the source.
    let mut w = World::new(&source, "acme").await;
    w.user("alice").await;
    w.user("bob").await;
    w.workspace("eng").await;
    w.participant("eng", "alice", "participant").await;
    w.group("eng", "Engineering", &["alice"]).await;
    w.app(
        "eng",
        "bugs",
        json!([{"group": "Engineering", "actions": ["read", "edit"], "records": "all"}]),
        json!([]),
    )
    .await;
    w.must(
        StatusCode::CREATED,
        Method::POST,
        "/connections",
        Some(
            json!({"name": "upstream", "kind": "oidc", "issuer": "https://idp.example",
            "client_id": "auth-server", "client_secret": "upstream-client-secret"}),
        ),
    )
    .await;
    let (secret, _codes) = totp::enrol(&source, &w.web, &source.new_browser(), "bob").await;
    let tokens = source
        .code_flow("acme", &w.web, "alice", totp::PASSWORD)
        .await;
    let at = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let acl_before = w.acl(at, "eng", Some("bugs"), None).await;
    assert!(
        acl_before.to_string().contains("edit"),
        "alice edits bugs: {acl_before}"
    );
    let jwks_before = jwks(&source, "acme").await;
    let events_before = chain(&source, "acme").await;

    let file = export(&source, "acme").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the bundle is owner-only");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    for secret_text in ["upstream-client-secret", "alice@", "$argon2", &secret] {
        assert!(!text.contains(secret_text), "{secret_text} in clear");
    }
    // An export never overwrites.
    let again = transfer::export_to_file(
        &source.ctx,
        "acme",
        &file,
        Some(&passphrase_file(&source, PASSPHRASE)),
        &cli(),
    )
    .await
    .unwrap_err();
    assert!(matches!(again, TransferError::Exists(_)), "{again}");

    let report = import(&target, &file, PASSPHRASE).await.unwrap();
    assert!(report.starts_with("imported subscription acme"), "{report}");
    assert!(!report.contains("warning"), "same issuer: {report}");

    // The source's clock ran ahead during the TOTP enrolment (test clocks): bring the
    // target's past the tokens' `iat` and past the enrolment's TOTP step.
    target.clock.advance(60);
    // Same keys.
    assert_eq!(jwks(&target, "acme").await, jwks_before);
    // The access token introspects active, the ID token verifies with the target's keys.
    let moved = World {
        app: &target,
        slug: "acme".into(),
        admin: target.system_token().await,
        web: w.web.clone(),
        rs: w.rs.clone(),
        users: w.users.clone(),
    };
    let (s, intro) = moved.introspect(at, &[]).await;
    assert_eq!(
        (s, &intro["active"]),
        (StatusCode::OK, &json!(true)),
        "{intro}"
    );
    let claims = verify_jwt(
        id_token,
        &jwks(&target, "acme").await,
        &target.issuer("acme"),
        &w.web.id,
    );
    assert_eq!(claims["sub"], json!(w.id("alice")));
    // The ACL answer is the same.
    assert_eq!(moved.acl(at, "eng", Some("bugs"), None).await, acl_before);
    // The refresh token redeems, and the new access token is valid there.
    let (s, refreshed) = target
        .token(
            "acme",
            &w.web.id,
            &w.web.secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    let (_, intro) = moved
        .introspect(refreshed["access_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(intro["active"], true);
    // Bob signs in with password and TOTP (the seed was re-encrypted for the target).
    let browser = target.new_browser();
    let (verifier, challenge) = pkce_pair();
    let url = target.authorize_url("acme", &w.web.id, &challenge, &[]);
    let loc = totp::password_step(&target, &browser, &url, "bob").await;
    let code = totp::code_at(&secret, totp::now(&target));
    let (resp, _) = totp::submit_code(&target, &browser, &loc, &code).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let mut done = totp::location(&resp);
    if query_param(&done, "code").is_none() {
        done = target.continue_login(&browser, done, "bob", "").await;
    }
    let bob = totp::redeem(&target, &w.web, &done, &verifier).await;
    assert_eq!(
        totp::claims(bob["id_token"].as_str().unwrap())["sub"],
        json!(w.id("bob"))
    );
    // The connection secret decrypts with the target's master key.
    let sub = target
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap();
    let conn = target
        .ctx
        .db(&sub.id)
        .await
        .unwrap()
        .repos()
        .connections()
        .by_name(&sub.id, "upstream")
        .await
        .unwrap();
    let secret = connections::resolve_secret(&target.ctx, &sub.id, &conn).unwrap();
    assert_eq!(secret.expose_secret(), "upstream-client-secret");
    // The audit chain came along and still verifies, extended by the import.
    assert!(chain(&target, "acme").await > events_before);
    let actions = totp::audit_actions(&target).await;
    for action in ["subscription.created", "subscription.imported"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    assert!(
        totp::audit_actions(&source)
            .await
            .contains(&"subscription.exported".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moved_from_sqlite_to_postgres_works_there_unchanged() {
    moved_tenant_works_on_the_target(Backend::Sqlite, Backend::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moved_from_postgres_to_sqlite_works_there_unchanged() {
    moved_tenant_works_on_the_target(Backend::PostgresRedis, Backend::Sqlite).await;
}

on_backends!(
    refused_imports_write_nothing,
    a_tenant_without_rs256_keys_moves_and_makes_them_on_first_use_there
);

/// The algorithms of a subscription's stored keys, through the admin keys API.
async fn stored_algs(app: &TestApp, slug: &str) -> Vec<String> {
    let admin = app.system_token().await;
    let path = format!("/subscriptions/{slug}/keys");
    let (s, keys) = app.admin(&admin, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    let mut algs: Vec<String> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap().to_owned())
        .collect();
    algs.sort();
    algs
}

/// A subscription whose RS256 keys were never needed (made on first use) exports and
/// imports without them, and makes them on the target at its first RS256 ID token.
async fn a_tenant_without_rs256_keys_moves_and_makes_them_on_first_use_there(backend: Backend) {
    let Some((source, target)) = two_deployments(backend, backend).await else {
        return;
    };
    let web = source.tenant_with_alice("acme").await;
    let eager = ["ES256", "ES256", "EdDSA", "EdDSA"];
    assert_eq!(stored_algs(&source, "acme").await, eager);
    let file = export(&source, "acme").await;
    let report = import(&target, &file, PASSPHRASE).await.unwrap();
    assert!(report.starts_with("imported subscription acme"), "{report}");
    assert_eq!(stored_algs(&target, "acme").await, eager);

    let tokens = target
        .code_flow("acme", &web, "alice", "correct horse battery")
        .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = verify_jwt(
        id_token,
        &jwks(&target, "acme").await,
        &target.issuer("acme"),
        &web.id,
    );
    assert!(claims["sub"].is_string());
    let with_rs256 = ["ES256", "ES256", "EdDSA", "EdDSA", "RS256", "RS256"];
    assert_eq!(stored_algs(&target, "acme").await, with_rs256);
}

/// Whether the target holds anything of subscription `slug` (id `id`).
async fn holds(app: &TestApp, slug: &str, id: &auth_server::domain::SubscriptionId) -> bool {
    let subs = app.ctx.store.subscriptions();
    let keys = app.ctx.store.shared();
    subs.by_slug(slug).await.is_ok()
        || subs.get(id).await.is_ok()
        || keys
            .repos()
            .keys()
            .list(id)
            .await
            .is_ok_and(|k| !k.is_empty())
}

fn edit_bundle(file: &Path, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    f(&mut v);
    let out = file.with_extension(format!("edited-{}", uuid::Uuid::new_v4()));
    std::fs::write(&out, serde_json::to_vec(&v).unwrap()).unwrap();
    out
}

async fn refused_imports_write_nothing(backend: Backend) {
    let Some((source, target)) = two_deployments(Backend::Sqlite, backend).await else {
        return;
    };
    source.tenant_with_alice("acme").await;
    let id = source
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap()
        .id;
    let file = export(&source, "acme").await;
    let refused = |e: TransferError| e.to_string();

    let wrong = refused(
        import(&target, &file, "not the export passphrase")
            .await
            .unwrap_err(),
    );
    assert!(wrong.contains("wrong passphrase"), "{wrong}");
    assert!(!holds(&target, "acme", &id).await);

    let short = refused(import(&target, &file, "short").await.unwrap_err());
    assert!(short.contains("at least 16 characters"), "{short}");

    let flipped = edit_bundle(&file, |v| {
        let ct = v["ciphertext"].as_str().unwrap().to_owned();
        let swapped = if ct.starts_with('A') { "B" } else { "A" };
        v["ciphertext"] = format!("{swapped}{}", &ct[1..]).into();
    });
    let corrupted = refused(import(&target, &flipped, PASSPHRASE).await.unwrap_err());
    assert!(corrupted.contains("corrupted"), "{corrupted}");
    let renamed = edit_bundle(&file, |v| v["summary"]["slug"] = "other".into());
    let corrupted = refused(import(&target, &renamed, PASSPHRASE).await.unwrap_err());
    assert!(corrupted.contains("corrupted"), "{corrupted}");
    assert!(!holds(&target, "acme", &id).await);

    let future = edit_bundle(&file, |v| {
        v["format"] = "auth-server-subscription-bundle/9".into()
    });
    let unknown = refused(import(&target, &future, PASSPHRASE).await.unwrap_err());
    assert!(
        unknown.contains("unsupported bundle format \"auth-server-subscription-bundle/9\""),
        "{unknown}"
    );
    assert!(!holds(&target, "acme", &id).await);

    // A row that fails half-way (a duplicate user id, after the subscription, its keys
    // and its clients were inserted) rolls the whole import back.
    let pass = secrecy::SecretString::from(PASSPHRASE.to_owned());
    let (summary, payload) = transfer::bundle::open(&std::fs::read(&file).unwrap(), &pass).unwrap();
    let mut rows: Value = serde_json::from_slice(&payload).unwrap();
    let alice = rows["users"][0].clone();
    rows["users"].as_array_mut().unwrap().push(alice);
    let resealed =
        transfer::bundle::seal(&summary, &serde_json::to_vec(&rows).unwrap(), &pass).unwrap();
    let half = file.with_extension("half");
    std::fs::write(&half, resealed).unwrap();
    let collision = refused(import(&target, &half, PASSPHRASE).await.unwrap_err());
    assert!(collision.contains("nothing was imported"), "{collision}");
    assert!(!holds(&target, "acme", &id).await);

    // The real import succeeds once; a second one finds the slug taken.
    import(&target, &file, PASSPHRASE).await.unwrap();
    let taken = refused(import(&target, &file, PASSPHRASE).await.unwrap_err());
    assert!(
        taken.contains("subscription \"acme\" already exists"),
        "{taken}"
    );
    // A target with its own "acme" keeps it untouched.
    let Some(other) = TestApp::spawn(backend).await else {
        return;
    };
    other.create_subscription("acme").await;
    let theirs = other
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap();
    let taken = refused(import(&other, &file, PASSPHRASE).await.unwrap_err());
    assert!(taken.contains("already exists"), "{taken}");
    let still = other
        .ctx
        .store
        .subscriptions()
        .by_slug("acme")
        .await
        .unwrap();
    assert_eq!(still.id, theirs.id);
    assert!(other.ctx.store.subscriptions().get(&id).await.is_err());
    // `system` is never exported.
    let out = source.storage.dir.path().join("system.bundle.json");
    let system = transfer::export_to_file(
        &source.ctx,
        "system",
        &out,
        Some(&passphrase_file(&source, PASSPHRASE)),
        &cli(),
    )
    .await
    .unwrap_err();
    assert!(matches!(system, TransferError::System), "{system}");
    assert!(!out.exists());
    // A short passphrase is refused before anything is read or written.
    let weak = transfer::export_to_file(
        &source.ctx,
        "acme",
        &out,
        Some(&passphrase_file(&source, "")),
        &cli(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(weak, TransferError::Bundle(BundleError::WeakPassphrase(0))),
        "{weak}"
    );
    assert!(!out.exists());
}

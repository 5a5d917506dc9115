//! Test harness: spawns the real application on a random port against a real database
//! (SQLite in a temp dir, or a fresh PostgreSQL database plus a Redis key namespace), and
//! offers one typed helper per endpoint. Settings are built in code, never read from
//! the environment (tests run in parallel in one process).

pub mod acl;
pub mod samba;
pub mod slapd;
pub mod throwaway;
pub mod totp;

use auth_server::clock::ManualClock;
use auth_server::config::Settings;
use auth_server::service::Ctx;
use auth_server::startup::{Application, BuildOptions};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;
use std::sync::Arc;

/// The claims of `token` after checking it as a relying party does: its `kid` names a
/// key of `jwks` (a JWK Set, or its `keys` array), the signature verifies with it, and
/// `iss`, `aud` and `exp` hold. Panics otherwise.
pub fn verify_jwt(token: &str, jwks: &Value, issuer: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .get("keys")
        .unwrap_or(jwks)
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap_or_else(|| panic!("the token's key {:?} is published", header.kid));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .expect("the token verifies")
        .claims
}

/// Which storage the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded default: SQLite file + in-process ephemeral store.
    Sqlite,
    /// Production shape: PostgreSQL + Redis.
    PostgresRedis,
}

/// Generates `name::sqlite` and `name::postgres_redis` tests from `async fn name(Backend)`.
#[macro_export]
macro_rules! on_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                super::$name($crate::Backend::PostgresRedis).await
            }
        }
    )*};
}

/// The value of one sample (`name{labels}` exactly as exposed) in a Prometheus text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn require_services() -> bool {
    std::env::var("AUTH_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Whether the cargo subcommand `cargo-{tool}` is installed (`cargo {tool} --version`).
pub fn cargo_tool_installed(tool: &str) -> bool {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([tool, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Node.js and the `tests/node_modules` holding `package`: `npm ci` runs when the package
/// is missing, once per test process. The tests run in parallel and `npm ci` starts by
/// deleting `node_modules`, so the check and the install hold one lock: a test never
/// sees another's half-done install. `false` (after [`skip`]) when they cannot be had.
pub fn node_package(package: &str) -> bool {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let node = std::process::Command::new("node").arg("--version").output();
    if node.is_err() {
        skip("node");
        return false;
    }
    let _one_install = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules").join(package).exists() {
        return true;
    }
    let installed = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        skip(&format!("npm ci ({package})"));
    }
    installed
}

/// Report a missing service: a skip locally, a failure in CI.
pub fn skip(what: &str) {
    if require_services() {
        panic!("{what} is required (AUTH_TEST_REQUIRE_SERVICES=1) but unreachable");
    }
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    eprintln!("SKIPPED {name}: {what} unreachable");
}

fn pg_admin_url() -> String {
    std::env::var("AUTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The role the application connects as on PostgreSQL: an ordinary role owning the test
/// database (it may create the dedicated ones), as in production, so that row-level
/// security applies (a superuser, such as the admin URL's, bypasses it).
pub const PG_APP_ROLE: &str = "auth_test_app";

/// `url` for a test's own look at the database (counting, tampering): on PostgreSQL with
/// every tenant's rows in scope (`app.tenant_id = '*'` as a session option), since the
/// row-level security of the tenant tables hides every row from a session without it.
pub fn inspect_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.scheme().starts_with("postgres") => {
            u.query_pairs_mut()
                .append_pair("options[app.tenant_id]", "*");
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn redis_url() -> String {
    std::env::var("AUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Storage shared by the instances of one test (restart and multi-instance tests).
pub struct Storage {
    /// Data dir (SQLite file, master key, admin secret).
    pub dir: tempfile::TempDir,
    /// Database URL.
    pub database_url: String,
    /// Redis URL, when used.
    pub redis_url: Option<String>,
    /// Redis key prefix of this test.
    pub prefix: String,
    /// The public URL every instance announces (the first instance's address), as
    /// behind a load balancer; later instances and restarts keep it.
    pub public_url: std::sync::OnceLock<String>,
    /// (admin URL, database name) of the PostgreSQL database to drop afterwards.
    pg_db: Option<(String, String)>,
}

impl Storage {
    /// Fresh storage for `backend`, or `None` (skip) when a service is unreachable.
    pub async fn new(backend: Backend) -> Option<Arc<Storage>> {
        let dir = tempfile::tempdir().ok()?;
        let prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let database_url = format!("sqlite://{}/auth.db?mode=rwc", dir.path().display());
                Some(Arc::new(Storage {
                    dir,
                    database_url,
                    redis_url: None,
                    prefix,
                    public_url: Default::default(),
                    pg_db: None,
                }))
            }
            Backend::PostgresRedis => Self::postgres_redis(&pg_admin_url(), &redis_url()).await,
        }
    }

    /// Fresh storage on the PostgreSQL server at `pg_admin` (a new database) and the
    /// Redis at `redis`, or `None` (skip) when one is unreachable.
    pub async fn postgres_redis(pg_admin: &str, redis: &str) -> Option<Arc<Storage>> {
        let dir = tempfile::tempdir().ok()?;
        let prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
        let name = format!("auth_test_{}", uuid::Uuid::new_v4().simple());
        let admin = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sea_orm::Database::connect(pg_admin),
        )
        .await
        {
            Ok(Ok(db)) => db,
            _ => {
                skip("postgres");
                return None;
            }
        };
        use sea_orm::ConnectionTrait;
        // Concurrent tests race to create the role: whoever loses finds it there.
        let role = admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN CREATE ROLE {PG_APP_ROLE} LOGIN CREATEDB; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .is_ok();
        let owner = if role {
            format!(" OWNER {PG_APP_ROLE}")
        } else {
            String::new()
        };
        if admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\"{owner}"))
            .await
            .is_err()
        {
            skip("postgres (CREATE DATABASE)");
            return None;
        }
        let _ = admin.close().await;
        let redis = redis.to_owned();
        // Cluster URLs (`redis+cluster://`) come from clusters the test itself started.
        let reachable = !redis.starts_with("redis://")
            || match redis::Client::open(redis.as_str()) {
                Ok(c) => tokio::time::timeout(
                    std::time::Duration::from_secs(3),
                    c.get_multiplexed_async_connection(),
                )
                .await
                .is_ok_and(|r| r.is_ok()),
                Err(_) => false,
            };
        let mut url = url::Url::parse(pg_admin).ok()?;
        url.set_path(&format!("/{name}"));
        if role {
            url.set_username(PG_APP_ROLE).ok()?;
            url.set_password(None).ok()?;
        }
        let storage = Storage {
            dir,
            database_url: url.to_string(),
            redis_url: Some(redis),
            prefix,
            public_url: Default::default(),
            pg_db: Some((pg_admin.to_owned(), name)),
        };
        if !reachable {
            skip("redis");
            return None;
        }
        Some(Arc::new(storage))
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg_db.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sea_orm::ConnectionTrait;
                if let Ok(db) = sea_orm::Database::connect(admin_url).await {
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

/// A running application and a browser-like HTTP client.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`: where this instance listens.
    pub base: String,
    /// The announced public URL (issuers are `{public}/t/{slug}`).
    pub public: String,
    /// HTTP client: cookies kept, redirects never followed.
    pub http: reqwest::Client,
    /// The app's clock.
    pub clock: ManualClock,
    /// The app's service context (direct store access for assertions).
    pub ctx: Ctx,
    /// The storage (shared with restarts / second instances).
    pub storage: Arc<Storage>,
    handle: actix_web::dev::ServerHandle,
    /// The CA the clients trust when the instance serves HTTPS.
    ca: Option<reqwest::Certificate>,
}

/// A browser-like client (cookies kept, redirects never followed), trusting `ca` if set.
fn browser(ca: Option<&reqwest::Certificate>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true);
    if let Some(ca) = ca {
        b = b.add_root_certificate(ca.clone());
    }
    b.build().unwrap()
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct TestClient {
    /// client_id
    pub id: String,
    /// client_secret
    pub secret: String,
}

/// PKCE verifier and S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn hidden_input(html: &str, name: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).ok()?;
    doc.select(&sel)
        .next()?
        .value()
        .attr("value")
        .map(str::to_owned)
}

impl TestApp {
    /// A fresh app on fresh storage (`None`: a service is missing, test skipped).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let storage = Storage::new(backend).await?;
        Some(Self::on(storage).await)
    }

    /// A fresh app whose test settings `tweak` adjusts first (e.g. test mode off).
    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let storage = Storage::new(backend).await?;
        Some(Self::on_with(storage, tweak).await)
    }

    /// Another instance on the same storage (restart or scale-out).
    pub async fn on(storage: Arc<Storage>) -> TestApp {
        Self::on_with(storage, |_| {}).await
    }

    /// [`TestApp::on`] with the settings adjusted by `tweak`.
    pub async fn on_with(storage: Arc<Storage>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::on_full(storage, tweak, None).await
    }

    /// An instance serving HTTPS with `cert`/`key`; its HTTP clients trust `ca` (PEM).
    pub async fn on_tls(
        storage: Arc<Storage>,
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &[u8],
    ) -> TestApp {
        let ca = reqwest::Certificate::from_pem(ca).expect("CA certificate");
        Self::on_full(storage, |_| {}, Some((cert.to_owned(), key.to_owned(), ca))).await
    }

    #[allow(clippy::field_reassign_with_default)] // reads as the list of test settings
    async fn on_full(
        storage: Arc<Storage>,
        tweak: impl FnOnce(&mut Settings),
        tls: Option<(std::path::PathBuf, std::path::PathBuf, reqwest::Certificate)>,
    ) -> TestApp {
        let known = storage.public_url.get().cloned();
        let mut settings = Settings {
            public_url: match &known {
                Some(u) => url::Url::parse(u).unwrap(),
                None => Settings::default().public_url,
            },
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: storage.dir.path().to_path_buf(),
            database_url: Some(storage.database_url.clone()),
            redis_url: storage.redis_url.clone(),
            db_max_connections: 4,
            // Metadata documents in the tests are served on 127.0.0.1 (test mode).
            cimd_allow_loopback: true,
            tls_cert: tls.as_ref().map(|t| t.0.clone()),
            tls_key: tls.as_ref().map(|t| t.1.clone()),
            ..Settings::default()
        };
        tweak(&mut settings);
        let ca = tls.map(|t| t.2);
        let clock = ManualClock::new();
        if std::env::var_os("TEST_LOG").is_some() {
            auth_server::telemetry::init("info", false, auth_server::telemetry::LogTo::Stdout);
        }
        let options = BuildOptions {
            clock: Some(Arc::new(clock.clone())),
            public_url_from_port: known.is_none(),
            cache_prefix: Some(storage.prefix.clone()),
        };
        let app = Application::build(settings, options)
            .await
            .expect("application builds");
        let port = app.port();
        let ctx = app.ctx();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let http = browser(ca.as_ref());
        let scheme = if ca.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://127.0.0.1:{port}");
        let public = storage.public_url.get_or_init(|| base.clone()).clone();
        TestApp {
            base,
            public,
            http,
            clock,
            ctx,
            storage,
            handle,
            ca,
        }
    }

    /// Stop this instance (graceful); returns its storage.
    pub async fn stop(self) -> Arc<Storage> {
        self.handle.stop(true).await;
        Arc::clone(&self.storage)
    }

    /// Stop this instance (graceful) and start a new one on the same storage.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        Self::on(Arc::clone(&self.storage)).await
    }

    /// A second HTTP client (another browser).
    pub fn new_browser(&self) -> reqwest::Client {
        browser(self.ca.as_ref())
    }

    /// Issuer of `slug`.
    pub fn issuer(&self, slug: &str) -> String {
        format!("{}/t/{slug}", self.public)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let resp = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.unwrap()
    }

    /// A system admin token (client credentials of the bootstrap client).
    pub async fn system_token(&self) -> String {
        let secret =
            std::fs::read_to_string(self.storage.dir.path().join("admin-client-secret")).unwrap();
        let r = self
            .token(
                "system",
                "admin",
                secret.trim(),
                &[("grant_type", "client_credentials"), ("scope", "admin")],
            )
            .await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
        r.1["access_token"].as_str().unwrap().to_owned()
    }

    /// An admin API call; returns status and JSON body (Null if none).
    pub async fn admin(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Create a subscription (as system admin); returns the creation body.
    pub async fn create_subscription(&self, slug: &str) -> Value {
        let t = self.system_token().await;
        let (s, body) = self
            .admin(
                &t,
                reqwest::Method::POST,
                "/subscriptions",
                Some(json!({"slug": slug, "name": slug})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        body
    }

    /// Register a client in `slug` with `body`.
    pub async fn create_client(&self, slug: &str, body: Value) -> TestClient {
        let t = self.system_token().await;
        let (s, b) = self
            .admin(
                &t,
                reqwest::Method::POST,
                &format!("/subscriptions/{slug}/clients"),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        TestClient {
            id: b["client_id"].as_str().unwrap().to_owned(),
            secret: b["client_secret"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// A confidential web client (code + refresh, introspection allowed).
    pub async fn web_client(&self, slug: &str) -> TestClient {
        self.create_client(
            slug,
            json!({"name": "web", "redirect_uris": ["https://c1.example/cb", "http://127.0.0.1/cb"], "grant_types": ["authorization_code", "refresh_token"],
                   "scope": "openid profile email offline_access", "token_endpoint_auth_method": "client_secret_basic", "introspection": true}),
        )
        .await
    }

    /// Create a user; returns its `sub`.
    pub async fn create_user(&self, slug: &str, username: &str, password: &str) -> String {
        let t = self.system_token().await;
        let (s, b) = self.admin(&t, reqwest::Method::POST, &format!("/subscriptions/{slug}/users"), Some(json!({"username": username, "password": password, "email": format!("{username}@example.com"), "name": username}))).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    /// POST to `/t/{slug}/token` with Basic client authentication.
    pub async fn token(
        &self,
        slug: &str,
        id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}/t/{slug}/token", self.base))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Introspect `token` as client `c`.
    pub async fn introspect(&self, slug: &str, c: &TestClient, token: &str) -> Value {
        let resp = self
            .http
            .post(format!("{}/t/{slug}/introspect", self.base))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// The authorize URL for `client` with PKCE `challenge` and extra parameters.
    pub fn authorize_url(
        &self,
        slug: &str,
        client_id: &str,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut url = url::Url::parse(&format!("{}/t/{slug}/authorize", self.base)).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", "https://c1.example/cb");
            if !extra.iter().any(|(k, _)| *k == "scope") {
                q.append_pair("scope", "openid profile offline_access");
            }
            q.append_pair("state", "st-1")
                .append_pair("code_challenge", challenge);
            q.append_pair("code_challenge_method", "S256");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        url.to_string()
    }

    /// Start `/authorize` with `browser` and open the login form it leads to; returns
    /// the form's hidden `tx` and `csrf` values.
    pub async fn open_login_form(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
    ) -> (String, String) {
        let resp = browser.get(authorize_url).send().await.unwrap();
        let login = self.location(resp);
        let html = browser
            .get(format!("{}{login}", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (
            hidden_input(&html, "tx").expect("form has tx"),
            hidden_input(&html, "csrf").expect("form has csrf"),
        )
    }

    /// Follow `/authorize` through login (and consent, allowing) with `browser`; returns
    /// the final redirect to the client.
    pub async fn browser_login(
        &self,
        browser: &reqwest::Client,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> String {
        let location = self.location(browser.get(authorize_url).send().await.unwrap());
        self.continue_login(browser, location, username, password)
            .await
    }

    /// Continue an authorization request whose first hop (GET or POST `/authorize`)
    /// answered `location`: log in (and consent, allowing) with `browser`; returns the
    /// final redirect to the client.
    pub async fn continue_login(
        &self,
        browser: &reqwest::Client,
        mut location: String,
        username: &str,
        password: &str,
    ) -> String {
        for _ in 0..4 {
            let absolute = if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                location.clone()
            };
            if !absolute.starts_with(&self.base) {
                return location;
            }
            let html = browser
                .get(&absolute)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let tx = hidden_input(&html, "tx").expect("form has tx");
            let csrf = hidden_input(&html, "csrf").expect("form has csrf");
            let path = url::Url::parse(&absolute).unwrap().path().to_owned();
            let form: Vec<(&str, &str)> = if path.ends_with("/login") {
                vec![
                    ("tx", &tx),
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                    ("action", "login"),
                ]
            } else {
                vec![("tx", &tx), ("csrf", &csrf), ("decision", "allow")]
            };
            let resp = browser
                .post(format!("{}{path}", self.base))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::SEE_OTHER,
                "POST {path} should answer 303"
            );
            location = self.location(resp);
        }
        location
    }

    fn location(&self, resp: reqwest::Response) -> String {
        let status = resp.status();
        resp.headers()
            .get("location")
            .unwrap_or_else(|| panic!("expected a redirect, got {status}"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Run a whole code flow for `user`; returns the token response.
    pub async fn code_flow(
        &self,
        slug: &str,
        client: &TestClient,
        username: &str,
        password: &str,
    ) -> Value {
        let browser = self.new_browser();
        self.code_flow_in(
            &browser,
            slug,
            client,
            (username, password),
            &[("nonce", "n-1")],
        )
        .await
    }

    /// [`TestApp::code_flow`] in `browser` (its session is kept) with extra
    /// authorization parameters; returns the token response.
    pub async fn code_flow_in(
        &self,
        browser: &reqwest::Client,
        slug: &str,
        client: &TestClient,
        (username, password): (&str, &str),
        extra: &[(&str, &str)],
    ) -> Value {
        let (verifier, challenge) = pkce_pair();
        let url = self.authorize_url(slug, &client.id, &challenge, extra);
        let redirect = self.browser_login(browser, &url, username, password).await;
        let code =
            query_param(&redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));
        let (s, body) = self
            .token(
                slug,
                &client.id,
                &client.secret,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "https://c1.example/cb"),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body
    }

    /// A subscription `slug` with a web client and user alice; returns the client.
    pub async fn tenant_with_alice(&self, slug: &str) -> TestClient {
        self.create_subscription(slug).await;
        self.create_user(slug, "alice", "correct horse battery")
            .await;
        self.web_client(slug).await
    }
}

//! Composition root: bind, connect, migrate, bootstrap, serve.
//!
//! `Application::build` binds first (port 0 is fine) so that a test can derive the
//! public URL from the real port before anything else uses it.

use crate::cache::{Ephemeral, MemoryStore, RedisStore};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::directory::password::PasswordHasher;
use crate::http::{self, middleware, state::Metrics};
use crate::service::{Ctx, CtxInner, tenants};
use crate::store::Store;
use crate::tokens::MasterKey;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;

/// Options that tests set and production leaves at their defaults.
#[derive(Debug, Default)]
pub struct BuildOptions {
    /// The clock (tests pass a `ManualClock`).
    pub clock: Option<Arc<dyn Clock>>,
    /// Derive `public_url` from the bound port (tests bind port 0).
    pub public_url_from_port: bool,
    /// Namespace for Redis keys (tests use one per test).
    pub cache_prefix: Option<String>,
}

/// A built, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
    ctx: Ctx,
    summary: Summary,
}

/// What the server runs with, logged at start and at stop so that an operator reading
/// the log of any instance knows its configuration. Built only from values that are not
/// secret: hosts, paths, the admin client's id, where the master key came from.
#[derive(Debug, Clone)]
struct Summary {
    listen: std::net::SocketAddr,
    public_url: String,
    database: String,
    redis: String,
    tls: bool,
    master_key: String,
    admin_client_id: String,
}

impl Summary {
    fn new(settings: &Settings, listen: std::net::SocketAddr) -> Summary {
        let key_file = settings.data_dir.join("master-key");
        let master_key = match (&settings.master_key, key_file.exists()) {
            (Some(_), _) => "AUTH_MASTER_KEY".to_owned(),
            (None, true) => format!("file:{}", key_file.display()),
            (None, false) => format!("generated:{}", key_file.display()),
        };
        Summary {
            listen,
            public_url: settings.public_url.to_string(),
            database: settings.database_summary(),
            redis: settings.redis_summary(),
            tls: settings.tls_cert.is_some(),
            master_key,
            admin_client_id: settings.admin_client_id.clone(),
        }
    }

    fn log(&self, message: &str) {
        tracing::info!(
            listen = %self.listen,
            public_url = %self.public_url,
            database = %self.database,
            redis = %self.redis,
            tls = self.tls,
            master_key = %self.master_key,
            admin_client_id = %self.admin_client_id,
            "{message}"
        );
    }
}

/// Connect to storage and apply migrations (also `auth-server migrate`).
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "AUTH_DATA_DIR: cannot create {}",
            settings.data_dir.display()
        )
    })?;
    let store = Store::connect(
        &settings.effective_database_url(),
        settings.db_max_connections,
    )
    .await
    .context("AUTH_DATABASE_URL: cannot connect to the database")?;
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

/// The master key from `AUTH_MASTER_KEY`, or the one generated into the data dir.
pub fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    if let Some(k) = &settings.master_key {
        return MasterKey::parse(k.expose_secret())
            .map_err(|e| anyhow::anyhow!("AUTH_MASTER_KEY: {e}"));
    }
    let path = settings.data_dir.join("master-key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return MasterKey::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let (key, encoded) = MasterKey::generate();
    tenants::write_secret_file(&path, &encoded)?;
    tracing::warn!(path = %path.display(), "AUTH_MASTER_KEY is not set: generated a master key into the data directory; back it up and set AUTH_MASTER_KEY in production");
    Ok(key)
}

/// Build the service context (shared by the server and the CLI commands).
pub async fn build_ctx(settings: Settings, options: &BuildOptions) -> anyhow::Result<Ctx> {
    let store = connect_store(&settings).await?;
    let cache: Arc<dyn Ephemeral> = match &settings.redis_url {
        Some(url) => Arc::new(
            RedisStore::connect(
                url,
                options.cache_prefix.as_deref().unwrap_or("auth:"),
                settings.redis_ca_file.as_deref(),
            )
            .await
            .context("AUTH_REDIS_URL: cannot connect to Redis")?,
        ),
        None => Arc::new(MemoryStore::new()),
    };
    let master_key = master_key(&settings)?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let ctx = Ctx::new(CtxInner {
        clock: options
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock)),
        store,
        cache,
        master_key,
        passwords: PasswordHasher::new(cores)?,
        keyrings: Default::default(),
        tenants: Default::default(),
        owner: Default::default(),
        // Bounded: an attacker sending random tokens or client ids cannot grow them.
        verified: crate::service::introspect::verified_cache(),
        clients: moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(std::time::Duration::from_secs(60))
            .build(),
        connections: moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(std::time::Duration::from_secs(60))
            .build(),
        audit_sink: match &settings.audit_sink {
            Some(spec) => Some(
                crate::service::audit::Sink::open(spec)
                    .with_context(|| format!("AUTH_AUDIT_SINK: cannot open {spec}"))?,
            ),
            None => None,
        },
        acl: Default::default(),
        directories: Default::default(),
        throttle: Default::default(),
        settings,
    });
    match tenants::bootstrap_system(&ctx).await? {
        tenants::Bootstrap::CreatedWithGeneratedSecret(path) => {
            tracing::warn!(path = %path.display(), client_id = %ctx.settings.admin_client_id, "created the system subscription; the bootstrap admin client secret was written to this file");
        }
        tenants::Bootstrap::CreatedWithConfiguredSecret => {
            tracing::info!("created the system subscription and bootstrap admin client")
        }
        tenants::Bootstrap::Existing => {}
    }
    Ok(ctx)
}

impl Application {
    /// Bind, connect, migrate and bootstrap; the server is ready to run.
    pub async fn build(
        mut settings: Settings,
        options: BuildOptions,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("AUTH_LISTEN: cannot bind {}", settings.listen))?;
        let local = listener.local_addr()?;
        let port = local.port();
        if options.public_url_from_port {
            let scheme = if settings.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            settings.public_url = url::Url::parse(&format!("{scheme}://127.0.0.1:{port}"))?;
        }
        let tls = tls_config(&settings)?;
        // Read before build_ctx, which generates a missing master key.
        let summary = Summary::new(&settings, local);
        let console_api = http::console::Api::new(&settings.public_url, local)
            .context("cannot build the console's API client")?;
        let ctx = build_ctx(settings, &options).await?;
        crate::service::jobs::spawn(ctx.clone());
        let metrics = Metrics::new()?;
        for collector in ctx.cache.collectors() {
            metrics.register(collector)?;
        }
        let documents = http::protocol::discovery::MetadataCache::default();
        let app_ctx = ctx.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_ctx.clone()))
                .app_data(web::Data::new(metrics.for_worker()))
                .app_data(web::Data::new(console_api.clone()))
                // One `Data` per worker around shared state: extracting a `Data` clones
                // its `Arc`, and an `Arc` shared by every worker moves its cache line
                // between the cores on every request.
                .app_data(web::Data::new(documents.clone()))
                .app_data(web::PayloadConfig::new(64 * 1024))
                .app_data(web::QueryConfig::default())
                .wrap(actix_web::middleware::from_fn(middleware::edge))
                .configure(http::configure)
        })
        .shutdown_timeout(25);
        let server = match tls {
            Some(cfg) => server.listen_rustls_0_23(listener, cfg)?,
            None => server.listen(listener)?,
        }
        .run();
        summary.log("auth-server started");
        Ok(Application {
            port,
            server,
            ctx,
            summary,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (graceful: in-flight requests finish).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The service context (tests use it to reach the store directly).
    pub fn ctx(&self) -> Ctx {
        self.ctx.clone()
    }

    /// Serve until SIGTERM/SIGINT; in-flight requests finish (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        match &result {
            Ok(()) => self.summary.log("auth-server stopped"),
            Err(e) => tracing::error!(error = %e, "auth-server stopped with an error"),
        }
        result
    }
}

fn tls_config(settings: &Settings) -> anyhow::Result<Option<rustls::ServerConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    let cert = crate::tls::ReloadingCert::load(cert, key)?;
    cert.watch();
    crate::tls::server_config(cert).map(Some)
}

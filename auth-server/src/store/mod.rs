//! Durable storage over sea-orm (SQLite or PostgreSQL).
//!
//! One repository per aggregate. Every tenant-scoped method takes the
//! [`SubscriptionId`](crate::domain::SubscriptionId) first; a row of another
//! subscription reads as [`StoreError::NotFound`], exactly as if it did not exist. The
//! one cross-tenant read is [`subscriptions::Subscriptions::list_all`] (the system
//! admin's listing). Repositories are generic over the connection so that a service
//! can run several of them, and its audit event, in one transaction ([`Tx`]).
//! sea-orm types never leave this module.
//!
//! Tenant repositories are reached only through the tenant's database
//! ([`Store::tenant`] → [`TenantDb`]): the shared one, or the subscription's dedicated
//! database ([`routing`]). The shared database is also the control plane, whose
//! subscription rows are read through [`Store::subscriptions`].
//!
//! On PostgreSQL, row-level security backs the repositories' filter ([`scope`]): a
//! [`TenantDb`] from [`Store::tenant`] sees only its subscription's rows even through a
//! query that forgot the filter; the cross-tenant paths ([`Store::shared`],
//! [`Store::begin_control`], [`TenantDb::cross_tenant`]) say so explicitly.

pub mod acl;
pub mod audit;
pub mod backup;
pub mod clients;
pub mod connections;
pub mod consents;
mod entity;
pub mod health;
pub mod keys;
pub mod login_locks;
pub mod metadata_clients;
pub mod mfa;
pub mod routing;
mod scope;
pub mod sign_in;
pub mod subscriptions;
pub mod tokens;
pub mod transfer;
pub mod user_sessions;
pub mod users;

use crate::domain::SubscriptionId;
pub use scope::{Scope, Scoped};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqlErr, TransactionTrait,
};
use std::time::Duration;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in this subscription.
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The violated constraint (driver text, never shown to clients).
        constraint: String,
    },
    /// The database is unreachable or timed out: callers answer 503.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// Any other database error.
    #[error("database error")]
    Db(#[source] DbErr),
    /// A stored value could not be decoded (corrupt row).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(c)) => StoreError::Conflict { constraint: c },
            _ if is_unavailable(&e) => StoreError::Unavailable(e),
            _ => StoreError::Db(e),
        }
    }
}

/// Whether `e` means "the database is away or overloaded" (callers answer 503 and retry
/// later) rather than "this statement is wrong" (a bug: 500). A query in flight when
/// PostgreSQL stops fails with an I/O error or `57P01 admin_shutdown`, not with a
/// connection error, so the driver error is inspected too.
fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Query(r) | DbErr::Exec(r) => r,
        _ => return false,
    };
    let sea_orm::RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::BeginFailed => true,
        Sqlx::Database(db) => db.code().is_some_and(|c| unavailable_code(&c)),
        _ => false,
    }
}

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) of a database that is away, shutting
/// down, out of connections or too slow, as opposed to a faulty statement.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources (too many connections, disk full)
        || matches!(
            code,
            "57014" // query_canceled: statement_timeout
                | "57P01" // admin_shutdown
                | "57P02" // crash_shutdown
                | "57P03" // cannot_connect_now (starting up, in recovery)
                | "55P03" // lock_not_available: lock_timeout
                | "5" // SQLITE_BUSY after busy_timeout
                | "6" // SQLITE_LOCKED
                | "517" // SQLITE_BUSY_SNAPSHOT
        )
}

/// Decode a JSON text column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(what))
}

/// Encode a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Connections of the database pool at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (idle and in use).
    pub open: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// The pool's bound (`AUTH_DB_MAX_CONNECTIONS`; at most 4 for SQLite).
    pub max: u32,
}

/// The database handle shared by the services: the shared database (the control plane,
/// and the tenant data of subscriptions without a dedicated database) and the routes to
/// dedicated databases ([`routing`]).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    routes: std::sync::Arc<routing::Routes>,
}

/// The PostgreSQL advisory lock held while migrating. Without it, two replicas starting
/// on an empty database both see every migration pending and the second fails half-way
/// ("duplicate key value violates unique constraint", "relation already exists").
///
/// The lock is a session lock on a connection taken out of the pool for the purpose:
/// migrations run on other pooled connections, and if the process dies mid-migration its
/// session ends and PostgreSQL releases the lock (the interrupted migration's transaction
/// rolls back). Advisory locks are scoped to the current database, so deployments sharing
/// a PostgreSQL server do not wait for each other.
struct MigrationLock {
    conn: sea_orm::sqlx::PgConnection,
}

/// The advisory lock key: any constant that nothing else on this database uses.
const MIGRATION_LOCK_KEY: i64 = i64::from_be_bytes(*b"authmigr");

/// How long a replica waits for another's migrations before giving up (start fails).
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(300);

fn sqlx_unavailable(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Unavailable(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(e),
    )))
}

impl MigrationLock {
    /// The lock, or `None` on a PostgreSQL-compatible database without advisory locks
    /// (some distributed SQL engines): migrating unlocked there is what happened before
    /// the lock existed, and refusing to start would be worse. Logged as a warning.
    async fn acquire(db: &DatabaseConnection) -> Result<Option<MigrationLock>, StoreError> {
        let pooled = db.get_postgres_connection_pool().acquire().await;
        // Detached: the connection holding the session lock never goes back to the pool.
        let mut conn = pooled.map_err(sqlx_unavailable)?.detach();
        let deadline = tokio::time::Instant::now() + MIGRATION_LOCK_WAIT;
        // Polled with the non-blocking variant: pooled sessions carry lock_timeout (3 s)
        // and statement_timeout (5 s), shorter than a migration may take, so a blocking
        // pg_advisory_lock would be cancelled while the other replica is still migrating.
        loop {
            let taken = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .fetch_one(&mut conn)
                .await;
            let taken: bool = match taken {
                Err(sea_orm::sqlx::Error::Database(e))
                    // undefined_function, feature_not_supported
                    if matches!(e.code().as_deref(), Some("42883" | "0A000")) =>
                {
                    tracing::warn!(error = %e, "the database has no advisory locks: migrating without the lock; start replicas one at a time");
                    return Ok(None);
                }
                other => other.map_err(sqlx_unavailable)?,
            };
            if taken {
                return Ok(Some(MigrationLock { conn }));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(DbErr::Custom(format!(
                    "another instance held the migration lock for {} s",
                    MIGRATION_LOCK_WAIT.as_secs()
                ))));
            }
            tracing::info!("another instance is migrating the database; waiting");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Unlock and close the session (closing alone would release the lock too).
    async fn release(mut self) {
        let unlocked = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut self.conn)
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "releasing the migration lock failed; closing its session releases it");
        }
        let _ = sea_orm::sqlx::Connection::close(self.conn).await;
    }
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub struct Tx {
    tx: DatabaseTransaction,
    events: std::sync::Mutex<Vec<(crate::domain::SubscriptionId, audit::AuditEvent)>>,
}

impl Store {
    /// Connect with bounded pool acquisition so a dead database answers fast (503)
    /// instead of hanging requests.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Ok(Store {
            db: connect_pool(url, max_connections, false).await?,
            routes: Default::default(),
        })
    }

    /// Apply every pending migration; on PostgreSQL under an advisory lock, so that
    /// replicas starting together migrate one after the other.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate_db(&self.db).await
    }

    /// The connection pool's state, for `/metrics`.
    pub fn pool_status(&self) -> PoolStatus {
        fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStatus {
            PoolStatus {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => of(self.db.get_postgres_connection_pool()),
            sea_orm::DbBackend::Sqlite => of(self.db.get_sqlite_connection_pool()),
            _ => PoolStatus::default(),
        }
    }

    /// Reachability check for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        // Bounded on the client side too: a database host that stopped answering (no
        // RST, no FIN) must not hold `/readyz` past the load balancer's probe timeout.
        match tokio::time::timeout(Duration::from_secs(3), self.db.ping()).await {
            Ok(r) => r.map_err(StoreError::Unavailable),
            Err(_) => Err(StoreError::Unavailable(DbErr::Custom(
                "ping timed out".into(),
            ))),
        }
    }

    /// The subscriptions (the control plane): always on the shared database.
    pub fn subscriptions(&self) -> subscriptions::Subscriptions<'_, DatabaseConnection> {
        subscriptions::Subscriptions { c: &self.db }
    }

    /// A transaction on the shared database, for control-plane writes (the subscription
    /// rows). Tenant data is written through [`Store::tenant`]'s database instead.
    /// Control transactions are cross-tenant (a subscription's purge, import).
    pub async fn begin_control(&self) -> Result<Tx, StoreError> {
        begin_on(&self.db, &Scope::AllTenants).await
    }

    /// The shared database with every tenant's rows in scope (housekeeping, import):
    /// requests of one tenant use [`Store::tenant`] instead.
    pub fn shared(&self) -> TenantDb {
        TenantDb::new(self.db.clone(), Scope::AllTenants)
    }

    /// The database holding the tenant data of `sub`: the dedicated database named by
    /// its subscription row (whose sealed URL `open` decrypts), or the shared one. The
    /// route is remembered for [`routing::ROUTE_TTL`]; while the shared database is
    /// away the last route learnt keeps serving.
    pub async fn tenant(
        &self,
        sub: &SubscriptionId,
        open: impl FnOnce(&[u8]) -> Option<String>,
    ) -> Result<TenantDb, StoreError> {
        if let Some(route) = self.routes.fresh(&sub.0) {
            return Ok(self.on(route, sub));
        }
        let route = match self.subscriptions().database_url(sub).await {
            // An unknown subscription reads as empty on the shared database.
            Ok(None) | Err(StoreError::NotFound) => None,
            Ok(Some(sealed)) => {
                let url = open(&sealed).ok_or(StoreError::Corrupt("subscriptions.database_url"))?;
                Some(self.routes.pool(&url).await?)
            }
            Err(StoreError::Unavailable(e)) => {
                return match self.routes.stale(&sub.0) {
                    Some(route) => Ok(self.on(route, sub)),
                    None => Err(StoreError::Unavailable(e)),
                };
            }
            Err(e) => return Err(e),
        };
        self.routes.remember(&sub.0, route.clone());
        Ok(self.on(route, sub))
    }

    fn on(&self, route: Option<DatabaseConnection>, sub: &SubscriptionId) -> TenantDb {
        TenantDb::new(
            route.unwrap_or_else(|| self.db.clone()),
            Scope::tenant(&sub.0),
        )
    }

    /// The database at `url` (already checked with [`routing::check_url`]): connected
    /// (or the open pool reused) and migrated, for a subscription about to live there.
    /// Cross-tenant: an import writes the rows of a subscription it creates.
    pub async fn open_dedicated(&self, url: &str) -> Result<TenantDb, StoreError> {
        Ok(TenantDb::new(
            self.routes.pool(url).await?,
            Scope::AllTenants,
        ))
    }

    /// `sql` on the shared pool with no tenant setting (the first column of each row as
    /// text), for the T12 row-level-security test.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub async fn unscoped_sql_for_test(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        first_column(&self.db, sql).await
    }

    /// Forget the learnt route of `sub` (after its database changed or it was deleted).
    pub fn forget_route(&self, sub: &SubscriptionId) {
        self.routes.forget(&sub.0);
    }
}

/// The size SQLite truncates its write-ahead log back to after a checkpoint resets it:
/// under sustained concurrent writes the log outgrows its 4 MiB checkpoint interval
/// before a reset, and without a limit the file would keep its largest size.
const SQLITE_LOG_LIMIT: u64 = 64 << 20;

/// A pooled connection idle this long is pinged before use (see [`connect_pool`]).
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool on `url`. `dedicated`: a subscription's own database, kept small and
/// emptied when idle (see [`routing`]).
async fn connect_pool(
    url: &str,
    max_connections: u32,
    dedicated: bool,
) -> Result<DatabaseConnection, StoreError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let sqlite = url.starts_with("sqlite:");
    // SQLite allows one writer; a small pool avoids "database is locked" storms.
    opts.max_connections(if sqlite {
        max_connections.min(4)
    } else {
        max_connections
    })
    .min_connections(if dedicated { 0 } else { 1 })
    .connect_timeout(Duration::from_secs(3))
    .acquire_timeout(Duration::from_secs(2))
    // sqlx pings every connection it hands out by default: one more round trip per
    // statement (a network one on PostgreSQL, a hop to the connection's thread on
    // SQLite). Ping only a connection idle for a second or more, as pgx's pool does: one
    // in steady use has just proved itself (sqlx also pings it on release).
    .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE)
    .sqlx_logging(false);
    if dedicated {
        opts.idle_timeout(routing::DEDICATED_IDLE);
    }
    // Server-side bounds, so that no statement holds a request (and a pooled
    // connection) for long: a slow query or a lock wait fails with a 503 instead.
    opts.map_sqlx_postgres_opts(|o| {
        o.options([
            ("statement_timeout", "5s"),
            ("lock_timeout", "3s"),
            ("idle_in_transaction_session_timeout", "30s"),
        ])
    });
    // WAL with synchronous=NORMAL: durable across process crashes, one fsync per
    // checkpoint instead of per commit (the SQLite-recommended WAL setting); every
    // pooled connection gets the pragmas, not just the first.
    // SQLite checkpoints the log (every 1,000 pages) only after a statement that runs
    // to its end: `Scoped::query_one_raw` reads every statement to it.
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .pragma("journal_size_limit", SQLITE_LOG_LIMIT.to_string())
    });
    Database::connect(opts)
        .await
        .map_err(StoreError::Unavailable)
}

/// Apply every pending migration to `db`; on PostgreSQL under an advisory lock, so that
/// replicas starting together migrate one after the other.
///
/// SQLite needs no lock: an SQLite file belongs to one server process (the embedded,
/// single-instance setup; scaling out requires PostgreSQL), so there is no second
/// migrator to race with.
async fn migrate_db(db: &DatabaseConnection) -> Result<(), StoreError> {
    use migrations::MigratorTrait;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return migrations::Migrator::up(db, None)
            .await
            .map_err(StoreError::from);
    }
    let lock = MigrationLock::acquire(db).await?;
    let result = migrations::Migrator::up(db, None).await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    result.map_err(StoreError::from)?;
    warn_if_row_security_bypassed(db).await;
    Ok(())
}

/// A superuser or `BYPASSRLS` role ignores the tenant policies ([`scope`]): worth a
/// warning at every start, not a refusal (it was the norm before the policies).
async fn warn_if_row_security_bypassed(db: &DatabaseConnection) {
    let sql =
        "SELECT (rolsuper OR rolbypassrls) AS exempt FROM pg_roles WHERE rolname = current_user";
    let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql);
    let exempt = match db.query_one_raw(stmt).await {
        Ok(Some(row)) => row.try_get::<bool>("", "exempt").unwrap_or(false),
        _ => false,
    };
    if exempt {
        tracing::warn!(
            "the database role is a superuser or has BYPASSRLS: the tenant tables' row-level security is not enforced; connect as an ordinary role that owns the tables"
        );
    }
}

/// Start a transaction on `db` with the row-level-security `scope`.
async fn begin_on(db: &DatabaseConnection, scope: &Scope) -> Result<Tx, StoreError> {
    // SQLite: take the write lock at BEGIN. A deferred transaction that reads and then
    // writes fails at once with SQLITE_BUSY (no busy_timeout wait) when another
    // connection committed in between; IMMEDIATE makes it wait its turn instead.
    // PostgreSQL ignores the option.
    let options = sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let tx = db.begin_with_options(options).await?;
    scope::enter(&tx, scope).await?;
    Ok(Tx {
        tx,
        events: Default::default(),
    })
}

/// The first column of each row of `sql`, as text.
#[cfg(feature = "test-util")]
async fn first_column(c: &impl ConnectionTrait, sql: &str) -> Result<Vec<String>, StoreError> {
    let stmt = sea_orm::Statement::from_string(c.get_database_backend(), sql);
    let rows = c.query_all_raw(stmt).await?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).map_err(StoreError::from))
        .collect()
}

/// The database that holds one subscription's tenant data (keys, clients, users,
/// tokens, ACL, audit…): the shared database, or the subscription's dedicated one.
/// Obtained from [`Store::tenant`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct TenantDb {
    conn: Scoped,
}

impl TenantDb {
    fn new(db: DatabaseConnection, scope: Scope) -> TenantDb {
        TenantDb {
            conn: Scoped { db, scope },
        }
    }

    /// Repositories on the pool (each statement its own transaction, in scope).
    pub fn repos(&self) -> Repos<'_, Scoped> {
        Repos { c: &self.conn }
    }

    /// Start a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        begin_on(&self.conn.db, &self.conn.scope).await
    }

    /// The same database with every tenant's rows in scope, for the passes that are
    /// cross-tenant by design (housekeeping purges).
    pub fn cross_tenant(&self) -> TenantDb {
        TenantDb::new(self.conn.db.clone(), Scope::AllTenants)
    }

    /// `sql` through the scoped connection the repositories get (the first column of
    /// each row as text), for the T12 row-level-security test: a query without the
    /// repositories' filter.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub async fn unfiltered_sql_for_test(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        first_column(&self.conn, sql).await
    }
}

impl Tx {
    /// Repositories inside this transaction.
    pub fn repos(&self) -> Repos<'_, DatabaseTransaction> {
        Repos { c: &self.tx }
    }

    /// The subscription rows inside this transaction: on a control transaction
    /// ([`Store::begin_control`]) the subscriptions themselves.
    pub fn subscriptions(&self) -> subscriptions::Subscriptions<'_, DatabaseTransaction> {
        subscriptions::Subscriptions { c: &self.tx }
    }

    /// `sql` inside this transaction (the first column of each row as text), for the
    /// T12 row-level-security test.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub async fn unfiltered_sql_for_test(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        first_column(&self.tx, sql).await
    }

    /// Remember an audit event written in this transaction (for the real-time sink).
    pub fn note_event(&self, sub: &crate::domain::SubscriptionId, ev: audit::AuditEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push((sub.clone(), ev));
        }
    }

    /// Commit; returns the audit events that became durable with it.
    pub async fn commit(
        self,
    ) -> Result<Vec<(crate::domain::SubscriptionId, audit::AuditEvent)>, StoreError> {
        self.tx.commit().await.map_err(StoreError::from)?;
        Ok(self.events.into_inner().unwrap_or_default())
    }
}

/// Entry point to the repositories on one connection or transaction.
pub struct Repos<'a, C> {
    c: &'a C,
}

impl<'a, C: ConnectionTrait> Repos<'a, C> {
    /// Signing keys.
    pub fn keys(&self) -> keys::Keys<'a, C> {
        keys::Keys { c: self.c }
    }
    /// OAuth clients.
    pub fn clients(&self) -> clients::Clients<'a, C> {
        clients::Clients { c: self.c }
    }
    /// Identity connections and user links.
    pub fn connections(&self) -> connections::Connections<'a, C> {
        connections::Connections { c: self.c }
    }
    /// Users.
    pub fn users(&self) -> users::Users<'a, C> {
        users::Users { c: self.c }
    }
    /// Token families, refresh and opaque tokens, revocations.
    pub fn tokens(&self) -> tokens::Tokens<'a, C> {
        tokens::Tokens { c: self.c }
    }
    /// Remembered consents.
    pub fn consents(&self) -> consents::Consents<'a, C> {
        consents::Consents { c: self.c }
    }
    /// ACL data: workspaces, participants, groups, apps, run-as grants.
    pub fn acl(&self) -> acl::Acl<'a, C> {
        acl::Acl { c: self.c }
    }
    /// Second factors: TOTP credentials, recovery codes, group policies.
    pub fn mfa(&self) -> mfa::Mfa<'a, C> {
        mfa::Mfa { c: self.c }
    }
    /// Consecutive login failures and hard locks.
    pub fn login_locks(&self) -> login_locks::LoginLocks<'a, C> {
        login_locks::LoginLocks { c: self.c }
    }
    /// Client ID Metadata Document clients that were issued tokens, and admin blocks.
    pub fn metadata_clients(&self) -> metadata_clients::MetadataClients<'a, C> {
        metadata_clients::MetadataClients { c: self.c }
    }
    /// The reads of a local password sign-in, in one statement.
    pub fn sign_ins(&self) -> sign_in::SignIns<'a, C> {
        sign_in::SignIns { c: self.c }
    }
    /// The index of browser sessions by user.
    pub fn user_sessions(&self) -> user_sessions::UserSessions<'a, C> {
        user_sessions::UserSessions { c: self.c }
    }
    /// The audit log.
    pub fn audit(&self) -> audit::Audit<'a, C> {
        audit::Audit { c: self.c }
    }
    /// Every row of one subscription at once (subscription export and import).
    pub fn transfer(&self) -> transfer::Transfer<'a, C> {
        transfer::Transfer { c: self.c }
    }
}

//! Durable storage over sea-orm (SQLite or PostgreSQL).
//!
//! One repository per aggregate. Every tenant-scoped method takes the
//! [`SubscriptionId`](crate::domain::SubscriptionId) first; a row of another
//! subscription reads as [`StoreError::NotFound`], exactly as if it did not exist. The
//! one cross-tenant read is [`subscriptions::Subscriptions::list_all`] (the system
//! admin's listing). Repositories are generic over the connection so that a service
//! can run several of them, and its audit event, in one transaction ([`Tx`]).
//! sea-orm types never leave this module.

pub mod acl;
pub mod audit;
pub mod clients;
pub mod connections;
pub mod consents;
mod entity;
pub mod keys;
pub mod login_locks;
pub mod mfa;
pub mod subscriptions;
pub mod tokens;
pub mod users;

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
            _ => match &e {
                DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(e),
                _ => StoreError::Db(e),
            },
        }
    }
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

/// The database handle shared by the services.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
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
        let mut opts = ConnectOptions::new(url.to_owned());
        let sqlite = url.starts_with("sqlite:");
        // SQLite allows one writer; a small pool avoids "database is locked" storms.
        opts.max_connections(if sqlite {
            max_connections.min(4)
        } else {
            max_connections
        })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(2))
        .sqlx_logging(false);
        // WAL with synchronous=NORMAL: durable across process crashes, one fsync per
        // checkpoint instead of per commit (the SQLite-recommended WAL setting); every
        // pooled connection gets the pragmas, not just the first.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
        let db = Database::connect(opts)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Store { db })
    }

    /// Apply every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        use migrations::MigratorTrait;
        migrations::Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::from)
    }

    /// Reachability check for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::Unavailable)
    }

    /// Start a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        // SQLite: take the write lock at BEGIN. A deferred transaction that reads and then
        // writes fails at once with SQLITE_BUSY (no busy_timeout wait) when another
        // connection committed in between; IMMEDIATE makes it wait its turn instead.
        // PostgreSQL ignores the option.
        let options = sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(Tx {
            tx: self.db.begin_with_options(options).await?,
            events: Default::default(),
        })
    }

    /// Repositories on the pool (each call its own implicit transaction).
    pub fn repos(&self) -> Repos<'_, DatabaseConnection> {
        Repos { c: &self.db }
    }
}

impl Tx {
    /// Repositories inside this transaction.
    pub fn repos(&self) -> Repos<'_, DatabaseTransaction> {
        Repos { c: &self.tx }
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
    /// Subscriptions (tenants).
    pub fn subscriptions(&self) -> subscriptions::Subscriptions<'a, C> {
        subscriptions::Subscriptions { c: self.c }
    }
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
    /// The audit log.
    pub fn audit(&self) -> audit::Audit<'a, C> {
        audit::Audit { c: self.c }
    }
}

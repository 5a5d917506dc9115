//! Where a subscription's tenant data lives: the shared database, or the dedicated
//! database named by the subscription's (encrypted) `database_url`.
//!
//! The shared database is the control plane: it holds every subscription row, and the
//! tenant data of subscriptions without a dedicated database. A dedicated database has
//! the same schema (the same migrations, under the same advisory lock) and holds the
//! subscription's *anchor* row (id, slug, name; no URL) so that the tenant tables'
//! foreign keys and cascades work there unchanged.
//!
//! Routes are learnt from the subscription row and remembered per instance for
//! [`ROUTE_TTL`], like the subscription cache, so another instance learns about a new
//! or moved dedicated database without restart. Pools of dedicated databases open on
//! first use, are small ([`DEDICATED_MAX_CONNECTIONS`]), keep no idle connection past
//! [`DEDICATED_IDLE`], and are shared by every subscription naming the same URL.

use super::{StoreError, TenantDb};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long an instance trusts a learnt route before reading the subscription row again.
pub const ROUTE_TTL: Duration = Duration::from_secs(5);

/// The connection bound of one dedicated database's pool: a dedicated database serves
/// one tenant, and many may be open at once on one instance.
pub const DEDICATED_MAX_CONNECTIONS: u32 = 4;

/// Idle connections of a dedicated pool close after this long, so a quiet tenant holds
/// no connection.
pub const DEDICATED_IDLE: Duration = Duration::from_secs(300);

/// Why a `database_url` is refused before anything is connected.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => {
            let parsed = url::Url::parse(url).map_err(|_| "is not a valid URL")?;
            let socket = parsed.query_pairs().any(|(k, _)| k == "host");
            if parsed.host_str().is_none_or(str::is_empty) && !socket {
                return Err("must name a host");
            }
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err("must name a database");
            }
            Ok(())
        }
        "sqlite" => Ok(()),
        _ => Err("must be a postgres://, postgresql:// or sqlite: URL"),
    }
}

/// A learnt route: `None` is the shared database.
type Route = (Option<DatabaseConnection>, Instant);

/// The routes and dedicated pools of one [`super::Store`].
#[derive(Debug, Default)]
pub(super) struct Routes {
    by_sub: RwLock<HashMap<String, Route>>,
    /// Open dedicated pools by SHA-256 of their URL (the URL itself is not kept).
    pools: tokio::sync::Mutex<HashMap<[u8; 32], DatabaseConnection>>,
}

impl Routes {
    /// The route learnt less than [`ROUTE_TTL`] ago (`Some(None)`: the shared database).
    pub(super) fn fresh(&self, sub: &str) -> Option<Option<DatabaseConnection>> {
        let m = self.by_sub.read().ok()?;
        m.get(sub)
            .filter(|(_, at)| at.elapsed() < ROUTE_TTL)
            .map(|(db, _)| db.clone())
    }

    /// The last route learnt however old: used while the shared database is away, so
    /// that a dedicated tenant keeps working on its own database.
    pub(super) fn stale(&self, sub: &str) -> Option<Option<DatabaseConnection>> {
        let m = self.by_sub.read().ok()?;
        m.get(sub).map(|(db, _)| db.clone())
    }

    pub(super) fn remember(&self, sub: &str, db: Option<DatabaseConnection>) {
        if let Ok(mut m) = self.by_sub.write() {
            m.insert(sub.to_owned(), (db, Instant::now()));
        }
    }

    pub(super) fn forget(&self, sub: &str) {
        if let Ok(mut m) = self.by_sub.write() {
            m.remove(sub);
        }
    }

    /// The pool of the database at `url`: the open one, or a new one, migrated. The lock
    /// is held while connecting so that concurrent first requests open one pool, not
    /// several.
    pub(super) async fn pool(&self, url: &str) -> Result<DatabaseConnection, StoreError> {
        let key: [u8; 32] = Sha256::digest(url.as_bytes()).into();
        let mut pools = self.pools.lock().await;
        if let Some(db) = pools.get(&key) {
            return Ok(db.clone());
        }
        let db = super::connect_pool(url, DEDICATED_MAX_CONNECTIONS, true).await?;
        super::migrate_db(&db).await?;
        pools.insert(key, db.clone());
        Ok(db)
    }
}

impl TenantDb {
    /// Whether this database is a control plane (it holds the `system` subscription):
    /// the shared database itself, or another deployment's. A dedicated database must
    /// not be one.
    pub async fn is_control_plane(&self) -> Result<bool, StoreError> {
        let subs = super::subscriptions::Subscriptions { c: &self.conn.db };
        match subs.by_slug("system").await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_postgres_and_sqlite_urls_are_accepted() {
        assert!(check_url("postgres://u:p@db.example:5432/tenant").is_ok());
        assert!(check_url("postgresql://db.example/tenant").is_ok());
        assert!(check_url("sqlite:///var/lib/auth/t.db?mode=rwc").is_ok());
        assert!(check_url("mysql://db.example/tenant").is_err());
        assert!(check_url("db.example/tenant").is_err());
        assert!(check_url("").is_err());
        assert_eq!(
            check_url("postgres://db.example/"),
            Err("must name a database")
        );
        assert_eq!(check_url("postgres:///tenant"), Err("must name a host"));
    }
}

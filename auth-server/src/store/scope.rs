//! Row-level-security scope of a tenant database (§5.1 T12, defence in depth).
//!
//! On PostgreSQL every tenant table carries a policy (migration
//! `m20261206_000012_tenant_row_level_security`) that lets a statement see and write only
//! the rows whose `subscription_id` equals the transaction's `app.tenant_id` setting;
//! `*` lets the cross-tenant code paths see every row, and no setting sees nothing. The
//! setting is transaction-local (`set_config(…, true)`), so it never outlives the
//! transaction on a pooled connection:
//!
//! - a [`super::Tx`] sets it right after `BEGIN` (one more round trip per transaction);
//! - a statement on the pool ([`Scoped`], what [`super::TenantDb::repos`] hands the
//!   repositories) runs in a short transaction of its own that sets it first (`BEGIN`,
//!   `set_config`, the statement, `COMMIT`: four round trips instead of one).
//!
//! SQLite has no row security; there the scope is carried and ignored.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use std::sync::Arc;

/// The setting value that lets a transaction see every tenant's rows.
const ALL_TENANTS: &str = "*";

/// Whose rows a tenant database's statements may touch.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One subscription's rows (every request of a tenant).
    Tenant(Arc<str>),
    /// Every subscription's rows: the code paths that are cross-tenant by design
    /// (housekeeping purges, control-plane transactions, export/import, move-database).
    AllTenants,
}

impl Scope {
    /// The scope of subscription `id`.
    pub fn tenant(id: &str) -> Scope {
        Scope::Tenant(id.into())
    }

    /// The `app.tenant_id` value. Subscription ids are UUIDs, never `*`; an id that
    /// were would be given an empty setting (sees nothing) rather than every row.
    fn setting(&self) -> &str {
        match self {
            Scope::Tenant(id) if &**id == ALL_TENANTS => "",
            Scope::Tenant(id) => id,
            Scope::AllTenants => ALL_TENANTS,
        }
    }
}

/// Set `scope` for the rest of the transaction `tx` (PostgreSQL; nothing on SQLite).
pub(super) async fn enter(tx: &DatabaseTransaction, scope: &Scope) -> Result<(), DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [scope.setting().into()],
    ))
    .await
    .map(drop)
}

/// A tenant database's pool under a [`Scope`]: on PostgreSQL each statement runs in a
/// short transaction that sets the scope first; on SQLite statements go straight to
/// the pool.
#[derive(Debug, Clone)]
pub struct Scoped {
    pub(super) db: DatabaseConnection,
    pub(super) scope: Scope,
}

impl Scoped {
    /// A transaction with the scope set, or `None` where there is no row security.
    async fn open(&self) -> Result<Option<DatabaseTransaction>, DbErr> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let tx = self.db.begin().await?;
        enter(&tx, &self.scope).await?;
        Ok(Some(tx))
    }
}

/// Run `$call` on the scoped transaction and commit, or straight on the pool.
macro_rules! scoped {
    ($self:ident, $c:ident => $call:expr) => {
        match $self.open().await? {
            Some($c) => {
                let out = $call.await?;
                $c.commit().await?;
                Ok(out)
            }
            None => {
                let $c = &$self.db;
                $call.await
            }
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Scoped {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        scoped!(self, c => c.execute_raw(stmt))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        scoped!(self, c => c.execute_unprepared(sql))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        scoped!(self, c => c.query_one_raw(stmt))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        scoped!(self, c => c.query_all_raw(stmt))
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}

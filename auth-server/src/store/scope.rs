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
//!   repositories) runs in a short transaction of its own whose `BEGIN` sets it in the
//!   same message (`BEGIN; SELECT set_config(…)`, the statement, `COMMIT`: three round
//!   trips instead of one; it was four, with `set_config` on its own).
//!
//! SQLite has no row security; there the scope is carried and ignored.

use sea_orm::sqlx::{self, AssertSqlSafe, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;
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

    /// The `BEGIN` of a scoped statement's transaction, setting the scope in the same
    /// simple-query message. A simple query takes no parameters, so the setting is a
    /// literal: a value other than letters, digits, `-` and `*` (never a subscription id,
    /// which is a UUID) is given as the empty setting, which sees nothing.
    fn begin_sql(&self) -> String {
        let setting = self.setting();
        let literal = match setting
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
        {
            true => setting,
            false => "",
        };
        format!("BEGIN; SELECT set_config('app.tenant_id', '{literal}', true)")
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
    /// On PostgreSQL, a transaction of the pool whose `BEGIN` set the scope.
    async fn begin_pg(&self) -> Result<Option<sqlx::Transaction<'static, Postgres>>, DbErr> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let pool = self.db.get_postgres_connection_pool();
        match pool.begin_with(AssertSqlSafe(self.scope.begin_sql())).await {
            Ok(tx) => Ok(Some(tx)),
            Err(sqlx::Error::PoolTimedOut) => {
                Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
            }
            Err(sqlx::Error::PoolClosed) => {
                Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
            }
            Err(e) => Err(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e)))),
        }
    }
}

/// `stmt` as a sqlx query, bound as sea-orm binds it (its own driver does the same).
fn pg_query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt
        .values
        .clone()
        .unwrap_or_else(|| sea_orm::Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

/// A failed statement or commit, as sea-orm reports one (`Exec` or `Query`).
fn failed(e: sqlx::Error, exec: bool) -> DbErr {
    let e = RuntimeErr::SqlxError(Arc::new(e));
    if exec {
        DbErr::Exec(e)
    } else {
        DbErr::Query(e)
    }
}

/// Run `$fetch` of `$query` in the scoped PostgreSQL transaction and commit (the
/// transaction rolls back when dropped on an error), or `$other` elsewhere.
macro_rules! on_pg {
    ($self:ident, $query:expr, $fetch:ident, $exec:expr, $map:expr, $other:expr) => {
        match $self.begin_pg().await? {
            Some(mut tx) => {
                let out = $query
                    .$fetch(&mut *tx)
                    .await
                    .map_err(|e| failed(e, $exec))?;
                tx.commit().await.map_err(|e| failed(e, $exec))?;
                Ok($map(out))
            }
            None => $other.await,
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Scoped {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_pg!(
            self,
            pg_query(&stmt),
            execute,
            true,
            ExecResult::from,
            self.db.execute_raw(stmt)
        )
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        on_pg!(
            self,
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned())),
            execute,
            true,
            ExecResult::from,
            self.db.execute_unprepared(sql)
        )
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        // Elsewhere (SQLite) read to the end, not stopped after the row: SQLite
        // checkpoints its log only after a statement that runs to completion, and an
        // `INSERT … RETURNING` (sea-orm's `ActiveModel::insert`) stopped after its row
        // commits without one; a stream of them (opaque tokens) grew the log without
        // bound (e2e `sqlite_wal`). What comes here is one row (`LIMIT 1`, a returning
        // insert), so reading on costs one more step.
        on_pg!(
            self,
            pg_query(&stmt),
            fetch_optional,
            false,
            |row: Option<_>| row.map(QueryResult::from),
            async { Ok(self.db.query_all_raw(stmt).await?.into_iter().next()) }
        )
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_pg!(
            self,
            pg_query(&stmt),
            fetch_all,
            false,
            |rows: Vec<_>| rows.into_iter().map(QueryResult::from).collect(),
            self.db.query_all_raw(stmt)
        )
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    fn setting_of(begin: &str) -> &str {
        begin
            .strip_prefix("BEGIN; SELECT set_config('app.tenant_id', '")
            .and_then(|rest| rest.strip_suffix("', true)"))
            .expect("the scoped BEGIN's shape")
    }

    #[test]
    fn the_scoped_begin_names_the_tenant_and_nothing_that_could_leave_its_literal() {
        let id = "0193f0a2-7c1e-7b3a-9d2e-5f6a7b8c9d0e";
        assert_eq!(setting_of(&Scope::tenant(id).begin_sql()), id);
        assert_eq!(setting_of(&Scope::AllTenants.begin_sql()), "*");
        // A tenant id is never `*` nor anything but a UUID; such a value sees nothing.
        assert_eq!(setting_of(&Scope::tenant("*").begin_sql()), "");
        for hostile in ["x'); DROP TABLE users; --", "a\\'b", "a b", "é"] {
            assert_eq!(
                setting_of(&Scope::tenant(hostile).begin_sql()),
                "",
                "{hostile}"
            );
        }
    }
}

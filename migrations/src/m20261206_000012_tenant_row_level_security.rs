//! PostgreSQL row-level security on every tenant table (§5.1 T12, defence in depth
//! behind the repositories' own `subscription_id` filter): a statement sees and writes
//! only the rows of the subscription named by the transaction's `app.tenant_id`
//! setting, every row when it is `*` (the cross-tenant code paths), and none when it is
//! unset. `FORCE` because the server connects as the tables' owner, whom row security
//! otherwise exempts. SQLite has no row security: there this migration does nothing.
//!
//! Idempotent (`DROP POLICY IF EXISTS` before `CREATE POLICY`), so a half-applied run
//! redone under the migration lock converges; `down` removes the policies and the flags.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table holding tenant rows (all but `subscriptions`, the control plane), each
/// with a `subscription_id` column.
pub const TENANT_TABLES: &[&str] = &[
    "signing_keys",
    "clients",
    "users",
    "token_families",
    "refresh_tokens",
    "opaque_tokens",
    "revoked_tokens",
    "consents",
    "audit_events",
    "audit_heads",
    "acl_workspaces",
    "acl_participants",
    "acl_groups",
    "acl_group_members",
    "acl_apps",
    "acl_run_as_grants",
    "connections",
    "user_links",
    "mfa_totp",
    "mfa_recovery_codes",
    "mfa_group_policies",
    "login_locks",
    "metadata_clients",
    "user_sessions",
];

/// The policy's condition, for both reading (`USING`) and writing (`WITH CHECK`).
/// `current_setting(…, true)` is NULL when the setting was never made in the session
/// and `''` after a transaction that made it ended: both match no row.
const IN_SCOPE: &str = "subscription_id = current_setting('app.tenant_id', true) \
                        OR current_setting('app.tenant_id', true) = '*'";

/// Put `table` under the tenant policy (PostgreSQL only); for later migrations creating
/// tenant tables too.
pub async fn scope_to_tenant(m: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    m.get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE \"{table}\" ENABLE ROW LEVEL SECURITY; \
             ALTER TABLE \"{table}\" FORCE ROW LEVEL SECURITY; \
             DROP POLICY IF EXISTS tenant_scope ON \"{table}\"; \
             CREATE POLICY tenant_scope ON \"{table}\" USING ({IN_SCOPE}) WITH CHECK ({IN_SCOPE})"
        ))
        .await
        .map(drop)
}

/// Undo [`scope_to_tenant`].
pub async fn unscope(m: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    m.get_connection()
        .execute_unprepared(&format!(
            "DROP POLICY IF EXISTS tenant_scope ON \"{table}\"; \
             ALTER TABLE \"{table}\" NO FORCE ROW LEVEL SECURITY; \
             ALTER TABLE \"{table}\" DISABLE ROW LEVEL SECURITY"
        ))
        .await
        .map(drop)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TENANT_TABLES {
            scope_to_tenant(m, table).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TENANT_TABLES {
            unscope(m, table).await?;
        }
        Ok(())
    }
}

//! Bulk read and write of every row of one subscription, for `subscription export` and
//! `subscription import` (moving a tenant between deployments, issue 8 point 5).
//!
//! [`TenantRows`] is the subscription's rows, table by table, as stored: ids, hashes,
//! JSON text columns and timestamps are carried byte for byte, so that tokens, links,
//! ACL references and the audit hash chain stay valid on the target. It is serde-able
//! for the bundle but opaque outside `store/`: the only things a caller can do with the
//! rows are count them and re-encrypt the columns that hold master-key ciphertext
//! ([`TenantRows::map_secrets`]).
//!
//! Tables carried (every tenant table of `migrations/`): subscriptions, signing_keys,
//! clients, users, connections, user_links, token_families, refresh_tokens (unexpired),
//! opaque_tokens (unexpired), revoked_tokens (unexpired), consents, acl_workspaces,
//! acl_participants, acl_groups, acl_group_members, acl_apps, acl_run_as_grants,
//! mfa_totp, mfa_recovery_codes, mfa_group_policies, login_locks, metadata_clients,
//! user_sessions (unexpired; a bundle without them, from before that table, imports as
//! none), audit_events and audit_heads. Not carried: `seaql_migrations` (the target's own
//! schema bookkeeping) and other subscriptions' rows.

use super::entity::{
    acl_app, acl_group, acl_group_member, acl_participant, acl_run_as_grant, acl_workspace,
    audit_event, audit_head, client, connection, consent, login_lock, metadata_client,
    mfa_group_policy, mfa_recovery_code, mfa_totp, opaque_token, refresh_token, revoked_token,
    signing_key, subscription, token_family, user, user_link, user_session,
};
use super::{StoreError, TenantDb, Tx};
use crate::domain::SubscriptionId;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Rows per INSERT statement: far below SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters for the widest table (clients, 23 columns).
const CHUNK: usize = 500;

/// A column that holds a secret encrypted with the master key. With the row's id it
/// fixes the AAD the service bound the ciphertext to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretColumn {
    /// `signing_keys.private_key` (row id: the `kid`).
    SigningKey,
    /// `connections.secret_ciphertext` (row id: the connection id).
    ConnectionSecret,
    /// `mfa_totp.secret` (row id: the user id).
    TotpSecret,
}

/// Every row of one subscription. `Debug` shows the row counts only: the rows hold
/// password hashes and, once [`TenantRows::map_secrets`] decrypted them, secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRows {
    subscription: subscription::Model,
    signing_keys: Vec<signing_key::Model>,
    clients: Vec<client::Model>,
    users: Vec<user::Model>,
    connections: Vec<connection::Model>,
    user_links: Vec<user_link::Model>,
    token_families: Vec<token_family::Model>,
    refresh_tokens: Vec<refresh_token::Model>,
    opaque_tokens: Vec<opaque_token::Model>,
    revoked_tokens: Vec<revoked_token::Model>,
    consents: Vec<consent::Model>,
    acl_workspaces: Vec<acl_workspace::Model>,
    acl_participants: Vec<acl_participant::Model>,
    acl_groups: Vec<acl_group::Model>,
    acl_group_members: Vec<acl_group_member::Model>,
    acl_apps: Vec<acl_app::Model>,
    acl_run_as_grants: Vec<acl_run_as_grant::Model>,
    mfa_totp: Vec<mfa_totp::Model>,
    mfa_recovery_codes: Vec<mfa_recovery_code::Model>,
    mfa_group_policies: Vec<mfa_group_policy::Model>,
    login_locks: Vec<login_lock::Model>,
    metadata_clients: Vec<metadata_client::Model>,
    #[serde(default)]
    user_sessions: Vec<user_session::Model>,
    audit_events: Vec<audit_event::Model>,
    audit_heads: Vec<audit_head::Model>,
}

impl std::fmt::Debug for TenantRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRows")
            .field("slug", &self.subscription.slug)
            .field("rows", &self.counts())
            .finish()
    }
}

impl TenantRows {
    /// The subscription's id (kept on import: ciphertext AADs and rows refer to it).
    pub fn subscription_id(&self) -> SubscriptionId {
        SubscriptionId(self.subscription.id.clone())
    }

    /// The subscription's slug.
    pub fn slug(&self) -> &str {
        &self.subscription.slug
    }

    /// The subscription's display name.
    pub fn name(&self) -> &str {
        &self.subscription.name
    }

    /// Rows per table, for the bundle's cleartext summary and the CLI's report.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("subscriptions", 1),
            ("signing_keys", self.signing_keys.len()),
            ("clients", self.clients.len()),
            ("users", self.users.len()),
            ("connections", self.connections.len()),
            ("user_links", self.user_links.len()),
            ("token_families", self.token_families.len()),
            ("refresh_tokens", self.refresh_tokens.len()),
            ("opaque_tokens", self.opaque_tokens.len()),
            ("revoked_tokens", self.revoked_tokens.len()),
            ("consents", self.consents.len()),
            ("acl_workspaces", self.acl_workspaces.len()),
            ("acl_participants", self.acl_participants.len()),
            ("acl_groups", self.acl_groups.len()),
            ("acl_group_members", self.acl_group_members.len()),
            ("acl_apps", self.acl_apps.len()),
            ("acl_run_as_grants", self.acl_run_as_grants.len()),
            ("mfa_totp", self.mfa_totp.len()),
            ("mfa_recovery_codes", self.mfa_recovery_codes.len()),
            ("mfa_group_policies", self.mfa_group_policies.len()),
            ("login_locks", self.login_locks.len()),
            ("metadata_clients", self.metadata_clients.len()),
            ("user_sessions", self.user_sessions.len()),
            ("audit_events", self.audit_events.len()),
            ("audit_heads", self.audit_heads.len()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), n(v)))
        .collect()
    }

    /// Replace every master-key-encrypted secret by `f(column, row id, value)`: the
    /// export decrypts (source master key), the import encrypts (target master key).
    /// Text columns are base64 in the database; `f` always sees and returns raw bytes.
    pub fn map_secrets<E: From<StoreError>>(
        &mut self,
        mut f: impl FnMut(SecretColumn, &str, &[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<(), E> {
        for k in &mut self.signing_keys {
            k.private_key = f(SecretColumn::SigningKey, &k.kid, &k.private_key)?;
        }
        for c in &mut self.connections {
            if let Some(text) = &c.secret_ciphertext {
                let blob = STANDARD
                    .decode(text)
                    .map_err(|_| StoreError::Corrupt("connections.secret_ciphertext"))?;
                let mapped = f(SecretColumn::ConnectionSecret, &c.id, &blob)?;
                c.secret_ciphertext = Some(STANDARD.encode(mapped));
            }
        }
        for t in &mut self.mfa_totp {
            let blob = STANDARD
                .decode(&t.secret)
                .map_err(|_| StoreError::Corrupt("mfa_totp.secret"))?;
            t.secret = STANDARD.encode(f(SecretColumn::TotpSecret, &t.user_id, &blob)?);
        }
        Ok(())
    }

    /// Whether every row names this subscription: a bundle whose rows point elsewhere
    /// was edited and is refused before anything is written.
    fn consistent(&self) -> bool {
        let id = self.subscription.id.as_str();
        macro_rules! all {
            ($($t:ident),*) => { true $(&& self.$t.iter().all(|r| r.subscription_id == id))* };
        }
        all!(
            signing_keys,
            clients,
            users,
            connections,
            user_links,
            token_families,
            refresh_tokens,
            opaque_tokens,
            revoked_tokens,
            consents,
            acl_workspaces,
            acl_participants,
            acl_groups,
            acl_group_members,
            acl_apps,
            acl_run_as_grants,
            mfa_totp,
            mfa_recovery_codes,
            mfa_group_policies,
            login_locks,
            metadata_clients,
            user_sessions,
            audit_events,
            audit_heads
        )
    }
}

/// The name of the newest migration this server knows: a bundle records the schema its
/// rows were read under.
pub fn schema_version() -> String {
    use migrations::MigratorTrait;
    migrations::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

/// Whether this server's migrations include `name` (rows of a newer schema may carry
/// columns this server does not know).
pub fn knows_schema(name: &str) -> bool {
    use migrations::MigratorTrait;
    migrations::Migrator::migrations()
        .iter()
        .any(|m| m.name() == name)
}

impl TenantDb {
    /// A read-only transaction that sees one point in time for all its statements
    /// (PostgreSQL `REPEATABLE READ`; SQLite: a deferred transaction reads one WAL
    /// snapshot and blocks no writer), so an export never mixes before and after.
    pub async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        let postgres = self.conn.db.get_database_backend() == sea_orm::DbBackend::Postgres;
        let options = sea_orm::TransactionOptions {
            isolation_level: postgres.then_some(sea_orm::IsolationLevel::RepeatableRead),
            access_mode: postgres.then_some(sea_orm::AccessMode::ReadOnly),
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Deferred),
        };
        let tx = self.conn.db.begin_with_options(options).await?;
        super::scope::enter(&tx, &self.conn.scope).await?;
        Ok(Tx {
            tx,
            events: Default::default(),
        })
    }
}

/// Bulk access to one subscription's rows.
pub struct Transfer<'a, C> {
    pub(super) c: &'a C,
}

macro_rules! rows_of {
    ($c:expr, $m:ident, $sub:expr, live after $now:expr) => {
        $m::Entity::find()
            .filter($m::Column::SubscriptionId.eq($sub))
            .filter($m::Column::ExpiresAt.gt($now))
            .all($c)
            .await?
    };
    ($c:expr, $m:ident, $sub:expr) => {
        $m::Entity::find()
            .filter($m::Column::SubscriptionId.eq($sub))
            .all($c)
            .await?
    };
}

/// Insert `rows` in chunks.
async fn insert_all<C, M>(c: &C, rows: &[M]) -> Result<(), StoreError>
where
    C: ConnectionTrait,
    M: ModelTrait + Clone + IntoActiveModel<<M::Entity as EntityTrait>::ActiveModel>,
{
    for chunk in rows.chunks(CHUNK) {
        let models = chunk
            .iter()
            .cloned()
            .map(|m| -> <M::Entity as EntityTrait>::ActiveModel { m.into_active_model() });
        <M::Entity as EntityTrait>::insert_many(models)
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

impl<C: ConnectionTrait> Transfer<'_, C> {
    /// Every row of `sub`, tokens, revocations and codes only while unexpired at `now`.
    /// Call inside [`TenantDb::begin_snapshot`] for a consistent copy.
    pub async fn read(&self, sub: &SubscriptionId, now: i64) -> Result<TenantRows, StoreError> {
        let c = self.c;
        let id = sub.0.as_str();
        let mut subscription = subscription::Entity::find_by_id(sub.0.clone())
            .one(c)
            .await?
            .ok_or(StoreError::NotFound)?;
        // Never the route: the sealed URL opens only with this deployment's master key,
        // it is a secret, and where an import puts the tenant is the target's choice.
        subscription.database_url_ciphertext = None;
        Ok(TenantRows {
            subscription,
            signing_keys: rows_of!(c, signing_key, id),
            clients: rows_of!(c, client, id),
            users: rows_of!(c, user, id),
            connections: rows_of!(c, connection, id),
            user_links: rows_of!(c, user_link, id),
            token_families: rows_of!(c, token_family, id),
            refresh_tokens: rows_of!(c, refresh_token, id, live after now),
            opaque_tokens: rows_of!(c, opaque_token, id, live after now),
            revoked_tokens: rows_of!(c, revoked_token, id, live after now),
            consents: rows_of!(c, consent, id),
            acl_workspaces: rows_of!(c, acl_workspace, id),
            acl_participants: rows_of!(c, acl_participant, id),
            acl_groups: rows_of!(c, acl_group, id),
            acl_group_members: rows_of!(c, acl_group_member, id),
            acl_apps: rows_of!(c, acl_app, id),
            acl_run_as_grants: rows_of!(c, acl_run_as_grant, id),
            mfa_totp: rows_of!(c, mfa_totp, id),
            mfa_recovery_codes: rows_of!(c, mfa_recovery_code, id),
            mfa_group_policies: rows_of!(c, mfa_group_policy, id),
            login_locks: rows_of!(c, login_lock, id),
            metadata_clients: rows_of!(c, metadata_client, id),
            user_sessions: rows_of!(c, user_session, id, live after now),
            audit_events: audit_event::Entity::find()
                .filter(audit_event::Column::SubscriptionId.eq(id))
                .order_by_asc(audit_event::Column::Seq)
                .all(c)
                .await?,
            audit_heads: rows_of!(c, audit_head, id),
        })
    }

    /// Insert every row, parents before children. Call inside a transaction: any
    /// failure (a taken slug, id or `kid` is `Conflict`) must leave nothing behind.
    pub async fn write(&self, rows: &TenantRows) -> Result<(), StoreError> {
        if !rows.consistent() {
            return Err(StoreError::Corrupt("rows of another subscription"));
        }
        let c = self.c;
        insert_all(c, std::slice::from_ref(&rows.subscription)).await?;
        insert_all(c, &rows.signing_keys).await?;
        insert_all(c, &rows.clients).await?;
        insert_all(c, &rows.users).await?;
        insert_all(c, &rows.connections).await?;
        insert_all(c, &rows.user_links).await?;
        insert_all(c, &rows.token_families).await?;
        insert_all(c, &rows.refresh_tokens).await?;
        insert_all(c, &rows.opaque_tokens).await?;
        insert_all(c, &rows.revoked_tokens).await?;
        insert_all(c, &rows.consents).await?;
        insert_all(c, &rows.acl_workspaces).await?;
        insert_all(c, &rows.acl_participants).await?;
        insert_all(c, &rows.acl_groups).await?;
        insert_all(c, &rows.acl_group_members).await?;
        insert_all(c, &rows.acl_apps).await?;
        insert_all(c, &rows.acl_run_as_grants).await?;
        insert_all(c, &rows.mfa_totp).await?;
        insert_all(c, &rows.mfa_recovery_codes).await?;
        insert_all(c, &rows.mfa_group_policies).await?;
        insert_all(c, &rows.login_locks).await?;
        insert_all(c, &rows.metadata_clients).await?;
        insert_all(c, &rows.user_sessions).await?;
        insert_all(c, &rows.audit_events).await?;
        insert_all(c, &rows.audit_heads).await?;
        Ok(())
    }
}

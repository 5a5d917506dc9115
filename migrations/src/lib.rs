//! Schema migrations for auth-server, one set for SQLite and PostgreSQL.
//!
//! Migrations are append-only: a merged migration is never edited. They import no
//! entity of the server (the schema is the contract, not the Rust types). Times are
//! stored as Unix seconds (`BIGINT`) and JSON documents as text so that both engines
//! store byte-identical values.

pub use sea_orm_migration::prelude::*;

mod constraints;
mod m20261122_000001_create_core;
mod m20261122_000002_create_acl;
mod m20261122_000003_chain_audit;
mod m20261122_000004_create_connections;
mod m20261122_000005_create_mfa;
mod m20261122_000006_add_client_registration;
mod m20261122_000007_create_login_locks;
mod m20261206_000008_create_metadata_clients;
mod m20261206_000009_add_subscription_database_url;
mod m20261206_000010_create_user_sessions;
mod m20261206_000011_unique_live_signing_keys;
pub mod m20261206_000012_tenant_row_level_security;
mod m20261207_000013_audit_head_follows_events;

/// The ordered list of migrations; the server runs it at start.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_core::Migration),
            Box::new(m20261122_000002_create_acl::Migration),
            Box::new(m20261122_000003_chain_audit::Migration),
            Box::new(m20261122_000004_create_connections::Migration),
            Box::new(m20261122_000005_create_mfa::Migration),
            Box::new(m20261122_000006_add_client_registration::Migration),
            Box::new(m20261122_000007_create_login_locks::Migration),
            Box::new(m20261206_000008_create_metadata_clients::Migration),
            Box::new(m20261206_000009_add_subscription_database_url::Migration),
            Box::new(m20261206_000010_create_user_sessions::Migration),
            Box::new(m20261206_000011_unique_live_signing_keys::Migration),
            Box::new(m20261206_000012_tenant_row_level_security::Migration),
            Box::new(m20261207_000013_audit_head_follows_events::Migration),
        ]
    }
}

//! Use cases. Services own transactions and audit writes; they know neither actix nor
//! HTTP. Each takes the [`Ctx`] (everything a use case may touch) and returns a typed
//! error that the HTTP layer maps once.

pub mod acl;
pub mod admin;
pub mod audit;
pub mod cimd;
pub mod clients;
pub mod connections;
pub mod consents;
pub mod console;
mod error;
pub mod federation;
pub mod freshness;
pub mod introspect;
pub mod jobs;
pub mod keys;
pub mod local;
pub mod login;
pub mod metadata_clients;
pub mod mfa;
pub mod oauth;
pub mod random;
pub mod registration;
pub mod second_factor;
pub mod sessions;
pub mod sso;
pub mod tenants;
pub mod throttle;
pub mod transfer;
pub mod users;
pub mod weigh;

pub use error::{AdminError, FlowError};

use crate::cache::Ephemeral;
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::password::PasswordHasher;
use crate::store::Store;
use crate::tokens::MasterKey;
use std::sync::Arc;

/// Everything a use case may touch; cheap to clone.
#[derive(Clone, Debug)]
pub struct Ctx(Arc<CtxInner>);

/// The parts of a [`Ctx`].
#[derive(Debug)]
pub struct CtxInner {
    /// Validated configuration.
    pub settings: Settings,
    /// The only source of "now".
    pub clock: Arc<dyn Clock>,
    /// Durable storage.
    pub store: Store,
    /// Ephemeral shared state (Redis or in-process).
    pub cache: Arc<dyn Ephemeral>,
    /// Encrypts private keys at rest.
    pub master_key: MasterKey,
    /// Bounded argon2id hasher.
    pub passwords: Arc<PasswordHasher>,
    /// Per-subscription key rings, refreshed every few seconds.
    pub keyrings: keys::KeyCache,
    /// Subscriptions by slug, refreshed every few seconds.
    pub tenants: tenants::TenantCache,
    /// This context's tag in the per-thread caches ([`local`]).
    pub owner: local::Owner,
    /// Verified access tokens by (subscription, token hash), see [`freshness`].
    pub verified: moka::sync::Cache<[u8; 32], Arc<introspect::Verified>>,
    /// Clients by (subscription, client id), see [`freshness`].
    pub clients: freshness::Cache<Option<Arc<crate::domain::Client>>>,
    /// Each subscription's connections in login order, see [`freshness`].
    pub connections: freshness::Cache<Arc<Vec<crate::domain::connection::Connection>>>,
    /// Real-time JSON-lines copy of committed audit events (`AUTH_AUDIT_SINK`).
    pub audit_sink: Option<audit::Sink>,
    /// ACL facts per (subscription, user, workspace), invalidated by generation.
    pub acl: acl::FactsCache,
    /// Pools of service-bound directory connections, one per LDAP/AD connection.
    pub directories: crate::directory::ldap::Directories,
    /// Brute-force and per-address counters (with their in-process fallback).
    pub throttle: throttle::Counters,
}

impl Ctx {
    /// Assemble a context.
    pub fn new(inner: CtxInner) -> Ctx {
        Ctx(Arc::new(inner))
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    /// The database holding `sub`'s tenant data: its dedicated database, or the shared
    /// one. Every tenant-scoped read and write goes through here (or [`Ctx::begin`]).
    pub async fn db(
        &self,
        sub: &crate::domain::SubscriptionId,
    ) -> Result<crate::store::TenantDb, crate::store::StoreError> {
        self.store
            .tenant(sub, |sealed| {
                tenants::open_database_url(&self.master_key, sub, sealed)
            })
            .await
    }

    /// Start a transaction on `sub`'s database (see [`Ctx::db`]).
    pub async fn begin(
        &self,
        sub: &crate::domain::SubscriptionId,
    ) -> Result<crate::store::Tx, crate::store::StoreError> {
        self.db(sub).await?.begin().await
    }

    /// Every database that holds tenant data (the shared one first), each with every
    /// tenant's rows in scope, for cross-tenant housekeeping.
    pub async fn all_databases(
        &self,
    ) -> Result<Vec<crate::store::TenantDb>, crate::store::StoreError> {
        let mut out = vec![self.store.shared()];
        for (id, _) in self.store.subscriptions().with_dedicated_database().await? {
            // One dead dedicated database must not stop the housekeeping of the others.
            match self.db(&id).await {
                Ok(db) => out.push(db.cross_tenant()),
                Err(e) => {
                    tracing::warn!(subscription = %id.0, error = %e, "a dedicated database is unreachable; skipped")
                }
            }
        }
        Ok(out)
    }

    /// Commit a transaction and stream the audit events it made durable to the sink.
    pub async fn commit(&self, tx: crate::store::Tx) -> Result<(), crate::store::StoreError> {
        let events = tx.commit().await?;
        if let Some(sink) = &self.audit_sink {
            for (sub, ev) in events {
                sink.emit(&sub, std::slice::from_ref(&ev));
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for Ctx {
    type Target = CtxInner;
    fn deref(&self) -> &CtxInner {
        &self.0
    }
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Actor {
    /// A user (`sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// A client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The RFC 8693 `act` chain when the caller acts through a run-as token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// Request id of the HTTP request.
    #[serde(skip)]
    pub request_id: Option<String>,
    /// Source address.
    #[serde(skip)]
    pub ip: Option<String>,
}

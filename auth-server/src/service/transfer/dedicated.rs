//! `auth-server admin subscription move-database`: move a subscription's tenant data
//! from the shared database into a dedicated one (issue 8 point 6), built on the
//! export/import steps of this module rather than a second copier.
//!
//! The steps, each safe to fail:
//! 1. the target is checked, connected and migrated, and must not be a control plane
//!    (a refusal names `database_url`; nothing is written);
//! 2. one snapshot of the tenant's rows on the shared database is imported into the
//!    target in one transaction, which is refused (nothing written) if the target
//!    already holds the subscription's id or slug;
//! 3. the subscription row is switched to the target (its URL sealed under the master
//!    key), and this instance forgets its route;
//! 4. after `settle` (the time other instances take to learn the new route,
//!    [`crate::store::routing::ROUTE_TTL`] plus a margin), the tenant's rows on the
//!    shared database are deleted in one transaction (the subscription row stays).
//!
//! Writes must be stopped for the tenant while it runs (docs/operations.md): a row
//! written to the shared database after step 2's snapshot and before every instance
//! follows the new route is not carried over and is deleted at step 4.

use super::{TransferError, export_from, import_into};
use crate::domain::Subscription;
use crate::service::{Actor, AdminError, Ctx, freshness, tenants};
use crate::store::StoreError;
use secrecy::SecretString;
use std::time::Duration;

/// Why a move was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// No subscription has this slug.
    #[error("no subscription {0}")]
    NoSuchSubscription(String),
    /// `system` stays in the shared database (it is the control plane's own tenant).
    #[error("the system subscription stays in the shared database")]
    System,
    /// The subscription already has a dedicated database.
    #[error("subscription {0} already lives in a dedicated database; nothing was moved")]
    AlreadyDedicated(String),
    /// The target database was refused (the message names `database_url`).
    #[error(transparent)]
    Target(AdminError),
    /// Copying failed (the target may hold a collision; nothing was switched).
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

impl From<StoreError> for MoveError {
    fn from(e: StoreError) -> Self {
        MoveError::Transfer(e.into())
    }
}

/// What a move did.
#[derive(Debug, Clone)]
pub struct Moved {
    /// Rows copied, by table.
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// Move subscription `slug` from the shared database to the database at `url` (see the
/// module documentation for the steps and what must hold while it runs).
pub async fn move_database(
    ctx: &Ctx,
    slug: &str,
    url: &SecretString,
    settle: Duration,
    actor: &Actor,
) -> Result<Moved, MoveError> {
    if slug == tenants::SYSTEM {
        return Err(MoveError::System);
    }
    let sub: Subscription = match ctx.store.subscriptions().by_slug(slug).await {
        Err(StoreError::NotFound) => return Err(MoveError::NoSuchSubscription(slug.into())),
        other => other?,
    };
    if sub.dedicated_database {
        return Err(MoveError::AlreadyDedicated(slug.into()));
    }
    let target = tenants::prepare_dedicated(ctx, url)
        .await
        .map_err(MoveError::Target)?;
    let snapshot = export_from(ctx, slug, actor).await?;
    let imported = import_into(ctx, &target, snapshot, actor).await?;
    let sealed = tenants::seal_database_url(ctx, &sub.id, url).map_err(MoveError::Target)?;
    ctx.store
        .subscriptions()
        .set_database_url(&sub.id, Some(&sealed), ctx.now())
        .await?;
    ctx.store.forget_route(&sub.id);
    freshness::bump(ctx, &sub.id).await;
    ctx.tenants.forget(slug);
    // Other instances follow the new route within ROUTE_TTL; until then they may still
    // read (and, if writes were not stopped, write) the shared rows.
    tokio::time::sleep(settle).await;
    let tx = ctx.store.begin_control().await?;
    tx.subscriptions().purge_tenant_rows(&sub.id).await?;
    ctx.commit(tx).await?;
    freshness::bump(ctx, &sub.id).await;
    tracing::info!(subscription = %slug, "moved to a dedicated database");
    Ok(Moved {
        rows: imported.summary.rows,
    })
}

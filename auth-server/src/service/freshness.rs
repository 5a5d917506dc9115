//! Per-subscription state generation, for caches that must never serve a stale verdict.
//!
//! Every change that can turn a cached "valid" into "invalid" — a token or grant family
//! revoked, a client changed or deleted, a user disabled, deleted or given a new
//! password — bumps the subscription's generation *after* its transaction committed.
//! Cache entries remember the generation they were computed under and are used only
//! while it is unchanged. The counter lives in the ephemeral store, so with Redis a bump
//! on one instance invalidates the caches of all instances on their next request; a
//! reader fetches the generation *before* checking the database, so a revocation that
//! commits in between is either seen by that check or bumps past the cached value.

use super::Ctx;
use crate::domain::SubscriptionId;
use std::time::Duration;

/// Lifetime of a counter; cache entries live far shorter (seconds), so a counter that
/// expired and restarted cannot make an old entry look fresh.
const COUNTER_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

fn key(sub: &SubscriptionId) -> String {
    format!("gen:{}", sub.0)
}

/// The current generation, or `None` when the ephemeral store is unreachable (callers
/// then bypass their caches rather than trust them).
pub async fn current(ctx: &Ctx, sub: &SubscriptionId) -> Option<i64> {
    match ctx.cache.get(&key(sub)).await {
        Ok(Some(v)) => std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()),
        Ok(None) => Some(0),
        Err(_) => None,
    }
}

/// Invalidate every cached verdict of the subscription, on every instance.
pub async fn bump(ctx: &Ctx, sub: &SubscriptionId) {
    if let Err(e) = ctx.cache.incr(&key(sub), COUNTER_TTL).await {
        // Entries expire on their own within their short TTL; say loudly that until then
        // a revocation may not be visible on other instances.
        tracing::error!(error = %e, "could not bump the state generation; caches expire within their TTL");
    }
}

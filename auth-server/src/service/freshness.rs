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

use super::{Ctx, FlowError};
use crate::domain::SubscriptionId;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A value cached per instance, with the generation it was read under.
#[derive(Debug)]
pub struct Cached<T> {
    /// Generation it was read under.
    pub generation: i64,
    /// The value, shared with every hit.
    pub value: T,
}

/// A per-instance cache of values checked against the subscription's generation.
pub type Cache<T> = moka::sync::Cache<String, Arc<Cached<T>>>;

/// `key`'s value from `cache` while the generation is the one it was read under, else
/// from `load` (cached under the current generation). With the ephemeral store down there
/// is no generation to trust, so every call loads.
///
/// `load` makes its future only on a miss, and that future is boxed: a database read's
/// future is kilobytes, and held inline it would make every caller's future as large,
/// copied on every hit (docs/performance.md, session 9).
pub async fn through<T, F, L>(
    ctx: &Ctx,
    sub: &SubscriptionId,
    cache: &Cache<T>,
    key: String,
    load: L,
) -> Result<T, FlowError>
where
    T: Clone + Send + Sync + 'static,
    L: FnOnce() -> F,
    F: Future<Output = Result<T, FlowError>>,
{
    let generation = current(ctx, sub).await;
    if let Some(g) = generation
        && let Some(hit) = cache.get(&key)
        && hit.generation == g
    {
        return Ok(hit.value.clone());
    }
    let value = Box::pin(load()).await?;
    if let Some(g) = generation {
        cache.insert(
            key,
            Arc::new(Cached {
                generation: g,
                value: value.clone(),
            }),
        );
    }
    Ok(value)
}

/// Lifetime of a generation value, refreshed by every change; cache entries live far
/// shorter (seconds).
const GENERATION_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

fn key(sub: &SubscriptionId) -> String {
    ["gen:", &sub.0].concat()
}

fn parse(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok().and_then(|s| s.parse().ok())
}

/// The current generation, or `None` when the ephemeral store is unreachable (callers
/// then bypass their caches rather than trust them).
///
/// Generations are random values, not an `INCR` counter: a counter lost with a Redis
/// restart or eviction would start again at 0 and could climb back to the very value
/// an entry cached before the loss carries, making that entry look current although a
/// revocation happened in between. A missing generation is replaced by a fresh random
/// one (`SET NX`, so all instances agree on it) before anything is cached under it.
pub async fn current(ctx: &Ctx, sub: &SubscriptionId) -> Option<i64> {
    let key = key(sub);
    match ctx.cache.get(&key).await {
        Ok(Some(v)) => return parse(&v),
        Ok(None) => {}
        Err(_) => return None,
    }
    let fresh: i64 = rand::random();
    match ctx
        .cache
        .put_new(&key, fresh.to_string().as_bytes(), GENERATION_TTL)
        .await
    {
        Ok(true) => Some(fresh),
        // Another instance created it first: use theirs.
        Ok(false) => ctx
            .cache
            .get(&key)
            .await
            .ok()
            .flatten()
            .and_then(|v| parse(&v)),
        Err(_) => None,
    }
}

/// Invalidate every cached verdict of the subscription, on every instance.
pub async fn bump(ctx: &Ctx, sub: &SubscriptionId) {
    let fresh: i64 = rand::random();
    if let Err(e) = ctx
        .cache
        .put(&key(sub), fresh.to_string().as_bytes(), GENERATION_TTL)
        .await
    {
        // Entries expire on their own within their short TTL; say loudly that until then
        // a revocation may not be visible on other instances.
        tracing::error!(error = %e, "could not bump the state generation; caches expire within their TTL");
    }
}

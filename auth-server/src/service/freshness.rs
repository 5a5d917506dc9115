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
use crate::cache::Ephemeral;
use crate::domain::SubscriptionId;
use std::cell::RefCell;
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

/// The prefix of a generation's key in the ephemeral store, before the subscription id.
const KEY_PREFIX: &str = "gen:";

fn key(sub: &SubscriptionId) -> String {
    [KEY_PREFIX, &sub.0].concat()
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
    current_in(ctx.cache.as_ref(), sub).await
}

async fn current_in(cache: &dyn Ephemeral, sub: &SubscriptionId) -> Option<i64> {
    if let Some(g) = recalled(sub) {
        return Some(g);
    }
    let key = key(sub);
    let g = read(cache, &key).await?;
    remember(key, g);
    Some(g)
}

async fn read(cache: &dyn Ephemeral, key: &str) -> Option<i64> {
    match cache.get(key).await {
        Ok(Some(v)) => return parse(&v),
        Ok(None) => {}
        Err(_) => return None,
    }
    let fresh: i64 = rand::random();
    match cache
        .put_new(key, fresh.to_string().as_bytes(), GENERATION_TTL)
        .await
    {
        Ok(true) => Some(fresh),
        // Another instance created it first: use theirs.
        Ok(false) => cache.get(key).await.ok().flatten().and_then(|v| parse(&v)),
        Err(_) => None,
    }
}

/// Invalidate every cached verdict of the subscription, on every instance.
pub async fn bump(ctx: &Ctx, sub: &SubscriptionId) {
    bump_in(ctx.cache.as_ref(), sub).await
}

async fn bump_in(cache: &dyn Ephemeral, sub: &SubscriptionId) {
    // What this request reads after its own change must be the new generation.
    forget();
    let fresh: i64 = rand::random();
    if let Err(e) = cache
        .put(&key(sub), fresh.to_string().as_bytes(), GENERATION_TTL)
        .await
    {
        // Entries expire on their own within their short TTL; say loudly that until then
        // a revocation may not be visible on other instances.
        tracing::error!(error = %e, "could not bump the state generation; caches expire within their TTL");
    }
}

tokio::task_local! {
    /// The generations this request has read.
    static READ: RefCell<Read>;
}

/// The generations one request has read.
#[derive(Debug, Default)]
struct Read {
    /// The state generation: its store key and value.
    state: Option<(String, i64)>,
    /// Another cache's generation read together with it ([`prefetch`]): key and value.
    other: Option<(String, Vec<u8>)>,
}

/// Run `request` reading each generation at most once: the first read stands for the
/// rest of the request. An introspection checks the client cache, the verified-token
/// cache and, with ACL parameters, the ACL cache; each asked the ephemeral store (with
/// Redis, a round trip each) for the same value. The request then counts as happening at
/// that read: a revocation that commits while it runs is seen by its database reads or
/// not at all, as it would be had the request started a moment later or earlier. A
/// change the request makes itself ([`bump`]) is seen by its later reads.
pub async fn per_request<F: Future>(request: F) -> F::Output {
    READ.scope(RefCell::new(Read::default()), request).await
}

/// Read the state generation of `sub` and `other`, the store key of another cache's
/// generation that this request is going to read, in one round trip (with Redis, one
/// MGET instead of two GETs), and remember both for the rest of the request. A missing
/// value is not remembered: its first reader creates it. Does nothing once the state
/// generation was read in this request, or outside a request.
pub async fn prefetch(ctx: &Ctx, sub: &SubscriptionId, other: String) {
    prefetch_in(ctx.cache.as_ref(), sub, other).await
}

async fn prefetch_in(cache: &dyn Ephemeral, sub: &SubscriptionId, other: String) {
    if recalled(sub).is_some() || READ.try_with(|_| ()).is_err() {
        return;
    }
    let key = key(sub);
    // Unreachable: each reader finds out for itself and bypasses its cache.
    let Ok((state, value)) = cache.get_pair(&key, &other).await else {
        return;
    };
    if let Some(g) = state.as_deref().and_then(parse) {
        remember(key, g);
    }
    if let Some(value) = value {
        let _outside_a_request =
            READ.try_with(|read| read.borrow_mut().other = Some((other, value)));
    }
}

/// The value [`prefetch`] read under `key` in this request, if any.
pub fn prefetched(key: &str) -> Option<Vec<u8>> {
    READ.try_with(|read| {
        read.borrow()
            .other
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    })
    .ok()
    .flatten()
}

/// Forget what [`prefetch`] read under `key`: this request changed it, and its later
/// reads must see the change.
pub fn forget_prefetched(key: &str) {
    let _outside_a_request = READ.try_with(|read| {
        let mut read = read.borrow_mut();
        if read.other.as_ref().is_some_and(|(k, _)| k == key) {
            read.other = None;
        }
    });
}

/// The generation of `sub` already read in this request.
fn recalled(sub: &SubscriptionId) -> Option<i64> {
    READ.try_with(|read| {
        read.borrow()
            .state
            .as_ref()
            .filter(|(key, _)| key.strip_prefix(KEY_PREFIX) == Some(sub.0.as_str()))
            .map(|(_, g)| *g)
    })
    .ok()
    .flatten()
}

fn remember(key: String, generation: i64) {
    let _outside_a_request =
        READ.try_with(|read| read.borrow_mut().state = Some((key, generation)));
}

fn forget() {
    let _outside_a_request = READ.try_with(|read| read.borrow_mut().state.take());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryStore;

    #[tokio::test]
    async fn a_request_reads_the_generation_once_and_sees_its_own_bump() {
        let store = MemoryStore::new();
        let (a, b) = (SubscriptionId("a".into()), SubscriptionId("b".into()));
        per_request(async {
            let first = current_in(&store, &a).await.unwrap();
            // Another instance's change lands in the store while the request runs.
            store.put(&key(&a), b"42", GENERATION_TTL).await.unwrap();
            assert_eq!(
                current_in(&store, &a).await,
                Some(first),
                "read once per request"
            );
            // Another subscription is its own read.
            let other = current_in(&store, &b).await.unwrap();
            assert_eq!(current_in(&store, &b).await, Some(other));
            assert_eq!(
                current_in(&store, &a).await,
                Some(42),
                "one subscription remembered"
            );
            bump_in(&store, &a).await;
            let after = current_in(&store, &a).await.unwrap();
            assert_ne!(after, 42, "the request's own bump is seen");
        })
        .await;
        // Outside a request every call reads the store.
        store.put(&key(&a), b"7", GENERATION_TTL).await.unwrap();
        assert_eq!(current_in(&store, &a).await, Some(7));
        store.put(&key(&a), b"8", GENERATION_TTL).await.unwrap();
        assert_eq!(current_in(&store, &a).await, Some(8));
    }

    #[tokio::test]
    async fn a_prefetch_reads_both_generations_once_and_a_change_is_seen() {
        let store = MemoryStore::new();
        let a = SubscriptionId("a".into());
        store.put(&key(&a), b"5", GENERATION_TTL).await.unwrap();
        store.put("aclgen:a", b"g1", GENERATION_TTL).await.unwrap();
        per_request(async {
            prefetch_in(&store, &a, "aclgen:a".into()).await;
            // Both changed in the store after the prefetch: the request keeps its reads.
            store.put(&key(&a), b"6", GENERATION_TTL).await.unwrap();
            store.put("aclgen:a", b"g2", GENERATION_TTL).await.unwrap();
            assert_eq!(current_in(&store, &a).await, Some(5));
            assert_eq!(prefetched("aclgen:a").as_deref(), Some(&b"g1"[..]));
            assert_eq!(prefetched("aclgen:b"), None, "only the key asked for");
            // The request's own change of the other generation.
            forget_prefetched("aclgen:a");
            assert_eq!(prefetched("aclgen:a"), None);
            // Once the state generation is read, a prefetch has nothing to save.
            prefetch_in(&store, &a, "aclgen:a".into()).await;
            assert_eq!(prefetched("aclgen:a"), None);
        })
        .await;
        per_request(async {
            // Missing values are left to their first reader, which creates them.
            let b = SubscriptionId("b".into());
            prefetch_in(&store, &b, "aclgen:b".into()).await;
            assert_eq!(prefetched("aclgen:b"), None);
            let created = current_in(&store, &b).await.unwrap();
            assert_eq!(
                store.get(&key(&b)).await.unwrap(),
                Some(created.to_string().into_bytes())
            );
        })
        .await;
        // Outside a request nothing is remembered.
        prefetch_in(&store, &a, "aclgen:a".into()).await;
        assert_eq!(prefetched("aclgen:a"), None);
    }

    #[tokio::test]
    async fn requests_do_not_share_what_they_read() {
        let store = MemoryStore::new();
        let a = SubscriptionId("a".into());
        let first = per_request(current_in(&store, &a)).await.unwrap();
        store.put(&key(&a), b"9", GENERATION_TTL).await.unwrap();
        assert_ne!(first, 9);
        assert_eq!(per_request(current_in(&store, &a)).await, Some(9));
    }
}

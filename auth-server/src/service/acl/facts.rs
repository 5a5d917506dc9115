//! Loading and caching the ACL facts of one (subscription, user, workspace).
//!
//! Introspection is called on every request of every resource server, so the facts
//! (the user's flag and attributes, role, groups, and every app of the workspace) are
//! loaded in one go and kept per instance. Correctness across instances comes from a
//! per-subscription *generation* in the shared ephemeral store (Redis when configured):
//! every ACL or user change writes a fresh random generation after its commit, and every
//! read compares the cached entry's generation with the current one (one cheap GET). A
//! reader that finds a new generation reloads from the database, so "change, then
//! introspect" never sees the old answer, on this instance or any other.
//!
//! Why a random value and not `INCR`: a counter that expires or is evicted restarts at
//! 1 and can climb back to a value an old entry was cached under, which would make that
//! stale entry look current; a fresh random value never repeats. A missing generation
//! (expired, evicted, first use) is replaced by a new one before anything is cached.
//! Entries also expire after [`MAX_AGE`], which bounds staleness if the ephemeral store
//! was unreachable when a change tried to announce itself; while it is unreachable,
//! reads bypass the cache and go to the database.
//!
//! Each worker thread asks its own front first (`service::local`): an entry there is
//! the thread's own copy of a shared entry, served under the same generation, age and
//! drop count as the shared entry it was copied from.

use crate::acl::{AclFacts, AclQuery, Action, AppFacts, Role, evaluate};
use crate::domain::{Subscription, SubscriptionId};
use crate::service::local::{Drops, Front, Timed};
use crate::service::weigh::{json_len, weight};
use crate::service::{Ctx, freshness, random, tenants};
use crate::store::StoreError;
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Longest time an entry is trusted even when its generation still matches.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Lifetime of a generation value; refreshed by every change.
const GENERATION_TTL: Duration = Duration::from_secs(24 * 3600);
/// The memory the facts cache may hold (see [`FactsCache`]).
pub const MAX_BYTES: u64 = 32 << 20;
/// The heaviest entry a thread's front keeps a copy of: its slots then hold at most
/// 256 × 8 KiB per thread, whatever the users' attributes weigh. Heavier entries are
/// served from the shared cache.
const FRONT_MAX_WEIGHT: u32 = 8 << 10;

/// Everything one user has in one workspace.
#[derive(Debug, Clone)]
pub struct UserWorkspace {
    /// Whether the workspace exists in the subscription.
    pub exists: bool,
    /// The facts without an app (user, flag, attributes, role, groups).
    pub base: AclFacts,
    /// The evaluator's facts for every app of the workspace, by slug: built once when the
    /// entry is loaded, so a cached decision clones nothing.
    pub apps: BTreeMap<String, AclFacts>,
    /// The apps the user may use and the actions they give (no record layer).
    pub app_actions: BTreeMap<String, Vec<Action>>,
    /// The part of an ACL introspection answer that depends on this entry only, written
    /// by the first answer that needs it (`service::acl::introspection`).
    pub answer_part: OnceLock<Bytes>,
}

impl UserWorkspace {
    /// The evaluator's facts for `app` (the base facts, `app: None`, when the workspace
    /// has no such app).
    pub fn facts(&self, app: &str) -> &AclFacts {
        self.apps.get(app).unwrap_or(&self.base)
    }

    /// The user's role, `None` when not a participant.
    pub fn role(&self) -> Option<Role> {
        self.base.workspace_role
    }

    /// A copy that shares no memory with `self`, for a thread's front; its answer part
    /// is written again by the first answer on that thread.
    fn own_copy(&self) -> UserWorkspace {
        UserWorkspace {
            exists: self.exists,
            base: self.base.clone(),
            apps: self.apps.clone(),
            app_actions: self.app_actions.clone(),
            answer_part: OnceLock::new(),
        }
    }

    /// The bytes this entry holds, estimated: its facts as JSON twice (the parsed
    /// structures, and the answer part written from them), and the entry's bookkeeping.
    fn weight(&self) -> u32 {
        /// The entry, its `Arc`s, generation and subscription, and the cache's node.
        const PER_ENTRY: usize = 512;
        let text = json_len(&self.base) + json_len(&self.apps) + json_len(&self.app_actions);
        weight(2 * text + PER_ENTRY)
    }
}

/// SHA-256 over (subscription, user, workspace): fixed size, so a lookup allocates
/// nothing; the subscription is kept beside it to forget a subscription's entries.
type Key = [u8; 32];

/// An entry, the generation it was loaded under, its subscription, when it was read
/// from the database and its weight.
#[derive(Debug)]
struct Entry {
    facts: Arc<UserWorkspace>,
    generation: String,
    sub: SubscriptionId,
    loaded_at: Instant,
    weight: u32,
}

/// A shared entry as the fronts keep it.
#[derive(Debug)]
struct Kept {
    facts: Arc<UserWorkspace>,
    generation: String,
}

thread_local! {
    /// This thread's front of the facts cache, by (subscription, user, workspace).
    static FRONT: RefCell<Front<Timed<Kept>>> = RefCell::default();
}

/// Per-instance cache of [`UserWorkspace`] entries, keyed by (subscription, user,
/// workspace slug) and tagged with the generation they were loaded under. At most
/// [`MAX_BYTES`] of entries, each for at most [`MAX_AGE`]; the least useful go first
/// (moka's TinyLFU), where a full cache used to start over and send every user of
/// every subscription to the database at once.
pub struct FactsCache {
    entries: moka::sync::Cache<Key, Arc<Entry>>,
    /// Bumped when a subscription's entries are forgotten, so that the fronts forget
    /// them too.
    drops: Drops,
}

impl Default for FactsCache {
    fn default() -> Self {
        FactsCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_BYTES)
                // Asked once per entry, when it is cached.
                .weigher(|_, e: &Arc<Entry>| e.weight)
                .time_to_live(MAX_AGE)
                .support_invalidation_closures()
                .build(),
            drops: Drops::default(),
        }
    }
}

impl std::fmt::Debug for FactsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactsCache")
            .field("entries", &self.entries.entry_count())
            .field("bytes", &self.entries.weighted_size())
            .finish()
    }
}

impl FactsCache {
    fn get(&self, key: &Key, generation: &str) -> Option<Arc<Entry>> {
        self.entries
            .get(key)
            .filter(|entry| entry.generation == generation)
    }

    /// Cache `facts`; returns the weight they were cached at.
    fn put(
        &self,
        key: Key,
        facts: Arc<UserWorkspace>,
        generation: String,
        sub: SubscriptionId,
        loaded_at: Instant,
    ) -> u32 {
        let weight = facts.weight();
        self.entries.insert(
            key,
            Arc::new(Entry {
                facts,
                generation,
                sub,
                loaded_at,
                weight,
            }),
        );
        weight
    }

    fn forget_subscription(&self, sub: &SubscriptionId) {
        let sub = sub.clone();
        // Only a cache built without closure support refuses, and this one has it.
        if let Err(e) = self.entries.invalidate_entries_if(move |_, e| e.sub == sub) {
            tracing::error!(error = %e, "could not drop a subscription's cached ACL facts; they age out within 60 s");
        }
        self.drops.bump();
    }
}

fn generation_key(sub: &SubscriptionId) -> String {
    format!("aclgen:{}", sub.0)
}

/// Read the subscription's ACL generation together with its state generation, in one
/// round trip, for a request that is going to need both (an introspection with ACL
/// parameters, `/acl/evaluate`). Call before anything reads the state generation.
pub async fn prefetch_generations(ctx: &Ctx, sub: &SubscriptionId) {
    freshness::prefetch(ctx, sub, generation_key(sub)).await;
}

/// The subscription's current generation, creating one if there is none; `None` when
/// the ephemeral store is unreachable (the caller then bypasses the cache).
async fn generation(ctx: &Ctx, sub: &SubscriptionId) -> Option<String> {
    let key = generation_key(sub);
    if let Some(read) = freshness::prefetched(&key) {
        return String::from_utf8(read).ok();
    }
    match ctx.cache.get(&key).await {
        Ok(Some(bytes)) => return String::from_utf8(bytes).ok(),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "ACL generation unreadable; reading facts from the database");
            return None;
        }
    }
    let fresh = random::token(12);
    match ctx
        .cache
        .put_new(&key, fresh.as_bytes(), GENERATION_TTL)
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
            .and_then(|b| String::from_utf8(b).ok()),
        Err(_) => None,
    }
}

/// Announce an ACL or user change of `sub` to every instance. Call after the commit.
pub async fn changed(ctx: &Ctx, sub: &SubscriptionId) {
    ctx.acl.forget_subscription(sub);
    freshness::forget_prefetched(&generation_key(sub));
    let fresh = random::token(12);
    if let Err(e) = ctx
        .cache
        .put(&generation_key(sub), fresh.as_bytes(), GENERATION_TTL)
        .await
    {
        // The change is committed; other instances' entries expire within MAX_AGE.
        tracing::error!(error = %e, subscription = %sub, "could not announce an ACL change; other instances may serve cached ACL facts for up to 60 s");
    }
}

/// The facts of `user_id` in workspace `workspace` (slug), from the cache when current.
pub async fn user_workspace(
    ctx: &Ctx,
    tenant: &Subscription,
    user_id: &str,
    workspace: &str,
) -> Result<Arc<UserWorkspace>, StoreError> {
    let Some(generation) = generation(ctx, &tenant.id).await else {
        return Ok(Arc::new(
            Box::pin(load(ctx, tenant, user_id, workspace)).await?,
        ));
    };
    let owner = ctx.owner.id();
    // Length-prefixed, so that no two (subscription, user, workspace) join the same.
    let (s, u, w) = (
        tenant.id.0.as_bytes(),
        user_id.as_bytes(),
        workspace.as_bytes(),
    );
    let lengths = [s.len(), u.len(), w.len()].map(|n| (n as u64).to_le_bytes());
    let parts: [&[u8]; 6] = [&lengths[0], s, &lengths[1], u, &lengths[2], w];
    // Read before the shared cache, so that a drop after it leaves what is kept unserved.
    let drops = ctx.acl.drops.read();
    let kept = FRONT.with_borrow(|front| {
        front
            .fresh_ref(owner, &parts, MAX_AGE, drops)
            .filter(|k| k.generation == generation)
            .map(|k| Arc::clone(&k.facts))
    });
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let key = crate::tokens::digest_key(&[&tenant.id.0, user_id, workspace]);
    let (facts, loaded_at) = match ctx.acl.get(&key, &generation) {
        Some(entry) if entry.weight > FRONT_MAX_WEIGHT => return Ok(Arc::clone(&entry.facts)),
        Some(entry) => (Arc::new(entry.facts.own_copy()), entry.loaded_at),
        None => {
            let loaded_at = Instant::now();
            // Boxed: the database read's future is kilobytes, and inline every cache hit
            // would carry and move it (docs/performance.md, session 13).
            let loaded = Arc::new(Box::pin(load(ctx, tenant, user_id, workspace)).await?);
            let weight = ctx.acl.put(
                key,
                Arc::clone(&loaded),
                generation.clone(),
                tenant.id.clone(),
                loaded_at,
            );
            if weight > FRONT_MAX_WEIGHT {
                return Ok(loaded);
            }
            (loaded, loaded_at)
        }
    };
    let kept = Timed {
        value: Kept {
            facts: Arc::clone(&facts),
            generation,
        },
        read_at: loaded_at,
        drops,
    };
    FRONT.with_borrow_mut(|front| front.put(owner, &parts, kept));
    Ok(facts)
}

/// Read everything from the database.
async fn load(
    ctx: &Ctx,
    tenant: &Subscription,
    user_id: &str,
    workspace: &str,
) -> Result<UserWorkspace, StoreError> {
    let sub = &tenant.id;
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let mut base = AclFacts {
        user_sub: user_id.to_owned(),
        ..AclFacts::default()
    };
    match repos.users().get(sub, user_id).await {
        Ok(user) if !user.disabled => {
            base.system_admin = user.system_admin || tenant.slug.as_str() == tenants::SYSTEM;
            base.user_attributes = user.attributes.into_iter().collect();
        }
        // A vanished or disabled user has no standing anywhere.
        Ok(_) | Err(StoreError::NotFound) => {
            return Ok(UserWorkspace {
                exists: false,
                base,
                apps: BTreeMap::new(),
                app_actions: BTreeMap::new(),
                answer_part: OnceLock::new(),
            });
        }
        Err(e) => return Err(e),
    }
    let ws = match repos.acl().workspace(sub, workspace).await {
        Ok(ws) => ws,
        Err(StoreError::NotFound) => {
            return Ok(UserWorkspace {
                exists: false,
                base,
                apps: BTreeMap::new(),
                app_actions: BTreeMap::new(),
                answer_part: OnceLock::new(),
            });
        }
        Err(e) => return Err(e),
    };
    base.workspace_role = repos.acl().role(sub, &ws.id, user_id).await?;
    base.user_groups = repos
        .acl()
        .user_groups(sub, &ws.id, user_id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect::<BTreeSet<_>>();
    let apps: BTreeMap<String, AclFacts> = repos
        .acl()
        .apps(sub, &ws.id)
        .await?
        .into_iter()
        .map(|a| {
            let facts = AclFacts {
                app: Some(AppFacts {
                    slug: a.slug.clone(),
                    grants: a.grants,
                    fields: a.fields,
                }),
                ..base.clone()
            };
            (a.slug, facts)
        })
        .collect();
    let app_actions = apps
        .iter()
        .filter_map(|(slug, facts)| {
            let d = evaluate(facts, &AclQuery::default());
            d.allowed.then(|| (slug.clone(), d.actions))
        })
        .collect();
    Ok(UserWorkspace {
        exists: true,
        base,
        apps,
        app_actions,
        answer_part: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(user: &str, attribute_bytes: usize) -> Arc<UserWorkspace> {
        let base = AclFacts {
            user_sub: user.to_owned(),
            user_attributes: [("bio".to_owned(), "x".repeat(attribute_bytes).into())].into(),
            ..AclFacts::default()
        };
        Arc::new(UserWorkspace {
            exists: true,
            base,
            apps: BTreeMap::new(),
            app_actions: BTreeMap::new(),
            answer_part: OnceLock::new(),
        })
    }

    fn key(sub: &str, user: &str) -> Key {
        crate::tokens::digest_key(&[sub, user, "eng"])
    }

    #[test]
    fn an_entry_serves_its_own_generation_only_and_a_change_forgets_its_subscription() {
        let cache = FactsCache::default();
        let (acme, beta) = (SubscriptionId("acme".into()), SubscriptionId("beta".into()));
        cache.put(
            key("acme", "u1"),
            workspace("u1", 8),
            "g1".into(),
            acme.clone(),
            Instant::now(),
        );
        cache.put(
            key("beta", "u1"),
            workspace("u1", 8),
            "g1".into(),
            beta.clone(),
            Instant::now(),
        );
        let hit = cache
            .get(&key("acme", "u1"), "g1")
            .expect("a current entry");
        assert_eq!(hit.facts.base.user_sub, "u1");
        assert!(
            cache.get(&key("acme", "u1"), "g2").is_none(),
            "a newer generation"
        );
        assert!(
            cache.get(&key("acme", "u2"), "g1").is_none(),
            "another user"
        );

        cache.forget_subscription(&acme);
        cache.entries.run_pending_tasks();
        assert!(cache.get(&key("acme", "u1"), "g1").is_none());
        assert!(
            cache.get(&key("beta", "u1"), "g1").is_some(),
            "other subscriptions stay"
        );
    }

    #[test]
    fn an_own_copy_answers_the_same_and_its_answer_part_is_its_own() {
        let shared = workspace("u1", 8);
        shared.answer_part.set(Bytes::from_static(b"part")).unwrap();
        let own = shared.own_copy();
        assert_eq!(
            (own.exists, &own.base, &own.apps, &own.app_actions),
            (
                shared.exists,
                &shared.base,
                &shared.apps,
                &shared.app_actions
            )
        );
        assert!(
            own.answer_part.get().is_none(),
            "written again on its thread"
        );
        // A typical entry is kept by the fronts; one with a large profile is not.
        assert!(workspace("u1", 1_024).weight() <= FRONT_MAX_WEIGHT);
        assert!(workspace("u1", 8 << 10).weight() > FRONT_MAX_WEIGHT);
    }

    #[test]
    fn the_facts_cache_holds_entries_by_their_bytes_and_never_starts_over() {
        let small = workspace("u", 8).weight();
        let large = workspace("u", 256 * 1024).weight();
        assert!(small < 1_024, "{small}");
        assert!(large > 2 * 256 * 1_024, "{large}");

        let cache = FactsCache::default();
        let sub = SubscriptionId("acme".into());
        for i in 0..200 {
            let user = format!("u{i}");
            cache.put(
                key("acme", &user),
                workspace(&user, 256 * 1024),
                "g".into(),
                sub.clone(),
                Instant::now(),
            );
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.weighted_size() <= MAX_BYTES);
        // 200 entries of 512 KiB would be 100 MiB; the budget keeps about 60, and a full
        // cache drops some entries, not all of them.
        let kept = cache.entries.entry_count();
        assert!((30..=64).contains(&kept), "{kept} large entries kept");
        // Small entries fit by the tens of thousands.
        let cache = FactsCache::default();
        for i in 0..20_000 {
            let user = format!("u{i}");
            cache.put(
                key("acme", &user),
                workspace(&user, 8),
                "g".into(),
                sub.clone(),
                Instant::now(),
            );
        }
        cache.entries.run_pending_tasks();
        assert_eq!(cache.entries.entry_count(), 20_000);
    }
}

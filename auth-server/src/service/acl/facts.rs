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

use crate::acl::{AclFacts, AclQuery, Action, AppFacts, Role, evaluate};
use crate::domain::{Subscription, SubscriptionId};
use crate::service::{Ctx, random, tenants};
use crate::store::StoreError;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// Longest time an entry is trusted even when its generation still matches.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Lifetime of a generation value; refreshed by every change.
const GENERATION_TTL: Duration = Duration::from_secs(24 * 3600);
/// Beyond this many entries the cache starts over (memory bound).
const MAX_ENTRIES: usize = 50_000;

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
}

/// SHA-256 over (subscription, user, workspace): fixed size, so a lookup allocates
/// nothing; the subscription is kept beside it to forget a subscription's entries.
type Key = [u8; 32];
/// An entry, the generation it was loaded under, when, and its subscription.
type Entry = (Arc<UserWorkspace>, String, Instant, SubscriptionId);

/// Per-instance cache of [`UserWorkspace`] entries, keyed by (subscription, user,
/// workspace slug) and tagged with the generation they were loaded under.
#[derive(Debug, Default)]
pub struct FactsCache {
    entries: RwLock<HashMap<Key, Entry>>,
}

impl FactsCache {
    fn get(&self, key: &Key, generation: &str) -> Option<Arc<UserWorkspace>> {
        let map = self.entries.read().ok()?;
        let (entry, at_generation, at, _) = map.get(key)?;
        (at_generation == generation && at.elapsed() < MAX_AGE).then(|| Arc::clone(entry))
    }

    fn put(&self, key: Key, entry: Arc<UserWorkspace>, generation: String, sub: SubscriptionId) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (entry, generation, Instant::now(), sub));
        }
    }

    fn forget_subscription(&self, sub: &SubscriptionId) {
        if let Ok(mut map) = self.entries.write() {
            map.retain(|_, (_, _, _, s)| s != sub);
        }
    }
}

fn generation_key(sub: &SubscriptionId) -> String {
    format!("aclgen:{}", sub.0)
}

/// The subscription's current generation, creating one if there is none; `None` when
/// the ephemeral store is unreachable (the caller then bypasses the cache).
async fn generation(ctx: &Ctx, sub: &SubscriptionId) -> Option<String> {
    let key = generation_key(sub);
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
    let generation = generation(ctx, &tenant.id).await;
    let key = crate::tokens::digest_key(&[&tenant.id.0, user_id, workspace]);
    if let Some(g) = &generation
        && let Some(hit) = ctx.acl.get(&key, g)
    {
        return Ok(hit);
    }
    // Boxed: the database read's future is kilobytes, and inline every cache hit would
    // carry and move it (docs/performance.md, session 13).
    let loaded = Arc::new(Box::pin(load(ctx, tenant, user_id, workspace)).await?);
    if let Some(g) = generation {
        ctx.acl.put(key, Arc::clone(&loaded), g, tenant.id.clone());
    }
    Ok(loaded)
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

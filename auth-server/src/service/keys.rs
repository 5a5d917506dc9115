//! Signing keys per subscription: creation, encryption at rest, rotation, and an
//! in-memory ring per subscription that every instance reloads every few seconds, so a
//! rotation on one instance is picked up by all without restart.
//!
//! Rotation rule (DESIGN.md "Keys"): the next key is published in JWKS before it signs;
//! rotating makes it active, publishes a new next key, and retires the old active key,
//! which stays published until every token it signed has expired.

use super::{Actor, Ctx, audit};
use crate::domain::SubscriptionId;
use crate::store::keys::StoredKey;
use crate::store::{StoreError, Tx};
use crate::tokens::{Alg, KeyRing, KeyStatus, SigningKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The algorithms every subscription has keys for.
pub const ALGS: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

/// How long an instance trusts its cached ring before reloading from the database.
const RING_TTL: Duration = Duration::from_secs(5);

/// Per-subscription cache of decrypted key rings.
#[derive(Debug, Default)]
pub struct KeyCache {
    rings: RwLock<HashMap<String, (Arc<KeyRing>, Instant)>>,
}

impl KeyCache {
    fn get(&self, sub: &SubscriptionId) -> Option<Arc<KeyRing>> {
        let rings = self.rings.read().ok()?;
        rings
            .get(&sub.0)
            .filter(|(_, at)| at.elapsed() < RING_TTL)
            .map(|(r, _)| Arc::clone(r))
    }

    /// The last ring loaded, however old: served only while the database is away, so
    /// that `/jwks` (public data) keeps answering and JWT signatures still verify.
    fn stale(&self, sub: &SubscriptionId) -> Option<Arc<KeyRing>> {
        let rings = self.rings.read().ok()?;
        rings.get(&sub.0).map(|(r, _)| Arc::clone(r))
    }

    fn put(&self, sub: &SubscriptionId, ring: Arc<KeyRing>) {
        if let Ok(mut rings) = self.rings.write() {
            rings.insert(sub.0.clone(), (ring, Instant::now()));
        }
    }

    /// Forget a subscription's ring (after a local rotation).
    pub fn invalidate(&self, sub: &SubscriptionId) {
        if let Ok(mut rings) = self.rings.write() {
            rings.remove(&sub.0);
        }
    }
}

pub(crate) fn aad(sub: &SubscriptionId, kid: &str) -> Vec<u8> {
    format!("{}|{}", sub.0, kid).into_bytes()
}

async fn generate_stored(
    ctx: &Ctx,
    sub: &SubscriptionId,
    alg: Alg,
    status: KeyStatus,
    now: i64,
) -> anyhow::Result<StoredKey> {
    // Key generation (RSA especially) is CPU-heavy: keep it off the async executor.
    let generated = tokio::task::spawn_blocking(move || crate::tokens::generate(alg)).await??;
    seal(ctx, sub, generated, status, now)
}

fn seal(
    ctx: &Ctx,
    sub: &SubscriptionId,
    generated: crate::tokens::GeneratedKey,
    status: KeyStatus,
    now: i64,
) -> anyhow::Result<StoredKey> {
    Ok(StoredKey {
        private_key: ctx
            .master_key
            .encrypt(&generated.private_der, &aad(sub, &generated.kid))?,
        kid: generated.kid,
        alg: generated.alg.as_str().to_owned(),
        status: status.as_str().to_owned(),
        public_jwk: generated.public_jwk.to_string(),
        created_at: now,
        publish_until: None,
    })
}

/// The active and next key of every algorithm for a new subscription, generated in
/// parallel and *before* its transaction opens: RSA generation takes a good part of a
/// second, and nothing else may write (SQLite's write lock) while a creation waits on it.
pub async fn generate_initial(
    ctx: &Ctx,
    sub: &SubscriptionId,
    now: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    generate_all(ctx, sub, &[KeyStatus::Active, KeyStatus::Next], now).await
}

/// One key per algorithm and status, generated in parallel off the executor.
async fn generate_all(
    ctx: &Ctx,
    sub: &SubscriptionId,
    statuses: &[KeyStatus],
    now: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    let jobs: Vec<_> = ALGS
        .iter()
        .flat_map(|alg| statuses.iter().map(move |status| (*alg, *status)))
        .map(|(alg, status)| {
            (
                status,
                tokio::task::spawn_blocking(move || crate::tokens::generate(alg)),
            )
        })
        .collect();
    let mut keys = Vec::with_capacity(jobs.len());
    for (status, job) in jobs {
        keys.push(seal(ctx, sub, job.await??, status, now)?);
    }
    Ok(keys)
}

/// Store the keys of [`generate_initial`] in the subscription's creating transaction.
pub async fn insert_initial(
    tx: &Tx,
    sub: &SubscriptionId,
    keys: &[StoredKey],
) -> Result<(), StoreError> {
    for key in keys {
        tx.repos().keys().insert(sub, key).await?;
    }
    Ok(())
}

/// The subscription's key ring (cached for a few seconds).
pub async fn ring(ctx: &Ctx, sub: &SubscriptionId) -> Result<Arc<KeyRing>, StoreError> {
    if let Some(ring) = ctx.keyrings.get(sub) {
        return Ok(ring);
    }
    let stored = match ctx.db(sub).await?.repos().keys().list(sub).await {
        Ok(stored) => stored,
        Err(StoreError::Unavailable(e)) => {
            return match ctx.keyrings.stale(sub) {
                Some(ring) => {
                    tracing::warn!("database unavailable: serving the last loaded key ring");
                    Ok(ring)
                }
                None => Err(StoreError::Unavailable(e)),
            };
        }
        Err(e) => return Err(e),
    };
    let mut keys = Vec::with_capacity(stored.len());
    for k in stored {
        match load(ctx, sub, &k) {
            Ok(key) => keys.push(key),
            // A key that cannot be decrypted (wrong AUTH_MASTER_KEY) must not take the
            // whole tenant down silently: log it loudly and serve the others.
            Err(e) => tracing::error!(kid = %k.kid, error = %e, "cannot load signing key"),
        }
    }
    let ring = Arc::new(KeyRing::new(keys));
    ctx.keyrings.put(sub, Arc::clone(&ring));
    Ok(ring)
}

fn load(ctx: &Ctx, sub: &SubscriptionId, k: &StoredKey) -> anyhow::Result<SigningKey> {
    let der = ctx.master_key.decrypt(&k.private_key, &aad(sub, &k.kid))?;
    let alg: Alg = k.alg.parse()?;
    let status: KeyStatus = k.status.parse()?;
    let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)?;
    Ok(SigningKey::from_parts(
        k.kid.clone(),
        alg,
        status,
        &der,
        jwk,
        k.publish_until,
    )?)
}

/// Rotate every algorithm's key of a subscription (see the module doc). `max_token_lifetime`
/// bounds how long the retired key must stay published.
pub async fn rotate(ctx: &Ctx, sub: &SubscriptionId, actor: &Actor) -> anyhow::Result<Vec<String>> {
    let now = ctx.now();
    let lifetime = ctx.settings.access_token_ttl.max(ctx.settings.id_token_ttl) as i64;
    let publish_until = now + lifetime + 300;
    // Generated before the transaction opens, like a new subscription's keys.
    let mut fresh = generate_all(ctx, sub, &[KeyStatus::Next], now).await?;
    let tx = ctx.begin(sub).await?;
    let keys = tx.repos().keys().list(sub).await?;
    let mut new_active = Vec::new();
    for alg in ALGS {
        let of_alg = |status: &str| {
            keys.iter()
                .find(|k| k.alg == alg.as_str() && k.status == status)
                .map(|k| k.kid.clone())
        };
        let (active, next) = (of_alg("active"), of_alg("next"));
        if let Some(old) = &active {
            tx.repos()
                .keys()
                .set_status(sub, old, "retired", now, Some(publish_until))
                .await?;
        }
        let promoted = match next {
            Some(next) => next,
            // No published next key (should not happen): create one and use it at once.
            None => {
                let key = generate_stored(ctx, sub, alg, KeyStatus::Next, now).await?;
                tx.repos().keys().insert(sub, &key).await?;
                key.kid
            }
        };
        tx.repos()
            .keys()
            .set_status(sub, &promoted, "active", now, None)
            .await?;
        let at = fresh
            .iter()
            .position(|k| k.alg == alg.as_str())
            .ok_or_else(|| anyhow::anyhow!("no fresh {} key", alg.as_str()))?;
        tx.repos()
            .keys()
            .insert(sub, &fresh.swap_remove(at))
            .await?;
        new_active.push(promoted);
    }
    tx.repos().keys().purge_expired(sub, now).await?;
    audit::record(
        &tx,
        sub,
        actor,
        "key.rotated",
        ("keys", "all"),
        Some(serde_json::json!({"active": {"old": null, "new": new_active}})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    ctx.keyrings.invalidate(sub);
    Ok(new_active)
}

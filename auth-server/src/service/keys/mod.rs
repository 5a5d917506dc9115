//! Signing keys per subscription: creation, encryption at rest, rotation, and an
//! in-memory ring per subscription that every instance re-reads every few seconds, so a
//! rotation on one instance is picked up by all without restart. A re-read that finds
//! the stored keys unchanged keeps the loaded ring: decrypting and parsing them again
//! cost milliseconds of CPU per busy tenant every few seconds (docs/performance.md,
//! session 12).
//!
//! Rotation rule (DESIGN.md "Keys"): the next key is published in JWKS before it signs;
//! rotating makes it active, publishes a new next key, and retires the old active key,
//! which stays published until every token it signed has expired.
//!
//! RS256 keys are made on first use ([`lazy`]: the first JWKS request or RS256
//! signature): RSA generation was 88 % of the cost of creating a subscription, and a
//! tenant whose clients only use ES256 access tokens and introspection never needs them.

use super::local::{Drops, Front, Owner, Timed};
use super::{Actor, Ctx, audit};
use crate::domain::SubscriptionId;
use crate::store::keys::StoredKey;
use crate::store::{StoreError, Tx};
use crate::tokens::{Alg, KeyRing, KeyStatus, SigningKey};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod lazy;

pub use lazy::{lacks_lazy, published_ring, sign, signing_ring, verifying_ring};

/// The algorithms a subscription signs with.
pub const ALGS: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

/// The algorithms whose keys a subscription gets at creation (cheap to generate).
pub const EAGER: [Alg; 2] = [Alg::ES256, Alg::EdDSA];

/// The algorithms whose active and next keys are generated on first use, a JWKS request
/// or a signature (RSA generation takes a good part of a second).
pub const LAZY: [Alg; 1] = [Alg::RS256];

/// How long an instance trusts its cached ring before reloading from the database.
const RING_TTL: Duration = Duration::from_secs(5);

/// Per-subscription cache of decrypted key rings, bounded to the
/// [`super::tenants::CACHED_TENANTS`] most used subscriptions: an idle tenant costs no
/// memory here, and ten thousand busy ones a few KiB each.
#[derive(Debug)]
pub struct KeyCache {
    rings: moka::sync::Cache<String, Cached>,
    /// One key generation at a time per subscription on this instance.
    gates: lazy::Gates,
    /// This cache's tag in the per-thread fronts (see [`super::local`]).
    owner: Owner,
    /// Counts [`KeyCache::invalidate`]s, for the fronts.
    drops: Drops,
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache {
            rings: moka::sync::Cache::new(super::tenants::CACHED_TENANTS),
            gates: lazy::Gates::default(),
            owner: Owner::default(),
            drops: Drops::default(),
        }
    }
}

thread_local! {
    /// This thread's front of the key-ring cache. Rings are shared, not copied: their
    /// signing keys cannot be cloned. What the front saves is the shared cache's lookup
    /// and the read it records.
    static FRONT: RefCell<Front<Timed<Arc<KeyRing>>>> = RefCell::default();
}

/// A loaded ring, when it was last read, and the [`fingerprint`] of the stored keys it
/// was loaded from.
#[derive(Debug, Clone)]
struct Cached {
    ring: Arc<KeyRing>,
    read_at: Instant,
    fingerprint: [u8; 32],
}

impl KeyCache {
    fn get(&self, sub: &SubscriptionId) -> Option<Arc<KeyRing>> {
        let drops = self.drops.read();
        let (owner, key) = (self.owner.id(), [sub.0.as_bytes()]);
        let kept = FRONT.with_borrow(|front| front.fresh(owner, &key, RING_TTL, drops));
        if kept.is_some() {
            return kept;
        }
        let c = self
            .rings
            .get(sub.0.as_str())
            .filter(|c| c.read_at.elapsed() < RING_TTL)?;
        let entry = Timed {
            value: Arc::clone(&c.ring),
            read_at: c.read_at,
            drops,
        };
        FRONT.with_borrow_mut(|front| front.put(owner, &key, entry));
        Some(c.ring)
    }

    /// The last ring loaded, however old: served only while the database is away, so
    /// that `/jwks` (public data) keeps answering and JWT signatures still verify.
    fn stale(&self, sub: &SubscriptionId) -> Option<Arc<KeyRing>> {
        self.rings.get(sub.0.as_str()).map(|c| c.ring)
    }

    /// The loaded ring, if it was loaded from stored keys with this fingerprint.
    fn loaded_from(&self, sub: &SubscriptionId, fingerprint: &[u8; 32]) -> Option<Arc<KeyRing>> {
        self.rings
            .get(sub.0.as_str())
            .filter(|c| &c.fingerprint == fingerprint)
            .map(|c| c.ring)
    }

    fn put(&self, sub: &SubscriptionId, ring: Arc<KeyRing>, fingerprint: [u8; 32]) {
        let read_at = Instant::now();
        self.rings.insert(
            sub.0.clone(),
            Cached {
                ring,
                read_at,
                fingerprint,
            },
        );
    }

    /// Forget a subscription's ring (after a local rotation).
    pub fn invalidate(&self, sub: &SubscriptionId) {
        self.rings.invalidate(sub.0.as_str());
        self.drops.bump();
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

/// The active and next key of every [`EAGER`] algorithm for a new subscription (the
/// [`LAZY`] ones come with their first use), generated in parallel and *before* its
/// transaction opens, so that nothing waits on them holding SQLite's write lock.
pub async fn generate_initial(
    ctx: &Ctx,
    sub: &SubscriptionId,
    now: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    generate_all(ctx, sub, &EAGER, &[KeyStatus::Active, KeyStatus::Next], now).await
}

/// One key per algorithm and status, generated in parallel off the executor.
async fn generate_all(
    ctx: &Ctx,
    sub: &SubscriptionId,
    algs: &[Alg],
    statuses: &[KeyStatus],
    now: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    let jobs: Vec<_> = algs
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
    // Boxed: a database read's future is kilobytes, and every token signed and
    // introspected would otherwise carry (and move) it for a read made every 5 s.
    Box::pin(load_ring(ctx, sub)).await
}

/// The subscription's key ring read from its database now, whatever the cache holds
/// (the last loaded ring while the database is away).
async fn load_ring(ctx: &Ctx, sub: &SubscriptionId) -> Result<Arc<KeyRing>, StoreError> {
    match read_ring(ctx, sub).await {
        Err(StoreError::Unavailable(e)) => match ctx.keyrings.stale(sub) {
            Some(ring) => {
                tracing::warn!("database unavailable: serving the last loaded key ring");
                Ok(ring)
            }
            None => Err(StoreError::Unavailable(e)),
        },
        read => read,
    }
}

/// The ring as stored now, cached; an unreachable database is an error here.
async fn read_ring(ctx: &Ctx, sub: &SubscriptionId) -> Result<Arc<KeyRing>, StoreError> {
    let stored = ctx.db(sub).await?.repos().keys().list(sub).await?;
    let fingerprint = fingerprint(&stored);
    if let Some(ring) = ctx.keyrings.loaded_from(sub, &fingerprint) {
        ctx.keyrings.put(sub, Arc::clone(&ring), fingerprint);
        return Ok(ring);
    }
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
    ctx.keyrings.put(sub, Arc::clone(&ring), fingerprint);
    Ok(ring)
}

/// A digest of everything a ring is loaded from: each stored key's id, algorithm,
/// status, publication, public JWK and sealed private key, in the stored order.
fn fingerprint(stored: &[StoredKey]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for k in stored {
        for part in [
            k.kid.as_bytes(),
            k.alg.as_bytes(),
            k.status.as_bytes(),
            k.public_jwk.as_bytes(),
            &k.private_key,
        ] {
            // Length-prefixed, so that no two different key lists share a digest input.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(k.created_at.to_le_bytes());
        h.update(k.publish_until.map_or([0xff; 9], |t| {
            let mut b = [0; 9];
            b[1..].copy_from_slice(&t.to_le_bytes());
            b
        }));
    }
    h.finalize().into()
}

fn load(ctx: &Ctx, sub: &SubscriptionId, k: &StoredKey) -> anyhow::Result<SigningKey> {
    load_with(&ctx.master_key, sub, k)
}

fn load_with(
    master: &crate::tokens::MasterKey,
    sub: &SubscriptionId,
    k: &StoredKey,
) -> anyhow::Result<SigningKey> {
    let der = master.decrypt(&k.private_key, &aad(sub, &k.kid))?;
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

/// An active key older than this is reported as due for rotation by `auth-server doctor`.
/// Nothing rotates by itself; 90 days is a common signing-key cryptoperiod for JWT
/// issuers, well inside NIST SP 800-57's one to three years for signature keys.
pub const ROTATE_AFTER_DAYS: i64 = 90;

/// What is wrong with one subscription's stored keys: `failures` and `undecryptable` stop
/// it from signing or from publishing the next key; `warnings` need attention but nothing
/// breaks yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyHealth {
    /// Missing active or next key.
    pub failures: Vec<String>,
    /// Keys that do not load: the master key cannot decrypt them, or a corrupt row
    /// (`kid (alg status): reason`).
    pub undecryptable: Vec<String>,
    /// An active key overdue for rotation.
    pub warnings: Vec<String>,
}

/// Check the stored keys of `sub` at `now` with the same decryption the key ring uses:
/// every algorithm has an active and a published next key (a [`LAZY`] algorithm may
/// have neither until its first use, but not one without the other), every key decrypts with
/// `master` and matches its public JWK, and no active key is older than
/// [`ROTATE_AFTER_DAYS`]. Messages name kids and algorithms, never key material.
pub fn health(
    master: &crate::tokens::MasterKey,
    sub: &SubscriptionId,
    stored: &[StoredKey],
    now: i64,
) -> KeyHealth {
    let mut h = KeyHealth::default();
    for k in stored {
        if let Err(e) = load_with(master, sub, k) {
            let (kid, alg, status) = (&k.kid, &k.alg, &k.status);
            h.undecryptable.push(format!("{kid} ({alg} {status}): {e}"));
        }
    }
    for alg in ALGS {
        let of = |status: &str| {
            stored
                .iter()
                .find(|k| k.alg == alg.as_str() && k.status == status)
        };
        if !in_use(stored, alg) {
            continue;
        }
        match of("active") {
            None => h.failures.push(format!("no active {alg} key")),
            Some(k) => {
                let days = (now - k.created_at) / 86_400;
                if days > ROTATE_AFTER_DAYS {
                    h.warnings.push(format!(
                        "active {alg} key {} is {days} days old (rotate after {ROTATE_AFTER_DAYS}: auth-server keys rotate)",
                        k.kid
                    ));
                }
            }
        }
        if of("next").is_none() {
            h.failures.push(format!("no published next {alg} key"));
        }
    }
    h
}

/// Whether `alg` has keys to check and rotate: always for an [`EAGER`] algorithm; for a
/// [`LAZY`] one only once its first use made them (an active or a next key).
fn in_use(stored: &[StoredKey], alg: Alg) -> bool {
    !LAZY.contains(&alg)
        || stored
            .iter()
            .any(|k| k.alg == alg.as_str() && (k.status == "active" || k.status == "next"))
}

/// Rotate every algorithm's key of a subscription (see the module doc). `max_token_lifetime`
/// bounds how long the retired key must stay published.
///
/// A [`LAZY`] algorithm without keys yet is left alone: there is no key to replace, and
/// its first use makes a fresh pair anyway. A pair made by a first use that races this
/// rotation is left alone too (it is seconds old).
pub async fn rotate(ctx: &Ctx, sub: &SubscriptionId, actor: &Actor) -> anyhow::Result<Vec<String>> {
    let now = ctx.now();
    let lifetime = ctx.settings.access_token_ttl.max(ctx.settings.id_token_ttl) as i64;
    let publish_until = now + lifetime + 300;
    let before = ctx.db(sub).await?.repos().keys().list(sub).await?;
    let algs: Vec<Alg> = ALGS
        .into_iter()
        .filter(|alg| in_use(&before, *alg))
        .collect();
    // Generated before the transaction opens, like a new subscription's keys.
    let mut fresh = generate_all(ctx, sub, &algs, &[KeyStatus::Next], now).await?;
    let tx = ctx.begin(sub).await?;
    let keys = tx.repos().keys().list(sub).await?;
    let mut new_active = Vec::new();
    for alg in algs {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::MasterKey;

    fn stored(
        master: &MasterKey,
        sub: &SubscriptionId,
        alg: Alg,
        status: &str,
        at: i64,
    ) -> StoredKey {
        let g = crate::tokens::generate(alg).unwrap();
        StoredKey {
            private_key: master.encrypt(&g.private_der, &aad(sub, &g.kid)).unwrap(),
            kid: g.kid,
            alg: alg.as_str().to_owned(),
            status: status.to_owned(),
            public_jwk: g.public_jwk.to_string(),
            created_at: at,
            publish_until: None,
        }
    }

    #[test]
    fn a_full_ring_is_healthy_and_a_foreign_master_key_or_a_missing_key_fails() {
        let (master, _) = MasterKey::generate();
        let sub = SubscriptionId("s1".into());
        let now = 1_000 * 86_400;
        let mut keys: Vec<StoredKey> = ALGS
            .iter()
            .flat_map(|alg| ["active", "next"].map(|s| (*alg, s)))
            .map(|(alg, s)| stored(&master, &sub, alg, s, now - 86_400))
            .collect();
        assert_eq!(health(&master, &sub, &keys, now), KeyHealth::default());

        let (other, _) = MasterKey::generate();
        let h = health(&other, &sub, &keys, now);
        assert_eq!((h.undecryptable.len(), h.failures.len()), (6, 0), "{h:?}");
        // The AAD binds a key to its subscription: another tenant's id does not decrypt.
        let h = health(&master, &SubscriptionId("s2".into()), &keys, now);
        assert_eq!(h.undecryptable.len(), 6, "{h:?}");

        let late = now + (ROTATE_AFTER_DAYS + 2) * 86_400;
        let h = health(&master, &sub, &keys, late);
        assert!(h.failures.is_empty() && h.warnings.len() == 3, "{h:?}");

        keys.retain(|k| !(k.alg == "ES256" && k.status == "next"));
        let h = health(&master, &sub, &keys, now);
        assert_eq!(h.failures, vec!["no published next ES256 key".to_owned()]);
    }

    #[test]
    fn the_fingerprint_changes_with_anything_a_ring_is_loaded_from() {
        let (master, _) = MasterKey::generate();
        let sub = SubscriptionId("s1".into());
        let keys: Vec<StoredKey> = EAGER
            .iter()
            .map(|alg| stored(&master, &sub, *alg, "active", 100))
            .collect();
        let base = fingerprint(&keys);
        assert_eq!(
            base,
            fingerprint(&keys.clone()),
            "a re-read of the same keys"
        );
        let changed = |f: &dyn Fn(&mut Vec<StoredKey>)| {
            let mut k = keys.clone();
            f(&mut k);
            fingerprint(&k)
        };
        let variants = [
            changed(&|k| k[0].status = "retired".into()),
            changed(&|k| k[0].publish_until = Some(0)),
            changed(&|k| k[0].publish_until = Some(1)),
            changed(&|k| k[1].private_key[0] ^= 1),
            changed(&|k| k[1].public_jwk.push(' ')),
            changed(&|k| k[1].kid.push('x')),
            changed(&|k| k[1].created_at += 1),
            changed(&|k| k.reverse()),
            changed(&|k| k.truncate(1)),
            changed(&|k| k.push(stored(&master, &sub, Alg::RS256, "next", 100))),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, base, "variant {i}");
            assert!(
                variants[..i].iter().all(|w| w != v),
                "variant {i} repeats one"
            );
        }
    }

    #[test]
    fn rs256_may_wait_for_its_first_use_but_not_with_half_a_pair() {
        let (master, _) = MasterKey::generate();
        let sub = SubscriptionId("s1".into());
        let now = 1_000 * 86_400;
        let mut keys: Vec<StoredKey> = EAGER
            .iter()
            .flat_map(|alg| ["active", "next"].map(|s| (*alg, s)))
            .map(|(alg, s)| stored(&master, &sub, alg, s, now))
            .collect();
        assert_eq!(health(&master, &sub, &keys, now), KeyHealth::default());
        assert!(!in_use(&keys, Alg::RS256) && in_use(&keys, Alg::ES256));
        // A retired key alone does not count as made: rotation and health skip it.
        keys.push(stored(&master, &sub, Alg::RS256, "retired", now));
        assert!(!in_use(&keys, Alg::RS256));
        keys.push(stored(&master, &sub, Alg::RS256, "active", now));
        assert!(in_use(&keys, Alg::RS256));
        let h = health(&master, &sub, &keys, now);
        assert_eq!(h.failures, vec!["no published next RS256 key".to_owned()]);
        // An eager algorithm without keys is a failure, as before.
        keys.retain(|k| k.alg != "EdDSA");
        let h = health(&master, &sub, &keys, now);
        assert!(
            h.failures.contains(&"no active EdDSA key".to_owned()),
            "{h:?}"
        );
    }
}

//! Keys made on first use ([`super::LAZY`], RS256): the first JWKS request or the first
//! signature that needs them generates the active and next key and stores them, before
//! JWKS is served or the token signed.
//!
//! JWKS counts as a use because relying parties fetch it before they verify, and many
//! (openidconnect-rs among them) fetch it once, with discovery, and never again for an
//! unknown `kid`: for them a key must be published before it signs, as on rotation. A
//! tenant whose JWKS nobody fetches and that never signs RS256 (ES256 access tokens and
//! introspection) never pays for RSA keys.
//!
//! Exactly one pair per subscription, however many requests and instances ask at once:
//! - on one instance a per-subscription gate lets one request generate while the others
//!   wait for its result (100 concurrent first requests cost one generation, not 100);
//! - across instances the database decides: a unique index allows one `active` and one
//!   `next` key per (subscription, algorithm), so the instance that loses the race fails
//!   its insert, drops its pair and reads the winner's.
//!
//! Another instance may have cached the ring without the new keys for up to its TTL, so
//! while a ring lacks a lazy algorithm, JWKS and the verification of a token whose `kid`
//! the ring does not know read the keys from the database instead of the cache. Once the
//! keys exist the cache serves as before.

use super::{EAGER, LAZY, StoredKey, generate_all, load_ring, read_ring, ring};
use crate::domain::SubscriptionId;
use crate::service::{Actor, Ctx, FlowError, audit};
use crate::store::StoreError;
use crate::tokens::{Alg, KeyRing, KeyStatus, jwt};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One gate per subscription whose keys are being generated on this instance; an entry
/// lives only while someone holds or waits for it.
#[derive(Debug, Default)]
pub(super) struct Gates(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Gates {
    fn enter(&self, sub: &SubscriptionId) -> Arc<tokio::sync::Mutex<()>> {
        match self.0.lock() {
            Ok(mut gates) => Arc::clone(gates.entry(sub.0.clone()).or_default()),
            // A poisoned map only costs the single flight; the database still decides.
            Err(_) => Arc::default(),
        }
    }

    fn leave(&self, sub: &SubscriptionId, gate: Arc<tokio::sync::Mutex<()>>) {
        if let Ok(mut gates) = self.0.lock()
            && let Some(held) = gates.get(&sub.0)
            // Nobody else holds or waits (the map's reference and ours): the keys are
            // stored by now, so a later arrival finds them without a gate.
            && Arc::ptr_eq(held, &gate)
            && Arc::strong_count(&gate) == 2
        {
            gates.remove(&sub.0);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|g| g.len()).unwrap_or(0)
    }
}

/// Whether `ring` lacks the active key of a lazy algorithm (its first use is yet to come,
/// here or on another instance).
pub fn lacks_lazy(ring: &KeyRing) -> bool {
    LAZY.iter().any(|alg| ring.signing_key(*alg).is_none())
}

/// The ring to serve as JWKS, with the lazy algorithms' keys made first where missing
/// (see the module doc). If they cannot be made now (the database is away), the keys
/// that exist are served: JWKS is public data and stays available.
pub async fn published_ring(ctx: &Ctx, sub: &SubscriptionId) -> Result<Arc<KeyRing>, StoreError> {
    let mut out = ring(ctx, sub).await?;
    for alg in LAZY {
        if out.signing_key(alg).is_some() {
            continue;
        }
        // Boxed, like the reads below: making keys and reading the database are the cold
        // paths, and inline their futures (kilobytes) would be moved with every JWKS
        // request (docs/performance.md, session 13).
        match Box::pin(signing_ring(ctx, sub, alg)).await {
            Ok(made) => out = made,
            Err(e) => {
                tracing::warn!(subscription = %sub.0, %alg, error = %e, "cannot make the keys for JWKS now; serving those that exist");
                return Box::pin(load_ring(ctx, sub)).await;
            }
        }
    }
    Ok(out)
}

/// The ring to verify `token` with: the cached one, unless it knows neither the token's
/// `kid` nor any key of a lazy algorithm (another instance may have just made them).
pub async fn verifying_ring(
    ctx: &Ctx,
    sub: &SubscriptionId,
    token: &str,
) -> Result<Arc<KeyRing>, StoreError> {
    let cached = ring(ctx, sub).await?;
    if lacks_lazy(&cached)
        && let Some(kid) = jwt::header_kid(token)
        && cached.find(&kid).is_none()
    {
        return Box::pin(load_ring(ctx, sub)).await;
    }
    Ok(cached)
}

/// A ring holding an active `alg` key, made now if `alg` is lazy and has none yet.
pub async fn signing_ring(
    ctx: &Ctx,
    sub: &SubscriptionId,
    alg: Alg,
) -> Result<Arc<KeyRing>, FlowError> {
    let cached = ring(ctx, sub).await?;
    if cached.signing_key(alg).is_some() || !LAZY.contains(&alg) {
        return Ok(cached);
    }
    let gate = ctx.keyrings.gates.enter(sub);
    let made = {
        let _turn = gate.lock().await;
        // Boxed: key generation and its transaction happen once per tenant, and inline
        // their future would be copied with every token signed.
        Box::pin(provision(ctx, sub, alg)).await
    };
    ctx.keyrings.gates.leave(sub, gate);
    made
}

/// Sign `claims` as a JWT of type `typ` with the subscription's active `alg` key (made
/// first if it is lazy and missing: stored before the token exists).
pub async fn sign<C: Serialize>(
    ctx: &Ctx,
    sub: &SubscriptionId,
    alg: Alg,
    typ: &str,
    claims: &C,
) -> Result<String, FlowError> {
    let ring = signing_ring(ctx, sub, alg).await?;
    let key = ring
        .signing_key(alg)
        .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("no active {alg} signing key")))?;
    jwt::sign(key, typ, claims).map_err(|e| FlowError::Internal(e.into()))
}

/// Make the `alg` pair unless the request before us (cache) or another instance
/// (database) already did. Runs with the subscription's gate held.
async fn provision(ctx: &Ctx, sub: &SubscriptionId, alg: Alg) -> Result<Arc<KeyRing>, FlowError> {
    if let Some(ring) = ctx.keyrings.get(sub)
        && ring.signing_key(alg).is_some()
    {
        return Ok(ring);
    }
    // Strict read: with the database away, nothing is generated for nothing.
    let ring = read_ring(ctx, sub).await?;
    if ring.signing_key(alg).is_some() {
        return Ok(ring);
    }
    let now = ctx.now();
    let pair = generate_all(ctx, sub, &[alg], &[KeyStatus::Active, KeyStatus::Next], now).await?;
    match store(ctx, sub, alg, &pair, now).await {
        Ok(()) => {
            tracing::info!(subscription = %sub.0, %alg, "signing keys generated on first use")
        }
        // The unique index kept another instance's pair; ours is dropped unused.
        Err(StoreError::Conflict { .. }) => {
            tracing::debug!(subscription = %sub.0, %alg, "another instance generated the keys first")
        }
        Err(e) => return Err(e.into()),
    }
    let ring = read_ring(ctx, sub).await?;
    if ring.signing_key(alg).is_none() {
        return Err(FlowError::Internal(anyhow::anyhow!(
            "no active {alg} key after generating it"
        )));
    }
    Ok(ring)
}

/// Store a generated pair with its audit event (`key.generated`, by the server itself).
async fn store(
    ctx: &Ctx,
    sub: &SubscriptionId,
    alg: Alg,
    pair: &[StoredKey],
    now: i64,
) -> Result<(), StoreError> {
    let tx = ctx.begin(sub).await?;
    for key in pair {
        tx.repos().keys().insert(sub, key).await?;
    }
    let kid = |status: KeyStatus| {
        pair.iter()
            .find(|k| k.status == status.as_str())
            .map(|k| k.kid.clone())
    };
    let diff = serde_json::json!({
        "active": {"old": null, "new": kid(KeyStatus::Active)},
        "next": {"old": null, "new": kid(KeyStatus::Next)},
    });
    audit::record(
        &tx,
        sub,
        &Actor::default(),
        "key.generated",
        ("keys", alg.as_str()),
        Some(diff),
        now,
    )
    .await?;
    ctx.commit(tx).await
}

// Keeps EAGER and LAZY a partition of ALGS: an algorithm in neither would never get keys.
const _: () = assert!(EAGER.len() + LAZY.len() == super::ALGS.len());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{SigningKey, generate};

    fn key(alg: Alg, status: KeyStatus) -> SigningKey {
        SigningKey::from_generated(&generate(alg).unwrap(), status, None).unwrap()
    }

    #[test]
    fn a_ring_lacks_a_lazy_algorithm_until_it_has_its_active_key() {
        let eager = vec![
            key(Alg::ES256, KeyStatus::Active),
            key(Alg::EdDSA, KeyStatus::Active),
        ];
        assert!(lacks_lazy(&KeyRing::new(eager.clone())));
        let mut with_next = eager.clone();
        with_next.push(key(Alg::RS256, KeyStatus::Next));
        assert!(lacks_lazy(&KeyRing::new(with_next)));
        let mut full = eager;
        full.push(key(Alg::RS256, KeyStatus::Active));
        assert!(!lacks_lazy(&KeyRing::new(full)));
    }

    #[test]
    fn a_gate_is_shared_while_held_and_forgotten_by_the_last_to_leave() {
        let gates = Gates::default();
        let (a, b) = (SubscriptionId("a".into()), SubscriptionId("b".into()));
        let first = gates.enter(&a);
        let second = gates.enter(&a);
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &gates.enter(&b)));
        gates.leave(&b, gates.enter(&b));
        gates.leave(&a, first);
        assert_eq!(gates.len(), 1, "b is gone, a is still waited on");
        gates.leave(&a, second);
        assert_eq!(gates.len(), 0);
    }
}

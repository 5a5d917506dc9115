//! A subscription's key ring (JWKS, RFC 7517 §5) and the rotation policy.
//!
//! The rule (DESIGN.md "Tokens and keys", Contract details "Keys"):
//! - **The next key is published before it signs.** Relying parties cache JWKS; a key that
//!   signs before they could have fetched it makes them reject good tokens. So a rotation
//!   only ever promotes a key that is already `Next`, and publishes a fresh `Next`.
//! - **A retired key stays published until every token it signed has expired**: its
//!   `publish_until` is `now + max_token_lifetime + leeway`, where `max_token_lifetime` is
//!   the longest lifetime of any JWT it could have signed (access or ID token) and
//!   `leeway` covers the clock skew verifiers allow.
//!
//! Verification accepts `Next` keys too: in a multi-instance deployment one instance may
//! already sign with a freshly promoted key while another still holds the ring in which it
//! is `Next`.

use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::RwLock;

use super::keys::{Alg, KeyStatus, SigningKey};

/// The loaded keys of one subscription, all algorithms and statuses.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    /// The serialized JWK Set and which keys it published (bit i: `keys[i]`). Relying
    /// parties fetch JWKS often and the RSA moduli make it the largest document we serve;
    /// it only changes when a retired key's publication ends.
    jwks_doc: RwLock<Option<(u64, Bytes)>>,
}

impl Clone for KeyRing {
    fn clone(&self) -> Self {
        KeyRing::new(self.keys.clone())
    }
}

impl KeyRing {
    /// Builds a ring. The store keeps at most one `Active` and one `Next` key per algorithm;
    /// should it ever hold more, the first in `keys` wins.
    pub fn new(keys: Vec<SigningKey>) -> KeyRing {
        KeyRing {
            keys,
            jwks_doc: RwLock::default(),
        }
    }

    /// The `Active` key that signs new tokens with `alg`.
    pub fn signing_key(&self, alg: Alg) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|key| key.alg() == alg && key.status() == KeyStatus::Active)
    }

    /// The key with this `kid`, whatever its status (for verification; callers also check
    /// [`SigningKey::is_published`], as [`super::verify`] does).
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.kid() == kid)
    }

    /// Every key in the ring.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The JWK Set to serve at `jwks_uri`: active, next, and retired keys whose
    /// `publish_until` is after `now`, in that order.
    pub fn jwks(&self, now: i64) -> Value {
        let mut published: Vec<&SigningKey> = self
            .keys
            .iter()
            .filter(|key| key.is_published(now))
            .collect();
        // Stable sort: active first reads best in a JWKS dump; order has no meaning to RPs.
        published.sort_by_key(|key| match key.status() {
            KeyStatus::Active => 0,
            KeyStatus::Next => 1,
            KeyStatus::Retired => 2,
        });
        let keys: Vec<Value> = published
            .into_iter()
            .map(|key| key.public_jwk().clone())
            .collect();
        json!({ "keys": keys })
    }

    /// [`KeyRing::jwks`] serialized, rebuilt only when the set of published keys changed.
    pub fn jwks_json(&self, now: i64) -> Bytes {
        // A ring of more than 64 keys (never produced by rotation) is simply not cached.
        let mask = (self.keys.len() <= 64).then(|| {
            self.keys
                .iter()
                .enumerate()
                .filter(|(_, key)| key.is_published(now))
                .fold(0u64, |m, (i, _)| m | 1 << i)
        });
        if let Some(mask) = mask
            && let Ok(doc) = self.jwks_doc.read()
            && let Some((published, bytes)) = doc.as_ref()
            && *published == mask
        {
            return bytes.clone();
        }
        let bytes = Bytes::from(self.jwks(now).to_string());
        if let Some(mask) = mask
            && let Ok(mut doc) = self.jwks_doc.write()
        {
            *doc = Some((mask, bytes.clone()));
        }
        bytes
    }
}

/// What the rotation policy needs to know about a stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    /// The key id.
    pub kid: String,
    /// The key's algorithm.
    pub alg: Alg,
    /// The key's status.
    pub status: KeyStatus,
}

impl From<&SigningKey> for KeyMeta {
    fn from(key: &SigningKey) -> Self {
        KeyMeta {
            kid: key.kid().to_owned(),
            alg: key.alg(),
            status: key.status(),
        }
    }
}

/// The key to retire and until when it stays published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    /// The old active key.
    pub kid: String,
    /// `now + max_token_lifetime + leeway`, unix seconds.
    pub publish_until: i64,
}

/// What a rotation of one algorithm's keys must do; the service applies it in one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPlan {
    /// The `Next` key that becomes `Active` now.
    pub promote: Option<String>,
    /// The old `Active` key that becomes `Retired`.
    pub retire: Option<Retirement>,
    /// Generate a key and store it as `Next` (published, not yet signing).
    pub need_new_next: bool,
    /// Generate a key and store it as `Active` right away. Only on bootstrap (no active and
    /// no next key of this algorithm): nobody can hold a cached JWKS that lacks it, because
    /// no token of this algorithm was ever signed.
    pub need_new_active: bool,
}

/// `now + max_token_lifetime + leeway`, saturating: when a retired key may leave JWKS.
pub fn retired_publish_until(now: i64, max_token_lifetime: i64, leeway: i64) -> i64 {
    now.saturating_add(max_token_lifetime.max(0))
        .saturating_add(leeway.max(0))
}

/// Plans the rotation of `alg`'s keys (see the module docs for the rule):
/// - active + next: promote next, retire active, publish a new next;
/// - active, no next: only publish a next (promoting an unpublished key would break
///   verifiers with a cached JWKS); the following rotation promotes it;
/// - next, no active: promote next, publish a new next;
/// - neither: bootstrap, generate an active and a next key.
pub fn plan_rotation(
    keys: &[KeyMeta],
    alg: Alg,
    now: i64,
    max_token_lifetime: i64,
    leeway: i64,
) -> RotationPlan {
    let first = |status| {
        keys.iter()
            .find(|key| key.alg == alg && key.status == status)
            .map(|key| key.kid.clone())
    };
    let (active, next) = (first(KeyStatus::Active), first(KeyStatus::Next));
    match (active, next) {
        (Some(active), Some(next)) => RotationPlan {
            promote: Some(next),
            retire: Some(Retirement {
                kid: active,
                publish_until: retired_publish_until(now, max_token_lifetime, leeway),
            }),
            need_new_next: true,
            need_new_active: false,
        },
        (Some(_), None) => RotationPlan {
            promote: None,
            retire: None,
            need_new_next: true,
            need_new_active: false,
        },
        (None, Some(next)) => RotationPlan {
            promote: Some(next),
            retire: None,
            need_new_next: true,
            need_new_active: false,
        },
        (None, None) => RotationPlan {
            promote: None,
            retire: None,
            need_new_next: true,
            need_new_active: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::generate;

    fn key(alg: Alg, status: KeyStatus, until: Option<i64>) -> SigningKey {
        SigningKey::from_generated(&generate(alg).unwrap(), status, until).unwrap()
    }

    fn kids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn jwks_holds_active_next_and_unexpired_retired_keys_only() {
        let now = 1_700_000_000;
        let active = key(Alg::EdDSA, KeyStatus::Active, None);
        let next = key(Alg::EdDSA, KeyStatus::Next, None);
        let fresh = key(Alg::EdDSA, KeyStatus::Retired, Some(now + 60));
        let stale = key(Alg::EdDSA, KeyStatus::Retired, Some(now - 1));
        let ring = KeyRing::new(vec![
            stale.clone(),
            fresh.clone(),
            next.clone(),
            active.clone(),
        ]);
        let jwks = ring.jwks(now);
        assert_eq!(
            kids(&jwks),
            vec![active.kid(), next.kid(), fresh.kid()]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        );
        for jwk in jwks["keys"].as_array().unwrap() {
            assert!(jwk.get("d").is_none());
        }
        // Once its publish_until passes, the retired key leaves too.
        assert_eq!(kids(&ring.jwks(now + 60)).len(), 2);
    }

    #[test]
    fn the_serialized_jwks_follows_the_published_set_across_its_cache() {
        let now = 1_700_000_000;
        let ring = KeyRing::new(vec![
            key(Alg::EdDSA, KeyStatus::Active, None),
            key(Alg::EdDSA, KeyStatus::Retired, Some(now + 60)),
        ]);
        let parse = |b: Bytes| serde_json::from_slice::<Value>(&b).unwrap();
        assert_eq!(parse(ring.jwks_json(now)), ring.jwks(now));
        // Served from the cache while the set is unchanged…
        assert_eq!(parse(ring.jwks_json(now + 59)), ring.jwks(now));
        // …and rebuilt the moment the retired key's publication ends.
        assert_eq!(kids(&parse(ring.jwks_json(now + 60))).len(), 1);
        assert_eq!(parse(ring.clone().jwks_json(now)), ring.jwks(now));
    }

    #[test]
    fn signing_key_is_the_active_key_of_that_alg_and_find_sees_every_status() {
        let rs = key(Alg::RS256, KeyStatus::Active, None);
        let ed_next = key(Alg::EdDSA, KeyStatus::Next, None);
        let ed = key(Alg::EdDSA, KeyStatus::Active, None);
        let ring = KeyRing::new(vec![rs.clone(), ed_next.clone(), ed.clone()]);
        assert_eq!(ring.signing_key(Alg::RS256).unwrap().kid(), rs.kid());
        assert_eq!(ring.signing_key(Alg::EdDSA).unwrap().kid(), ed.kid());
        assert!(ring.signing_key(Alg::ES256).is_none());
        assert_eq!(ring.find(ed_next.kid()).unwrap().status(), KeyStatus::Next);
        assert!(ring.find("nope").is_none());
    }

    fn meta(kid: &str, alg: Alg, status: KeyStatus) -> KeyMeta {
        KeyMeta {
            kid: kid.into(),
            alg,
            status,
        }
    }

    #[test]
    fn rotation_promotes_next_retires_active_and_asks_for_a_new_next() {
        let keys = [
            meta("old", Alg::RS256, KeyStatus::Retired),
            meta("a", Alg::RS256, KeyStatus::Active),
            meta("n", Alg::RS256, KeyStatus::Next),
            meta("ec-a", Alg::ES256, KeyStatus::Active),
        ];
        let plan = plan_rotation(&keys, Alg::RS256, 1_000, 3_600, 60);
        assert_eq!(
            plan,
            RotationPlan {
                promote: Some("n".into()),
                retire: Some(Retirement {
                    kid: "a".into(),
                    publish_until: 1_000 + 3_600 + 60
                }),
                need_new_next: true,
                need_new_active: false,
            }
        );
    }

    #[test]
    fn rotation_never_promotes_a_key_that_was_not_published() {
        let keys = [meta("a", Alg::ES256, KeyStatus::Active)];
        let plan = plan_rotation(&keys, Alg::ES256, 0, 3_600, 60);
        assert_eq!(plan.promote, None);
        assert_eq!(plan.retire, None);
        assert!(plan.need_new_next && !plan.need_new_active);
    }

    #[test]
    fn rotation_bootstraps_an_empty_algorithm_and_recovers_a_lone_next() {
        let keys = [meta("a", Alg::RS256, KeyStatus::Active)];
        let plan = plan_rotation(&keys, Alg::EdDSA, 0, 3_600, 60);
        assert!(plan.need_new_active && plan.need_new_next);
        assert_eq!((plan.promote, plan.retire), (None, None));

        let keys = [meta("n", Alg::EdDSA, KeyStatus::Next)];
        let plan = plan_rotation(&keys, Alg::EdDSA, 0, 3_600, 60);
        assert_eq!(plan.promote.as_deref(), Some("n"));
        assert!(plan.need_new_next && !plan.need_new_active);
    }

    #[test]
    fn publish_until_saturates_instead_of_overflowing() {
        assert_eq!(retired_publish_until(i64::MAX - 5, 3_600, 60), i64::MAX);
        assert_eq!(retired_publish_until(100, -5, -5), 100);
    }
}

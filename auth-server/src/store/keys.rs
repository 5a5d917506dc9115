//! Signing keys of a subscription; private keys are stored encrypted (by the service).

use super::StoreError;
use super::entity::signing_key as e;
use crate::domain::SubscriptionId;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

/// A stored key row (private key still encrypted).
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// Key id (`kid`).
    pub kid: String,
    /// `RS256 | ES256 | EdDSA`.
    pub alg: String,
    /// `next | active | retired`.
    pub status: String,
    /// Encrypted PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Public JWK (JSON text).
    pub public_jwk: String,
    /// Creation time.
    pub created_at: i64,
    /// Until when a retired key stays in JWKS.
    pub publish_until: Option<i64>,
}

/// Repository of signing keys.
pub struct Keys<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> Keys<'_, C> {
    /// Store a new key.
    pub async fn insert(&self, sub: &SubscriptionId, key: &StoredKey) -> Result<(), StoreError> {
        e::ActiveModel {
            kid: Set(key.kid.clone()),
            subscription_id: Set(sub.0.clone()),
            alg: Set(key.alg.clone()),
            status: Set(key.status.clone()),
            private_key: Set(key.private_key.clone()),
            public_jwk: Set(key.public_jwk.clone()),
            created_at: Set(key.created_at),
            activated_at: Set((key.status == "active").then_some(key.created_at)),
            retired_at: Set(None),
            publish_until: Set(key.publish_until),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// Every key of the subscription, oldest first.
    pub async fn list(&self, sub: &SubscriptionId) -> Result<Vec<StoredKey>, StoreError> {
        let rows = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::CreatedAt)
            .all(self.c)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| StoredKey {
                kid: m.kid,
                alg: m.alg,
                status: m.status,
                private_key: m.private_key,
                public_jwk: m.public_jwk,
                created_at: m.created_at,
                publish_until: m.publish_until,
            })
            .collect())
    }

    /// Change a key's status (rotation).
    pub async fn set_status(
        &self,
        sub: &SubscriptionId,
        kid: &str,
        status: &str,
        now: i64,
        publish_until: Option<i64>,
    ) -> Result<(), StoreError> {
        let m = e::Entity::find_by_id(kid.to_owned())
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut am: e::ActiveModel = m.into();
        match status {
            "active" => am.activated_at = Set(Some(now)),
            "retired" => am.retired_at = Set(Some(now)),
            _ => {}
        }
        am.status = Set(status.to_owned());
        am.publish_until = Set(publish_until);
        am.update(self.c).await?;
        Ok(())
    }

    /// Remove retired keys whose publication window is over.
    pub async fn purge_expired(&self, sub: &SubscriptionId, now: i64) -> Result<u64, StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::Status.eq("retired"))
            .filter(e::Column::PublishUntil.lt(now))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }
}

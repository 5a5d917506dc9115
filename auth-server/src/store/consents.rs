//! Remembered consent per (user, client): the granted scopes. Every method takes the
//! subscription id; a consent of another subscription reads as absent.

use super::StoreError;
use super::entity::consent as e;
use crate::domain::{Scope, SubscriptionId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// One remembered consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The client the user consented to.
    pub client_id: String,
    /// Every scope the user granted it (the union of their consents).
    pub scope: Scope,
    /// When the consent was last widened (Unix seconds).
    pub granted_at: i64,
}

/// Repository of consents.
pub struct Consents<'a, C> {
    pub(super) c: &'a C,
}

fn to_domain(m: e::Model) -> Result<Consent, StoreError> {
    Ok(Consent {
        scope: Scope::parse(&m.scope).map_err(|_| StoreError::Corrupt("consents.scope"))?,
        client_id: m.client_id,
        granted_at: m.created_at,
    })
}

impl<C: ConnectionTrait> Consents<'_, C> {
    /// The scopes this user granted this client, if any.
    pub async fn get(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Scope>, StoreError> {
        let m = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id))
            .filter(e::Column::ClientId.eq(client_id))
            .one(self.c)
            .await?;
        m.map(|m| to_domain(m).map(|c| c.scope)).transpose()
    }

    /// Remember a grant: the stored scope becomes the union of the earlier grant and
    /// `scope`, so approving a narrower request never forgets a wider earlier consent.
    /// Returns the scope before (`None` for a first consent) and after. Call it inside a
    /// transaction: the read and the write belong together.
    ///
    /// Two approvals at the same moment must not lose either's scopes, so the row is
    /// claimed before it is read: the insert of a first consent waits for (and yields to)
    /// a concurrent one on the primary key, and on PostgreSQL `SELECT … FOR UPDATE` holds
    /// the row until this transaction ends, so the second approval reads the first one's
    /// union. SQLite has no row locks (sea-query drops the clause) and needs none: its
    /// write transactions are serialized by `BEGIN IMMEDIATE` ([`super::Store::begin`]).
    pub async fn put(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
        scope: &Scope,
        now: i64,
    ) -> Result<(Option<Scope>, Scope), StoreError> {
        // A revoke may delete the row between the insert and the lock: claim it again.
        for _ in 0..3 {
            let am = e::ActiveModel {
                subscription_id: Set(sub.0.clone()),
                user_id: Set(user_id.to_owned()),
                client_id: Set(client_id.to_owned()),
                scope: Set(scope.to_string()),
                created_at: Set(now),
            };
            let inserted = e::Entity::insert(am)
                .on_conflict(
                    OnConflict::columns([
                        e::Column::SubscriptionId,
                        e::Column::UserId,
                        e::Column::ClientId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(self.c)
                .await?;
            if inserted == 1 {
                return Ok((None, scope.clone()));
            }
            let locked = e::Entity::find()
                .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
                .filter(e::Column::UserId.eq(user_id))
                .filter(e::Column::ClientId.eq(client_id))
                .lock_exclusive()
                .one(self.c)
                .await?;
            if let Some(m) = locked {
                return self
                    .widen(sub, user_id, client_id, to_domain(m)?.scope, scope, now)
                    .await;
            }
        }
        Err(StoreError::Conflict {
            constraint: "consents: revoked while granted".into(),
        })
    }

    /// Store the union of the locked `earlier` scope and `scope`.
    async fn widen(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
        earlier: Scope,
        scope: &Scope,
        now: i64,
    ) -> Result<(Option<Scope>, Scope), StoreError> {
        let merged = earlier.union(scope);
        e::Entity::update_many()
            .col_expr(e::Column::Scope, Expr::value(merged.to_string()))
            .col_expr(e::Column::CreatedAt, Expr::value(now))
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id))
            .filter(e::Column::ClientId.eq(client_id))
            .exec(self.c)
            .await?;
        Ok((Some(earlier), merged))
    }

    /// A user's consents ordered by client id, at most `limit`, after the client id
    /// `after` (the admin API's cursor).
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Consent>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id));
        if let Some(a) = after {
            q = q.filter(e::Column::ClientId.gt(a));
        }
        q.order_by_asc(e::Column::ClientId)
            .limit(limit)
            .all(self.c)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Forget a consent; `NotFound` when there was none (in this subscription).
    pub async fn delete(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
    ) -> Result<Consent, StoreError> {
        let m = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id))
            .filter(e::Column::ClientId.eq(client_id))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id))
            .filter(e::Column::ClientId.eq(client_id))
            .exec(self.c)
            .await?;
        to_domain(m)
    }

    /// Forget every consent given to `client_id` (the client is being deleted), so that
    /// nothing outlives the client it was given to. Returns how many were forgotten.
    pub async fn delete_for_client(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
    ) -> Result<u64, StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::ClientId.eq(client_id))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }

    /// Forget every consent `user_id` gave (the user is being deleted). Returns how many
    /// were forgotten.
    pub async fn delete_for_user(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<u64, StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }
}

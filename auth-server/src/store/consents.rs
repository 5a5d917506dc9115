//! Remembered consent per (user, client): the granted scopes. Every method takes the
//! subscription id; a consent of another subscription reads as absent.

use super::StoreError;
use super::entity::consent as e;
use crate::domain::{Scope, SubscriptionId};
use sea_orm::sea_query::OnConflict;
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
    /// Call it inside a transaction: the read and the write belong together.
    pub async fn put(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
        scope: &Scope,
        now: i64,
    ) -> Result<Scope, StoreError> {
        let merged = match self.get(sub, user_id, client_id).await? {
            Some(earlier) => earlier.union(scope),
            None => scope.clone(),
        };
        let am = e::ActiveModel {
            subscription_id: Set(sub.0.clone()),
            user_id: Set(user_id.to_owned()),
            client_id: Set(client_id.to_owned()),
            scope: Set(merged.to_string()),
            created_at: Set(now),
        };
        e::Entity::insert(am)
            .on_conflict(
                OnConflict::columns([
                    e::Column::SubscriptionId,
                    e::Column::UserId,
                    e::Column::ClientId,
                ])
                .update_columns([e::Column::Scope, e::Column::CreatedAt])
                .to_owned(),
            )
            .exec(self.c)
            .await?;
        Ok(merged)
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
}

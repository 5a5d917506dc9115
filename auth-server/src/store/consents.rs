//! Remembered consent per (user, client): the granted scopes.

use super::StoreError;
use super::entity::consent as e;
use crate::domain::{Scope, SubscriptionId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// Repository of consents.
pub struct Consents<'a, C> {
    pub(super) c: &'a C,
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
        m.map(|m| Scope::parse(&m.scope).map_err(|_| StoreError::Corrupt("consents.scope")))
            .transpose()
    }

    /// Remember a grant (replacing an earlier one).
    pub async fn put(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        client_id: &str,
        scope: &Scope,
        now: i64,
    ) -> Result<(), StoreError> {
        let am = e::ActiveModel {
            subscription_id: Set(sub.0.clone()),
            user_id: Set(user_id.to_owned()),
            client_id: Set(client_id.to_owned()),
            scope: Set(scope.to_string()),
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
        Ok(())
    }
}

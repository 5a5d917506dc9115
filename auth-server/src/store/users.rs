//! Users of a subscription. The password hash is read only through
//! [`Users::credentials`], never as part of [`User`].

use super::entity::user as e;
use super::{StoreError, from_json, to_json};
use crate::domain::{SubscriptionId, User};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Repository of users.
pub struct Users<'a, C> {
    pub(super) c: &'a C,
}

/// The domain user of a row (the hash stays behind).
pub(super) fn to_domain(m: e::Model) -> Result<User, StoreError> {
    Ok(User {
        id: m.id,
        username: m.username,
        email: m.email,
        name: m.name,
        attributes: from_json(&m.attributes, "users.attributes")?,
        system_admin: m.system_admin,
        subscription_admin: m.subscription_admin,
        disabled: m.disabled,
    })
}

impl<C: ConnectionTrait> Users<'_, C> {
    /// Insert; a taken username in this subscription is `Conflict`.
    pub async fn insert(
        &self,
        sub: &SubscriptionId,
        user: &User,
        password_hash: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        e::ActiveModel {
            id: Set(user.id.clone()),
            subscription_id: Set(sub.0.clone()),
            username: Set(user.username.clone()),
            password_hash: Set(password_hash),
            email: Set(user.email.clone()),
            name: Set(user.name.clone()),
            attributes: Set(to_json(&user.attributes)),
            system_admin: Set(user.system_admin),
            subscription_admin: Set(user.subscription_admin),
            disabled: Set(user.disabled),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    async fn row(&self, sub: &SubscriptionId, id: &str) -> Result<e::Model, StoreError> {
        e::Entity::find_by_id(id.to_owned())
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A user by id (`sub`).
    pub async fn get(&self, sub: &SubscriptionId, id: &str) -> Result<User, StoreError> {
        to_domain(self.row(sub, id).await?)
    }

    /// The user with this normalised username and its password hash.
    pub async fn credentials(
        &self,
        sub: &SubscriptionId,
        username: &str,
    ) -> Result<(User, Option<String>), StoreError> {
        let m = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::Username.eq(username))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let hash = m.password_hash.clone();
        Ok((to_domain(m)?, hash))
    }

    /// Replace the profile fields (not the password).
    pub async fn update(
        &self,
        sub: &SubscriptionId,
        user: &User,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut am: e::ActiveModel = self.row(sub, &user.id).await?.into();
        am.username = Set(user.username.clone());
        am.email = Set(user.email.clone());
        am.name = Set(user.name.clone());
        am.attributes = Set(to_json(&user.attributes));
        am.system_admin = Set(user.system_admin);
        am.subscription_admin = Set(user.subscription_admin);
        am.disabled = Set(user.disabled);
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Set a new password hash.
    pub async fn set_password(
        &self,
        sub: &SubscriptionId,
        id: &str,
        hash: String,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut am: e::ActiveModel = self.row(sub, id).await?.into();
        am.password_hash = Set(Some(hash));
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Delete a user.
    pub async fn delete(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Page through users ordered by id.
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<User>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::Id)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::Id.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }
}

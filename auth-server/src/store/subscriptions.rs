//! Subscriptions (tenants).

use super::entity::subscription as e;
use super::{StoreError, from_json, to_json};
use crate::domain::{Slug, Subscription, SubscriptionId, SubscriptionSettings};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Repository of subscriptions.
pub struct Subscriptions<'a, C> {
    pub(super) c: &'a C,
}

fn to_domain(m: e::Model) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: SubscriptionId(m.id),
        slug: Slug::parse(&m.slug, "slug")
            .map_err(|_| StoreError::Corrupt("subscriptions.slug"))?,
        name: m.name,
        settings: from_json(&m.settings, "subscriptions.settings")?,
        created_at: m.created_at,
        dedicated_database: m.database_url_ciphertext.is_some(),
    })
}

impl<C: ConnectionTrait> Subscriptions<'_, C> {
    /// Insert a new subscription; a taken slug is `Conflict`. `sealed_database_url`:
    /// its dedicated database's URL, encrypted by the caller (`None`: the shared one; and
    /// always `None` for the anchor row in a dedicated database).
    pub async fn insert(
        &self,
        id: &SubscriptionId,
        slug: &Slug,
        name: &str,
        sealed_database_url: Option<&[u8]>,
        now: i64,
    ) -> Result<Subscription, StoreError> {
        let m = e::ActiveModel {
            id: Set(id.0.clone()),
            slug: Set(slug.as_str().to_owned()),
            name: Set(name.to_owned()),
            settings: Set(to_json(&SubscriptionSettings::default())),
            created_at: Set(now),
            updated_at: Set(now),
            database_url_ciphertext: Set(sealed_database_url.map(|b| STANDARD.encode(b))),
        }
        .insert(self.c)
        .await?;
        to_domain(m)
    }

    /// Look a subscription up by id.
    pub async fn get(&self, id: &SubscriptionId) -> Result<Subscription, StoreError> {
        let m = e::Entity::find_by_id(id.0.clone()).one(self.c).await?;
        to_domain(m.ok_or(StoreError::NotFound)?)
    }

    /// The sealed URL of the subscription's dedicated database, if it has one.
    pub async fn database_url(&self, id: &SubscriptionId) -> Result<Option<Vec<u8>>, StoreError> {
        let m = e::Entity::find_by_id(id.0.clone())
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        m.database_url_ciphertext
            .map(|c| {
                STANDARD
                    .decode(c)
                    .map_err(|_| StoreError::Corrupt("subscriptions.database_url_ciphertext"))
            })
            .transpose()
    }

    /// Point the subscription at another database (`None`: the shared one).
    pub async fn set_database_url(
        &self,
        id: &SubscriptionId,
        sealed: Option<&[u8]>,
        now: i64,
    ) -> Result<(), StoreError> {
        let m = e::Entity::find_by_id(id.0.clone())
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut am: e::ActiveModel = m.into();
        am.database_url_ciphertext = Set(sealed.map(|b| STANDARD.encode(b)));
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Every subscription with a dedicated database: (id, sealed URL), for the
    /// cross-tenant housekeeping that must visit every database.
    pub async fn with_dedicated_database(
        &self,
    ) -> Result<Vec<(SubscriptionId, Vec<u8>)>, StoreError> {
        let rows = e::Entity::find()
            .filter(e::Column::DatabaseUrlCiphertext.is_not_null())
            .order_by_asc(e::Column::Slug)
            .all(self.c)
            .await?;
        rows.into_iter()
            .filter_map(|m| m.database_url_ciphertext.map(|c| (m.id, c)))
            .map(|(id, c)| {
                STANDARD
                    .decode(c)
                    .map(|b| (SubscriptionId(id), b))
                    .map_err(|_| StoreError::Corrupt("subscriptions.database_url_ciphertext"))
            })
            .collect()
    }

    /// Look a subscription up by slug (the tenant of a request).
    pub async fn by_slug(&self, slug: &str) -> Result<Subscription, StoreError> {
        let m = e::Entity::find()
            .filter(e::Column::Slug.eq(slug))
            .one(self.c)
            .await?;
        to_domain(m.ok_or(StoreError::NotFound)?)
    }

    /// The system-wide listing (system admins only), ordered by slug, paged.
    pub async fn list_all(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Subscription>, StoreError> {
        let mut q = e::Entity::find().order_by_asc(e::Column::Slug).limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::Slug.gt(a));
        }
        q.all(self.c).await?.into_iter().map(to_domain).collect()
    }

    /// Update name and settings.
    pub async fn update(
        &self,
        id: &SubscriptionId,
        name: &str,
        settings: &SubscriptionSettings,
        now: i64,
    ) -> Result<(), StoreError> {
        let m = e::Entity::find_by_id(id.0.clone())
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut am: e::ActiveModel = m.into();
        am.name = Set(name.to_owned());
        am.settings = Set(to_json(settings));
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Delete every tenant row of the subscription in this database but keep its row:
    /// the row is deleted (cascading to everything it owns) and written back as it was,
    /// so call inside a transaction. Used after a move to a dedicated database.
    pub async fn purge_tenant_rows(&self, id: &SubscriptionId) -> Result<(), StoreError> {
        let m = e::Entity::find_by_id(id.0.clone())
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        e::Entity::delete_by_id(id.0.clone()).exec(self.c).await?;
        let am: e::ActiveModel = m.into();
        e::Entity::insert(am).exec_without_returning(self.c).await?;
        Ok(())
    }

    /// Delete a subscription and (by cascade) everything it owns.
    pub async fn delete(&self, id: &SubscriptionId) -> Result<(), StoreError> {
        let r = e::Entity::delete_by_id(id.0.clone()).exec(self.c).await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

//! Client ID Metadata Document clients of a subscription: each document URL that was
//! issued tokens, when it was first and last used, and the admin block. The document
//! itself is not stored (it is fetched and cached, see `service::cimd`): this is the
//! handle admins list and revoke, since such clients have no row in `clients`.

use super::StoreError;
use super::entity::metadata_client as mc;
use crate::domain::SubscriptionId;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Repository of metadata-document clients.
pub struct MetadataClients<'a, C> {
    pub(super) c: &'a C,
}

/// One metadata-document client as the subscription knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataClient {
    /// The document URL (the `client_id`).
    pub client_id: String,
    /// The URL's host: who controls the document.
    pub host: String,
    /// `client_name` of the document at the last use (chosen by that host).
    pub name: String,
    /// First token issued (Unix seconds).
    pub first_used_at: i64,
    /// Last token issued (Unix seconds).
    pub last_used_at: i64,
    /// When an admin blocked it; `None` while allowed.
    pub blocked_at: Option<i64>,
}

impl From<mc::Model> for MetadataClient {
    fn from(m: mc::Model) -> Self {
        MetadataClient {
            client_id: m.client_id,
            host: m.host,
            name: m.name,
            first_used_at: m.first_used_at,
            last_used_at: m.last_used_at,
            blocked_at: m.blocked_at,
        }
    }
}

impl<C: ConnectionTrait> MetadataClients<'_, C> {
    /// Note a token issued to `client_id` now (insert or move `last_used_at`), in one
    /// statement so that concurrent issuances on several instances cannot conflict.
    pub async fn record_use(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
        host: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        mc::Entity::insert(mc::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            subscription_id: Set(sub.0.clone()),
            client_id: Set(client_id.to_owned()),
            host: Set(host.to_owned()),
            name: Set(name.to_owned()),
            first_used_at: Set(now),
            last_used_at: Set(now),
            blocked_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([mc::Column::SubscriptionId, mc::Column::ClientId])
                .value(mc::Column::LastUsedAt, Expr::value(now))
                .value(mc::Column::Name, Expr::value(name.to_owned()))
                .to_owned(),
        )
        .exec_without_returning(self.c)
        .await?;
        Ok(())
    }

    /// One metadata-document client of this subscription.
    pub async fn get(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
    ) -> Result<MetadataClient, StoreError> {
        mc::Entity::find()
            .filter(mc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(mc::Column::ClientId.eq(client_id))
            .one(self.c)
            .await?
            .map(MetadataClient::from)
            .ok_or(StoreError::NotFound)
    }

    /// Whether an admin blocked `client_id` in this subscription.
    pub async fn is_blocked(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        match self.get(sub, client_id).await {
            Ok(c) => Ok(c.blocked_at.is_some()),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Set (`Some(now)`) or lift (`None`) the block of a known client.
    pub async fn set_blocked(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
        blocked_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let r = mc::Entity::update_many()
            .col_expr(mc::Column::BlockedAt, Expr::value(blocked_at))
            .filter(mc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(mc::Column::ClientId.eq(client_id))
            .exec(self.c)
            .await?;
        if r.rows_affected == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Page through the metadata-document clients, ordered by `client_id`.
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<MetadataClient>, StoreError> {
        let mut q = mc::Entity::find()
            .filter(mc::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(mc::Column::ClientId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(mc::Column::ClientId.gt(a));
        }
        Ok(q.all(self.c)
            .await?
            .into_iter()
            .map(MetadataClient::from)
            .collect())
    }
}

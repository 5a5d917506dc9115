//! Apps of a workspace: grants and field policies stored as JSON text (validated by
//! the service before they are written, decoded on every read).

use super::{Acl, deleted};
use crate::acl::{AppGrant, FieldPolicy};
use crate::domain::SubscriptionId;
use crate::store::entity::acl_app as a;
use crate::store::{StoreError, from_json, to_json};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// An app of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Internal id.
    pub id: String,
    /// The workspace's internal id.
    pub workspace_id: String,
    /// Slug, unique in the workspace.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Grants (group names of the workspace).
    pub grants: Vec<AppGrant>,
    /// Field policies.
    pub fields: Vec<FieldPolicy>,
}

fn app_of(m: a::Model) -> Result<App, StoreError> {
    Ok(App {
        grants: from_json(&m.grants, "acl_apps.grants")?,
        fields: from_json(&m.fields, "acl_apps.fields")?,
        id: m.id,
        workspace_id: m.workspace_id,
        slug: m.slug,
        name: m.name,
    })
}

impl<C: ConnectionTrait> Acl<'_, C> {
    /// Insert an app; a taken slug in the workspace is `Conflict`.
    pub async fn insert_app(
        &self,
        sub: &SubscriptionId,
        app: &App,
        now: i64,
    ) -> Result<(), StoreError> {
        a::ActiveModel {
            id: Set(app.id.clone()),
            subscription_id: Set(sub.0.clone()),
            workspace_id: Set(app.workspace_id.clone()),
            slug: Set(app.slug.clone()),
            name: Set(app.name.clone()),
            grants: Set(to_json(&app.grants)),
            fields: Set(to_json(&app.fields)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// The app `slug` of the workspace.
    pub async fn app(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        slug: &str,
    ) -> Result<App, StoreError> {
        let m = a::Entity::find()
            .filter(a::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(a::Column::WorkspaceId.eq(workspace_id))
            .filter(a::Column::Slug.eq(slug))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        app_of(m)
    }

    /// Every app of the workspace (the facts cache loads them all at once).
    pub async fn apps(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
    ) -> Result<Vec<App>, StoreError> {
        self.list_apps(sub, workspace_id, None, u64::MAX).await
    }

    /// Page through the workspace's apps ordered by slug.
    pub async fn list_apps(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<App>, StoreError> {
        let mut q = a::Entity::find()
            .filter(a::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(a::Column::WorkspaceId.eq(workspace_id))
            .order_by_asc(a::Column::Slug);
        if limit != u64::MAX {
            q = q.limit(limit);
        }
        if let Some(after) = after {
            q = q.filter(a::Column::Slug.gt(after));
        }
        q.all(self.c).await?.into_iter().map(app_of).collect()
    }

    /// Replace an app's name, grants and field policies.
    pub async fn update_app(
        &self,
        sub: &SubscriptionId,
        app: &App,
        now: i64,
    ) -> Result<(), StoreError> {
        let m = a::Entity::find_by_id(app.id.clone())
            .filter(a::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut am: a::ActiveModel = m.into();
        am.name = Set(app.name.clone());
        am.grants = Set(to_json(&app.grants));
        am.fields = Set(to_json(&app.fields));
        am.updated_at = Set(now);
        am.update(self.c).await?;
        Ok(())
    }

    /// Delete an app.
    pub async fn delete_app(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let r = a::Entity::delete_many()
            .filter(a::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(a::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }
}

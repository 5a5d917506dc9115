//! ACL data of a subscription (DESIGN.md "ACL model"): workspaces, participants,
//! groups and their members here; apps in `apps.rs`; run-as grants in `run_as.rs`.
//!
//! The values returned are the pure data types of [`crate::acl`] (roles, grants, field
//! policies), which are as plain as `domain` values; grants and field policies are kept
//! as JSON text and decoded on read, so a corrupt row is `Corrupt`, never a panic.
//! Workspace-scoped methods take the workspace's internal id, obtained from
//! [`Acl::workspace`] under the same subscription, so no call can reach across tenants.

mod apps;
mod run_as;

pub use apps::App;
pub use run_as::{RunAsGrant, RunAsPrincipal, RunAsTarget};

use super::StoreError;
use super::entity::{
    acl_group as g, acl_group_member as gm, acl_participant as p, acl_workspace as w,
};
use crate::acl::Role;
use crate::domain::SubscriptionId;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// The connection bound of [`crate::store::Repos`], named here so that services can
/// write one helper for the pool and a transaction without naming sea-orm.
pub trait Conn: ConnectionTrait {}
impl<T: ConnectionTrait> Conn for T {}

/// Repository of ACL data.
pub struct Acl<'a, C> {
    pub(in crate::store) c: &'a C,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Internal id.
    pub id: String,
    /// Slug, unique in the subscription.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// A participant of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The user's `sub`.
    pub user_id: String,
    /// Role in the workspace.
    pub role: Role,
}

/// A group of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Internal id.
    pub id: String,
    /// The workspace's internal id.
    pub workspace_id: String,
    /// Name, unique in the workspace.
    pub name: String,
}

pub(super) fn role_text(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Team => "team",
        Role::Participant => "participant",
    }
}

fn text_role(s: &str) -> Result<Role, StoreError> {
    match s {
        "admin" => Ok(Role::Admin),
        "team" => Ok(Role::Team),
        "participant" => Ok(Role::Participant),
        _ => Err(StoreError::Corrupt("acl_participants.role")),
    }
}

fn deleted(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

fn group_of(m: g::Model) -> Group {
    Group {
        id: m.id,
        workspace_id: m.workspace_id,
        name: m.name,
    }
}

impl<C: ConnectionTrait> Acl<'_, C> {
    // ------------------------------------------------------------ workspaces

    /// Insert a workspace; a taken slug is `Conflict`.
    pub async fn insert_workspace(
        &self,
        sub: &SubscriptionId,
        ws: &Workspace,
        now: i64,
    ) -> Result<(), StoreError> {
        w::ActiveModel {
            id: Set(ws.id.clone()),
            subscription_id: Set(sub.0.clone()),
            slug: Set(ws.slug.clone()),
            name: Set(ws.name.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// The workspace with this slug.
    pub async fn workspace(
        &self,
        sub: &SubscriptionId,
        slug: &str,
    ) -> Result<Workspace, StoreError> {
        let m = w::Entity::find()
            .filter(w::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(w::Column::Slug.eq(slug))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Workspace {
            id: m.id,
            slug: m.slug,
            name: m.name,
        })
    }

    /// A workspace by internal id.
    pub async fn workspace_by_id(
        &self,
        sub: &SubscriptionId,
        id: &str,
    ) -> Result<Workspace, StoreError> {
        let m = w::Entity::find_by_id(id.to_owned())
            .filter(w::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Workspace {
            id: m.id,
            slug: m.slug,
            name: m.name,
        })
    }

    /// Rename a workspace (the slug is its identity and does not change).
    pub async fn rename_workspace(
        &self,
        sub: &SubscriptionId,
        id: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let r = w::Entity::update_many()
            .col_expr(w::Column::Name, sea_orm::sea_query::Expr::value(name))
            .col_expr(w::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
            .filter(w::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(w::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }

    /// Delete a workspace; its participants, groups, members and apps go with it.
    pub async fn delete_workspace(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let r = w::Entity::delete_many()
            .filter(w::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(w::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }

    /// Page through workspaces ordered by slug.
    pub async fn list_workspaces(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Workspace>, StoreError> {
        let mut q = w::Entity::find()
            .filter(w::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(w::Column::Slug)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(w::Column::Slug.gt(a));
        }
        Ok(q.all(self.c)
            .await?
            .into_iter()
            .map(|m| Workspace {
                id: m.id,
                slug: m.slug,
                name: m.name,
            })
            .collect())
    }

    // ------------------------------------------------------------ participants

    /// The user's role in the workspace; `None` when not a participant.
    pub async fn role(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        p::Entity::find()
            .filter(p::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(p::Column::WorkspaceId.eq(workspace_id))
            .filter(p::Column::UserId.eq(user_id))
            .one(self.c)
            .await?
            .map(|m| text_role(&m.role))
            .transpose()
    }

    /// Make the user a participant with `role`, or change their role.
    pub async fn put_participant(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        user_id: &str,
        role: Role,
        now: i64,
    ) -> Result<(), StoreError> {
        if self.role(sub, workspace_id, user_id).await?.is_some() {
            p::Entity::update_many()
                .col_expr(
                    p::Column::Role,
                    sea_orm::sea_query::Expr::value(role_text(role)),
                )
                .filter(p::Column::SubscriptionId.eq(sub.0.as_str()))
                .filter(p::Column::WorkspaceId.eq(workspace_id))
                .filter(p::Column::UserId.eq(user_id))
                .exec(self.c)
                .await?;
            return Ok(());
        }
        p::ActiveModel {
            workspace_id: Set(workspace_id.to_owned()),
            user_id: Set(user_id.to_owned()),
            subscription_id: Set(sub.0.clone()),
            role: Set(role_text(role).to_owned()),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// Remove a participant and their memberships in the workspace's groups (leaving a
    /// workspace means leaving its groups; re-adding the user grants nothing old).
    pub async fn delete_participant(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let r = p::Entity::delete_many()
            .filter(p::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(p::Column::WorkspaceId.eq(workspace_id))
            .filter(p::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)?;
        let ids: Vec<String> = self
            .groups(sub, workspace_id)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        gm::Entity::delete_many()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::UserId.eq(user_id))
            .filter(gm::Column::GroupId.is_in(ids))
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Page through participants ordered by user id.
    pub async fn list_participants(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Participant>, StoreError> {
        let mut q = p::Entity::find()
            .filter(p::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(p::Column::WorkspaceId.eq(workspace_id))
            .order_by_asc(p::Column::UserId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(p::Column::UserId.gt(a));
        }
        q.all(self.c)
            .await?
            .into_iter()
            .map(|m| {
                Ok(Participant {
                    role: text_role(&m.role)?,
                    user_id: m.user_id,
                })
            })
            .collect()
    }

    // ------------------------------------------------------------ groups

    /// Insert a group; a taken name in the workspace is `Conflict`.
    pub async fn insert_group(
        &self,
        sub: &SubscriptionId,
        group: &Group,
        now: i64,
    ) -> Result<(), StoreError> {
        g::ActiveModel {
            id: Set(group.id.clone()),
            subscription_id: Set(sub.0.clone()),
            workspace_id: Set(group.workspace_id.clone()),
            name: Set(group.name.clone()),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// The group `name` of the workspace.
    pub async fn group(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        name: &str,
    ) -> Result<Group, StoreError> {
        g::Entity::find()
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(g::Column::WorkspaceId.eq(workspace_id))
            .filter(g::Column::Name.eq(name))
            .one(self.c)
            .await?
            .map(group_of)
            .ok_or(StoreError::NotFound)
    }

    /// A group by internal id.
    pub async fn group_by_id(&self, sub: &SubscriptionId, id: &str) -> Result<Group, StoreError> {
        g::Entity::find_by_id(id.to_owned())
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .map(group_of)
            .ok_or(StoreError::NotFound)
    }

    /// Every group of the workspace, by name (for validating grants).
    pub async fn groups(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
    ) -> Result<Vec<Group>, StoreError> {
        self.list_groups(sub, workspace_id, None, u64::MAX).await
    }

    /// Page through the workspace's groups ordered by name.
    pub async fn list_groups(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Group>, StoreError> {
        let mut q = g::Entity::find()
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(g::Column::WorkspaceId.eq(workspace_id))
            .order_by_asc(g::Column::Name);
        if limit != u64::MAX {
            q = q.limit(limit);
        }
        if let Some(a) = after {
            q = q.filter(g::Column::Name.gt(a));
        }
        Ok(q.all(self.c).await?.into_iter().map(group_of).collect())
    }

    /// Rename a group; a taken name is `Conflict`.
    pub async fn rename_group(
        &self,
        sub: &SubscriptionId,
        id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let r = g::Entity::update_many()
            .col_expr(g::Column::Name, sea_orm::sea_query::Expr::value(name))
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(g::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }

    /// Delete a group; its memberships and run-as grants go with it.
    pub async fn delete_group(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let r = g::Entity::delete_many()
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(g::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }

    /// Add a member; `false` when the user already was one (idempotent PUT).
    pub async fn add_member(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let exists = gm::Entity::find()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::GroupId.eq(group_id))
            .filter(gm::Column::UserId.eq(user_id))
            .one(self.c)
            .await?
            .is_some();
        if exists {
            return Ok(false);
        }
        gm::ActiveModel {
            group_id: Set(group_id.to_owned()),
            user_id: Set(user_id.to_owned()),
            subscription_id: Set(sub.0.clone()),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(true)
    }

    /// Remove a member; `NotFound` when the user was not one.
    pub async fn remove_member(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let r = gm::Entity::delete_many()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::GroupId.eq(group_id))
            .filter(gm::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        deleted(r.rows_affected)
    }

    /// Page through a group's members (user ids, ascending).
    pub async fn members(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut q = gm::Entity::find()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::GroupId.eq(group_id))
            .order_by_asc(gm::Column::UserId)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(gm::Column::UserId.gt(a));
        }
        Ok(q.all(self.c)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// The groups of `workspace_id` the user is a member of.
    pub async fn user_groups(
        &self,
        sub: &SubscriptionId,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Vec<Group>, StoreError> {
        let ids: Vec<String> = gm::Entity::find()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::UserId.eq(user_id))
            .all(self.c)
            .await?
            .into_iter()
            .map(|m| m.group_id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(g::Entity::find()
            .filter(g::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(g::Column::WorkspaceId.eq(workspace_id))
            .filter(g::Column::Id.is_in(ids))
            .order_by_asc(g::Column::Name)
            .all(self.c)
            .await?
            .into_iter()
            .map(group_of)
            .collect())
    }

    /// Every group id (in any workspace) the user is a member of, for run-as targets.
    pub async fn user_group_ids(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(gm::Entity::find()
            .filter(gm::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gm::Column::UserId.eq(user_id))
            .all(self.c)
            .await?
            .into_iter()
            .map(|m| m.group_id)
            .collect())
    }
}

//! Run-as grants: which principal (user or client) may exchange its token for one
//! whose `sub` is a target user, a member of a group, or anyone in the subscription.

use super::{Acl, deleted};
use crate::domain::SubscriptionId;
use crate::store::StoreError;
use crate::store::entity::acl_run_as_grant as r;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// Who may run as someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAsPrincipal {
    /// A user (`sub`).
    User(String),
    /// A client acting for itself (`client_id`).
    Client(String),
}

/// Whom a principal may run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAsTarget {
    /// One user (`sub`).
    User(String),
    /// Every member of a group (internal group id).
    Group(String),
    /// Every user of the subscription.
    All,
}

/// A stored run-as grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAsGrant {
    /// Id.
    pub id: String,
    /// The principal.
    pub principal: RunAsPrincipal,
    /// The target.
    pub target: RunAsTarget,
}

fn grant_of(m: r::Model) -> Result<RunAsGrant, StoreError> {
    let principal = match (m.principal_user_id, m.principal_client_id) {
        (Some(u), None) => RunAsPrincipal::User(u),
        (None, Some(c)) => RunAsPrincipal::Client(c),
        _ => return Err(StoreError::Corrupt("acl_run_as_grants.principal")),
    };
    let target = match (m.target_kind.as_str(), m.target_user_id, m.target_group_id) {
        ("user", Some(u), _) => RunAsTarget::User(u),
        ("group", _, Some(g)) => RunAsTarget::Group(g),
        ("all", _, _) => RunAsTarget::All,
        _ => return Err(StoreError::Corrupt("acl_run_as_grants.target")),
    };
    Ok(RunAsGrant {
        id: m.id,
        principal,
        target,
    })
}

fn principal_filter(p: &RunAsPrincipal) -> Condition {
    match p {
        RunAsPrincipal::User(u) => Condition::all().add(r::Column::PrincipalUserId.eq(u.as_str())),
        RunAsPrincipal::Client(c) => {
            Condition::all().add(r::Column::PrincipalClientId.eq(c.as_str()))
        }
    }
}

impl<C: ConnectionTrait> Acl<'_, C> {
    /// Store a grant.
    pub async fn insert_run_as(
        &self,
        sub: &SubscriptionId,
        grant: &RunAsGrant,
        now: i64,
    ) -> Result<(), StoreError> {
        let (user, client) = match &grant.principal {
            RunAsPrincipal::User(u) => (Some(u.clone()), None),
            RunAsPrincipal::Client(c) => (None, Some(c.clone())),
        };
        let (kind, target_user, target_group) = match &grant.target {
            RunAsTarget::User(u) => ("user", Some(u.clone()), None),
            RunAsTarget::Group(g) => ("group", None, Some(g.clone())),
            RunAsTarget::All => ("all", None, None),
        };
        r::ActiveModel {
            id: Set(grant.id.clone()),
            subscription_id: Set(sub.0.clone()),
            principal_user_id: Set(user),
            principal_client_id: Set(client),
            target_kind: Set(kind.to_owned()),
            target_user_id: Set(target_user),
            target_group_id: Set(target_group),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// One grant.
    pub async fn run_as(&self, sub: &SubscriptionId, id: &str) -> Result<RunAsGrant, StoreError> {
        let m = r::Entity::find_by_id(id.to_owned())
            .filter(r::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        grant_of(m)
    }

    /// Delete a grant.
    pub async fn delete_run_as(&self, sub: &SubscriptionId, id: &str) -> Result<(), StoreError> {
        let res = r::Entity::delete_many()
            .filter(r::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(r::Column::Id.eq(id))
            .exec(self.c)
            .await?;
        deleted(res.rows_affected)
    }

    /// Page through grants ordered by id.
    pub async fn list_run_as(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<RunAsGrant>, StoreError> {
        let mut q = r::Entity::find()
            .filter(r::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(r::Column::Id)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(r::Column::Id.gt(a));
        }
        q.all(self.c).await?.into_iter().map(grant_of).collect()
    }

    /// The id of a grant that lets `principal` run as `target_user`, who is a member of
    /// the groups `target_groups` (internal ids); `None` when no grant covers it.
    pub async fn run_as_covering(
        &self,
        sub: &SubscriptionId,
        principal: &RunAsPrincipal,
        target_user: &str,
        target_groups: &[String],
    ) -> Result<Option<String>, StoreError> {
        let mut target = Condition::any().add(r::Column::TargetKind.eq("all")).add(
            Condition::all()
                .add(r::Column::TargetKind.eq("user"))
                .add(r::Column::TargetUserId.eq(target_user)),
        );
        if !target_groups.is_empty() {
            target = target.add(
                Condition::all()
                    .add(r::Column::TargetKind.eq("group"))
                    .add(r::Column::TargetGroupId.is_in(target_groups.iter().map(String::as_str))),
            );
        }
        Ok(r::Entity::find()
            .filter(r::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(principal_filter(principal))
            .filter(target)
            .order_by_asc(r::Column::Id)
            .one(self.c)
            .await?
            .map(|m| m.id))
    }
}

//! The append-only audit log. Services write it in the same transaction as the change.

use super::entity::audit_event as e;
use super::{StoreError, to_json};
use crate::domain::SubscriptionId;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

/// One audit event as stored and returned by the admin API.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Time-ordered id (UUIDv7).
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// `{user_id?, client_id?, act?}`.
    pub actor: serde_json::Value,
    /// `noun.verb`.
    pub action: String,
    /// `{type, id}`.
    pub target: serde_json::Value,
    /// Request id of the HTTP request that caused it.
    pub request_id: Option<String>,
    /// Source address.
    pub ip: Option<String>,
    /// Field-level diff `{field: {old, new}}`.
    pub diff: Option<serde_json::Value>,
}

/// Repository of audit events.
pub struct Audit<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> Audit<'_, C> {
    /// Append an event.
    pub async fn append(&self, sub: &SubscriptionId, ev: &AuditEvent) -> Result<(), StoreError> {
        let target_type = ev
            .target
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let target_id = ev
            .target
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        e::ActiveModel {
            id: Set(ev.id.clone()),
            subscription_id: Set(sub.0.clone()),
            seq: Set(ev.at),
            at: Set(ev.at),
            actor: Set(to_json(&ev.actor)),
            action: Set(ev.action.clone()),
            target_type: Set(target_type),
            target_id: Set(target_id),
            request_id: Set(ev.request_id.clone()),
            ip: Set(ev.ip.clone()),
            diff: Set(ev.diff.as_ref().map(to_json)),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// Page through the events in order (ids are time-ordered).
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .order_by_asc(e::Column::Id)
            .limit(limit);
        if let Some(a) = after {
            q = q.filter(e::Column::Id.gt(a));
        }
        let rows = q.all(self.c).await?;
        Ok(rows
            .into_iter()
            .map(|m| AuditEvent {
                id: m.id,
                at: m.at,
                actor: serde_json::from_str(&m.actor).unwrap_or_default(),
                action: m.action,
                target: serde_json::json!({"type": m.target_type, "id": m.target_id}),
                request_id: m.request_id,
                ip: m.ip,
                diff: m.diff.and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect())
    }
}

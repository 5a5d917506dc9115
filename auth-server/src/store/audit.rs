//! The append-only, hash-chained audit log. Services write it in the same transaction
//! as the change. Each subscription's events form a chain: `hash = SHA-256(prev_hash ||
//! canonical JSON of the event)`, and `audit_heads` holds the chain's head. An append
//! first bumps the head row (an upsert `… SET seq = seq + 1`), which locks it until commit,
//! so sequence numbers are gap-free and in commit order on PostgreSQL and SQLite alike;
//! cursor paging by `seq` therefore returns every event exactly once. Inserting the event
//! moves the head's hash to it (a trigger, migration `m20261207_000013`), so an append is
//! two statements.

use super::entity::{audit_event as e, audit_head as h};
use super::{StoreError, to_json};
use crate::domain::SubscriptionId;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One audit event as stored and returned by the admin API.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Time-ordered id (UUIDv7).
    pub id: String,
    /// Position in the subscription's chain (gap-free, commit order).
    #[serde(default)]
    pub seq: i64,
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
    /// Field-level diff `{field: {old, new}}`, or details of a security event.
    pub diff: Option<serde_json::Value>,
    /// Hash of the previous event of the subscription.
    #[serde(default)]
    pub prev_hash: String,
    /// This event's chain hash.
    #[serde(default)]
    pub hash: String,
}

/// The chain hash of `ev` after `prev`: SHA-256 over the previous hash and a canonical
/// JSON array of the event's fields (object keys sorted by serde_json's map).
pub fn chain_hash(prev: &str, ev: &AuditEvent) -> String {
    let canonical = serde_json::json!([
        ev.seq,
        ev.id,
        ev.at,
        ev.actor,
        ev.action,
        ev.target,
        ev.request_id,
        ev.ip,
        ev.diff
    ]);
    let mut d = Sha256::new();
    d.update(prev.as_bytes());
    d.update(b"\n");
    d.update(canonical.to_string().as_bytes());
    format!("{:x}", d.finalize())
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Target type (`client`, `user`, …).
    pub target_type: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// Actor: a user id or a client id.
    pub actor: Option<String>,
    /// Action (`client.updated`, …).
    pub action: Option<String>,
    /// Not before (Unix seconds).
    pub since: Option<i64>,
    /// Not after (Unix seconds).
    pub until: Option<i64>,
    /// Cursor: events after (or, newest first, before) this sequence number.
    pub after: Option<i64>,
    /// Newest first.
    pub newest_first: bool,
    /// Page size.
    pub limit: u64,
}

fn to_event(m: e::Model) -> AuditEvent {
    AuditEvent {
        id: m.id,
        seq: m.seq,
        at: m.at,
        actor: serde_json::from_str(&m.actor).unwrap_or_default(),
        action: m.action,
        target: serde_json::json!({"type": m.target_type, "id": m.target_id}),
        request_id: m.request_id,
        ip: m.ip,
        diff: m.diff.and_then(|d| serde_json::from_str(&d).ok()),
        prev_hash: m.prev_hash.unwrap_or_default(),
        hash: m.hash.unwrap_or_default(),
    }
}

/// Repository of audit events.
pub struct Audit<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> Audit<'_, C> {
    /// Append an event at the head of the subscription's chain; returns it with its
    /// sequence number and hashes. Call inside the transaction of the change.
    pub async fn append(
        &self,
        sub: &SubscriptionId,
        ev: &AuditEvent,
    ) -> Result<AuditEvent, StoreError> {
        // One statement creates or bumps the head and reads it back (an upsert with
        // `RETURNING`, on PostgreSQL and SQLite alike): every login and admin change
        // appends, and each statement is a round trip to the database.
        let head = h::Entity::insert(h::ActiveModel {
            subscription_id: Set(sub.0.clone()),
            seq: Set(1),
            hash: Set(String::new()),
        })
        .on_conflict(
            OnConflict::column(h::Column::SubscriptionId)
                .value(
                    h::Column::Seq,
                    Expr::col((h::Entity, h::Column::Seq)).add(1),
                )
                .to_owned(),
        )
        .exec_with_returning(self.c)
        .await?;
        let mut ev = ev.clone();
        ev.seq = head.seq;
        ev.prev_hash = head.hash;
        ev.hash = chain_hash(&ev.prev_hash, &ev);
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
        // The returned row would be the event we already hold.
        e::Entity::insert(e::ActiveModel {
            id: Set(ev.id.clone()),
            subscription_id: Set(sub.0.clone()),
            seq: Set(ev.seq),
            at: Set(ev.at),
            actor: Set(to_json(&ev.actor)),
            action: Set(ev.action.clone()),
            target_type: Set(target_type),
            target_id: Set(target_id),
            request_id: Set(ev.request_id.clone()),
            ip: Set(ev.ip.clone()),
            diff: Set(ev.diff.as_ref().map(to_json)),
            prev_hash: Set(Some(ev.prev_hash.clone())),
            hash: Set(Some(ev.hash.clone())),
        })
        .exec_without_returning(self.c)
        .await?;
        Ok(ev)
    }

    /// Page through events matching `f`.
    pub async fn list(
        &self,
        sub: &SubscriptionId,
        f: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut q = e::Entity::find()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .limit(f.limit);
        q = if f.newest_first {
            q.order_by_desc(e::Column::Seq)
        } else {
            q.order_by_asc(e::Column::Seq)
        };
        if let Some(a) = f.after {
            q = q.filter(if f.newest_first {
                e::Column::Seq.lt(a)
            } else {
                e::Column::Seq.gt(a)
            });
        }
        if let Some(t) = &f.target_type {
            q = q.filter(e::Column::TargetType.eq(t.as_str()));
        }
        if let Some(t) = &f.target_id {
            q = q.filter(e::Column::TargetId.eq(t.as_str()));
        }
        if let Some(a) = &f.action {
            q = q.filter(e::Column::Action.eq(a.as_str()));
        }
        if let Some(a) = &f.actor {
            // Actor ids are opaque tokens without quotes, so a JSON-member match is exact.
            q = q.filter(
                e::Column::Actor
                    .contains(format!("\"user_id\":\"{a}\""))
                    .or(e::Column::Actor.contains(format!("\"client_id\":\"{a}\""))),
            );
        }
        if let Some(t) = f.since {
            q = q.filter(e::Column::At.gte(t));
        }
        if let Some(t) = f.until {
            q = q.filter(e::Column::At.lte(t));
        }
        Ok(q.all(self.c).await?.into_iter().map(to_event).collect())
    }

    /// Delete events older than `before` (retention), returning how many went.
    pub async fn prune(&self, sub: &SubscriptionId, before: i64) -> Result<u64, StoreError> {
        let r = e::Entity::delete_many()
            .filter(e::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(e::Column::At.lt(before))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }
}

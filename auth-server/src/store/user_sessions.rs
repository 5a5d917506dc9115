//! The index of browser sessions by user. The sessions live in the ephemeral store
//! under the SHA-256 of their cookie and cannot be enumerated by user; this table lets
//! an admin list a user's sessions and end them (by deleting the cache entry its
//! `key_hash` names). The cookie itself is never stored, only that hash.

use super::entity::user_session as us;
use super::{StoreError, from_json, to_json};
use crate::domain::SubscriptionId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// One indexed browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The public session id (the `sid` of the grants made through it).
    pub sid: String,
    /// The user (`sub`).
    pub user_id: String,
    /// SHA-256 of the cookie value: the suffix of the session's cache key.
    pub key_hash: String,
    /// When the user last authenticated.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// When the session was created.
    pub created_at: i64,
    /// Absolute expiry.
    pub expires_at: i64,
    /// Client IP address at sign-in.
    pub ip: Option<String>,
    /// Browser user agent at sign-in.
    pub user_agent: Option<String>,
}

fn to_domain(m: us::Model) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        amr: from_json(&m.amr, "user_sessions.amr")?,
        sid: m.id,
        user_id: m.user_id,
        key_hash: m.key_hash,
        auth_time: m.auth_time,
        acr: m.acr,
        created_at: m.created_at,
        expires_at: m.expires_at,
        ip: m.ip,
        user_agent: m.user_agent,
    })
}

/// Repository of the browser-session index.
pub struct UserSessions<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> UserSessions<'_, C> {
    /// Record a session, or refresh how it authenticated (a step-up keeps its `sid`).
    pub async fn put(&self, sub: &SubscriptionId, row: &SessionRow) -> Result<(), StoreError> {
        let am = us::ActiveModel {
            id: Set(row.sid.clone()),
            subscription_id: Set(sub.0.clone()),
            user_id: Set(row.user_id.clone()),
            key_hash: Set(row.key_hash.clone()),
            auth_time: Set(row.auth_time),
            amr: Set(to_json(&row.amr)),
            acr: Set(row.acr.clone()),
            created_at: Set(row.created_at),
            expires_at: Set(row.expires_at),
            ip: Set(row.ip.clone()),
            user_agent: Set(row.user_agent.clone()),
        };
        us::Entity::insert(am)
            .on_conflict(
                OnConflict::column(us::Column::Id)
                    .update_columns([
                        us::Column::AuthTime,
                        us::Column::Amr,
                        us::Column::Acr,
                        us::Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.c)
            .await?;
        Ok(())
    }

    /// The unexpired sessions of a user, oldest first.
    pub async fn of_user(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        us::Entity::find()
            .filter(us::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(us::Column::UserId.eq(user_id))
            .filter(us::Column::ExpiresAt.gt(now))
            .order_by_asc(us::Column::CreatedAt)
            .order_by_asc(us::Column::Id)
            .all(self.c)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Forget one session of a user; `NotFound` when it is not one of theirs.
    pub async fn delete(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        sid: &str,
    ) -> Result<SessionRow, StoreError> {
        let m = us::Entity::find_by_id(sid.to_owned())
            .filter(us::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(us::Column::UserId.eq(user_id))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        us::Entity::delete_by_id(sid.to_owned())
            .exec(self.c)
            .await?;
        to_domain(m)
    }

    /// Forget the session whose cache key has this hash (the user logged out).
    pub async fn delete_by_key(
        &self,
        sub: &SubscriptionId,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        us::Entity::delete_many()
            .filter(us::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(us::Column::KeyHash.eq(key_hash))
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Forget every session of a user; returns them.
    pub async fn delete_of_user(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let rows = us::Entity::find()
            .filter(us::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(us::Column::UserId.eq(user_id))
            .all(self.c)
            .await?;
        us::Entity::delete_many()
            .filter(us::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(us::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        rows.into_iter().map(to_domain).collect()
    }

    /// Drop the rows of expired sessions (housekeeping; every tenant of this database).
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let r = us::Entity::delete_many()
            .filter(us::Column::ExpiresAt.lte(now))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }
}

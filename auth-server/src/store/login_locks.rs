//! Consecutive failed logins per (subscription, normalised login name) and the hard
//! lock (SECURITY.md §3: NIST SP 800-63B caps consecutive failures at 100). The counter
//! is incremented in the database in one statement, so concurrent failures on several
//! instances all count.

use super::StoreError;
use super::entity::login_lock as ll;
use crate::domain::SubscriptionId;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Repository of login failure counts and hard locks.
pub struct LoginLocks<'a, C> {
    pub(super) c: &'a C,
}

/// The failure state of one login name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoginLock {
    /// The normalised login name.
    pub username: String,
    /// Consecutive failed password checks since the last success or unlock.
    pub failures: i64,
    /// Time of the last failure (Unix seconds).
    pub last_failure_at: i64,
    /// When the hard lock was set; `None` while not locked.
    pub locked_at: Option<i64>,
}

impl From<ll::Model> for LoginLock {
    fn from(m: ll::Model) -> Self {
        LoginLock {
            username: m.username,
            failures: m.failures,
            last_failure_at: m.last_failure_at,
            locked_at: m.locked_at,
        }
    }
}

impl<C: ConnectionTrait> LoginLocks<'_, C> {
    /// The state of `username`, if it has failed since its last success.
    pub async fn get(
        &self,
        sub: &SubscriptionId,
        username: &str,
    ) -> Result<Option<LoginLock>, StoreError> {
        Ok(ll::Entity::find()
            .filter(ll::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(ll::Column::Username.eq(username))
            .one(self.c)
            .await?
            .map(LoginLock::from))
    }

    /// Count one more failure; returns the new consecutive count.
    pub async fn record_failure(
        &self,
        sub: &SubscriptionId,
        username: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        ll::Entity::insert(ll::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            subscription_id: Set(sub.0.clone()),
            username: Set(username.to_owned()),
            failures: Set(1),
            last_failure_at: Set(now),
            locked_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([ll::Column::SubscriptionId, ll::Column::Username])
                .value(
                    ll::Column::Failures,
                    Expr::col((ll::Entity, ll::Column::Failures)).add(1),
                )
                .value(ll::Column::LastFailureAt, Expr::value(now))
                .to_owned(),
        )
        .exec_without_returning(self.c)
        .await?;
        Ok(self.get(sub, username).await?.map_or(1, |l| l.failures))
    }

    /// Set the hard lock (kept if already set).
    pub async fn lock(
        &self,
        sub: &SubscriptionId,
        username: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        ll::Entity::update_many()
            .col_expr(ll::Column::LockedAt, Expr::value(now))
            .filter(ll::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(ll::Column::Username.eq(username))
            .filter(ll::Column::LockedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Forget the failures of `username` (a success, or an admin unlock); `true` when
    /// there were any.
    pub async fn clear(&self, sub: &SubscriptionId, username: &str) -> Result<bool, StoreError> {
        let r = ll::Entity::delete_many()
            .filter(ll::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(ll::Column::Username.eq(username))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Every hard-locked name of the subscription, oldest lock first.
    pub async fn locked(&self, sub: &SubscriptionId) -> Result<Vec<LoginLock>, StoreError> {
        Ok(ll::Entity::find()
            .filter(ll::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(ll::Column::LockedAt.is_not_null())
            .order_by_asc(ll::Column::LockedAt)
            .all(self.c)
            .await?
            .into_iter()
            .map(LoginLock::from)
            .collect())
    }

    /// Forget unlocked names whose last failure is older than `before`, so that names an
    /// attacker invents do not accumulate; hard locks stay until an admin lifts them.
    pub async fn purge_stale(&self, before: i64) -> Result<u64, StoreError> {
        let r = ll::Entity::delete_many()
            .filter(ll::Column::LockedAt.is_null())
            .filter(ll::Column::LastFailureAt.lt(before))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }
}

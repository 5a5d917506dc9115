//! Token state: grant families, refresh tokens (hashed), opaque access tokens (hashed)
//! and revoked JWT ids. Only SHA-256 hashes of tokens are ever stored.

use super::StoreError;
use super::entity::{
    opaque_token as ot, refresh_token as rt, revoked_token as rv, token_family as tf,
};
use crate::domain::SubscriptionId;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// One authorization grant: its refresh tokens and access tokens share its fate.
#[derive(Debug, Clone)]
pub struct Family {
    /// Family id (also the `gid` claim of its access tokens).
    pub id: String,
    /// The client it was granted to.
    pub client_id: String,
    /// The user (`sub`).
    pub subject: String,
    /// The granted scope (refresh may only narrow it).
    pub scope: String,
    /// Facts of the original authentication (auth_time, amr, acr, nonce-free), JSON.
    pub claims: serde_json::Value,
    /// Set once the family is revoked.
    pub revoked_at: Option<i64>,
    /// When it was granted (ignored by [`Tokens::create_family`], which stamps `now`).
    pub created_at: i64,
}

impl Family {
    /// The `sid` of the browser session it was granted through, if any.
    pub fn sid(&self) -> Option<&str> {
        self.claims.get("sid").and_then(|v| v.as_str())
    }

    /// Whether it asked for `offline_access` (it then outlives its browser session).
    pub fn offline(&self) -> bool {
        self.scope.split(' ').any(|s| s == "offline_access")
    }
}

fn family_of(m: tf::Model) -> Result<Family, StoreError> {
    Ok(Family {
        claims: serde_json::from_str(&m.claims)
            .map_err(|_| StoreError::Corrupt("token_families.claims"))?,
        id: m.id,
        client_id: m.client_id,
        subject: m.subject,
        scope: m.scope,
        revoked_at: m.revoked_at,
        created_at: m.created_at,
    })
}

/// A stored refresh token (by hash).
#[derive(Debug, Clone)]
pub struct RefreshRow {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Its family.
    pub family_id: String,
    /// Scope of this token.
    pub scope: String,
    /// When it was exchanged (rotation), if it was.
    pub used_at: Option<i64>,
    /// Hash of the token that replaced it.
    pub successor_hash: Option<String>,
    /// Idle expiry.
    pub expires_at: i64,
}

/// A stored opaque access token.
#[derive(Debug, Clone)]
pub struct OpaqueRow {
    /// Its claims, as a JWT access token would carry them.
    pub claims: serde_json::Value,
    /// Its family, if issued from a user grant.
    pub family_id: Option<String>,
    /// Expiry.
    pub expires_at: i64,
}

/// Repository of token state.
pub struct Tokens<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> Tokens<'_, C> {
    /// Start a family.
    pub async fn create_family(
        &self,
        sub: &SubscriptionId,
        f: &Family,
        now: i64,
    ) -> Result<(), StoreError> {
        tf::ActiveModel {
            id: Set(f.id.clone()),
            subscription_id: Set(sub.0.clone()),
            client_id: Set(f.client_id.clone()),
            subject: Set(f.subject.clone()),
            scope: Set(f.scope.clone()),
            claims: Set(f.claims.to_string()),
            revoked_at: Set(None),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// A family of this subscription.
    pub async fn family(&self, sub: &SubscriptionId, id: &str) -> Result<Family, StoreError> {
        let m = tf::Entity::find_by_id(id.to_owned())
            .filter(tf::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        family_of(m)
    }

    /// The families of a user (logout looks for those of one session).
    pub async fn families_of_subject(
        &self,
        sub: &SubscriptionId,
        subject: &str,
    ) -> Result<Vec<Family>, StoreError> {
        let rows = tf::Entity::find()
            .filter(tf::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(tf::Column::Subject.eq(subject))
            .filter(tf::Column::RevokedAt.is_null())
            .all(self.c)
            .await?;
        rows.into_iter().map(family_of).collect()
    }

    /// The unrevoked families of a user that can still be used at `now`: with an unused,
    /// unexpired refresh token, or granted at or after `access_since` (their access
    /// tokens may still be valid).
    pub async fn live_families_of_subject(
        &self,
        sub: &SubscriptionId,
        subject: &str,
        now: i64,
        access_since: i64,
    ) -> Result<Vec<Family>, StoreError> {
        let families = self.families_of_subject(sub, subject).await?;
        let ids: Vec<&str> = families.iter().map(|f| f.id.as_str()).collect();
        let refreshable: std::collections::HashSet<String> = rt::Entity::find()
            .filter(rt::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rt::Column::FamilyId.is_in(ids))
            .filter(rt::Column::UsedAt.is_null())
            .filter(rt::Column::ExpiresAt.gt(now))
            .all(self.c)
            .await?
            .into_iter()
            .map(|m| m.family_id)
            .collect();
        Ok(families
            .into_iter()
            .filter(|f| refreshable.contains(&f.id) || f.created_at >= access_since)
            .collect())
    }

    /// Revoke the families granted through the browser session `sid` that did not ask
    /// for `offline_access` (DESIGN.md: only those outlive the session); returns how
    /// many were revoked.
    pub async fn revoke_session(
        &self,
        sub: &SubscriptionId,
        subject: &str,
        sid: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut revoked = 0;
        for family in self.families_of_subject(sub, subject).await? {
            if family.sid() == Some(sid) && !family.offline() {
                self.revoke_family(sub, &family.id, now).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Revoke a family (idempotent).
    pub async fn revoke_family(
        &self,
        sub: &SubscriptionId,
        id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        tf::Entity::update_many()
            .col_expr(tf::Column::RevokedAt, Expr::value(now))
            .filter(tf::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(tf::Column::Id.eq(id))
            .filter(tf::Column::RevokedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Revoke every family of a user (disable, password change).
    pub async fn revoke_subject(
        &self,
        sub: &SubscriptionId,
        subject: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        tf::Entity::update_many()
            .col_expr(tf::Column::RevokedAt, Expr::value(now))
            .filter(tf::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(tf::Column::Subject.eq(subject))
            .filter(tf::Column::RevokedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Revoke every family granted to a client (an admin removing a metadata-document
    /// client: its tokens must stay dead even if the block is lifted later).
    pub async fn revoke_client(
        &self,
        sub: &SubscriptionId,
        client_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let r = tf::Entity::update_many()
            .col_expr(tf::Column::RevokedAt, Expr::value(now))
            .filter(tf::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(tf::Column::ClientId.eq(client_id))
            .filter(tf::Column::RevokedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(r.rows_affected)
    }

    /// Store a refresh token hash.
    pub async fn insert_refresh(
        &self,
        sub: &SubscriptionId,
        hash: &str,
        family_id: &str,
        scope: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        rt::ActiveModel {
            token_hash: Set(hash.to_owned()),
            subscription_id: Set(sub.0.clone()),
            family_id: Set(family_id.to_owned()),
            scope: Set(scope.to_owned()),
            used_at: Set(None),
            successor_hash: Set(None),
            expires_at: Set(expires_at),
            created_at: Set(now),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// A refresh token of this subscription by hash.
    pub async fn refresh(
        &self,
        sub: &SubscriptionId,
        hash: &str,
    ) -> Result<RefreshRow, StoreError> {
        let m = rt::Entity::find_by_id(hash.to_owned())
            .filter(rt::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(RefreshRow {
            token_hash: m.token_hash,
            family_id: m.family_id,
            scope: m.scope,
            used_at: m.used_at,
            successor_hash: m.successor_hash,
            expires_at: m.expires_at,
        })
    }

    /// Mark a refresh token used, atomically: `true` only for the one caller that
    /// flipped it (concurrent rotations of one token cannot both win).
    pub async fn consume_refresh(
        &self,
        sub: &SubscriptionId,
        hash: &str,
        successor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = rt::Entity::update_many()
            .col_expr(rt::Column::UsedAt, Expr::value(now))
            .col_expr(rt::Column::SuccessorHash, Expr::value(successor.to_owned()))
            .filter(rt::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rt::Column::TokenHash.eq(hash))
            .filter(rt::Column::UsedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Store an opaque access token hash.
    pub async fn insert_opaque(
        &self,
        sub: &SubscriptionId,
        hash: &str,
        jti: &str,
        row: &OpaqueRow,
    ) -> Result<(), StoreError> {
        ot::ActiveModel {
            token_hash: Set(hash.to_owned()),
            subscription_id: Set(sub.0.clone()),
            jti: Set(jti.to_owned()),
            family_id: Set(row.family_id.clone()),
            claims: Set(row.claims.to_string()),
            expires_at: Set(row.expires_at),
        }
        .insert(self.c)
        .await?;
        Ok(())
    }

    /// An opaque access token of this subscription by hash.
    pub async fn opaque(&self, sub: &SubscriptionId, hash: &str) -> Result<OpaqueRow, StoreError> {
        let m = ot::Entity::find_by_id(hash.to_owned())
            .filter(ot::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(OpaqueRow {
            claims: serde_json::from_str(&m.claims)
                .map_err(|_| StoreError::Corrupt("opaque_tokens.claims"))?,
            family_id: m.family_id,
            expires_at: m.expires_at,
        })
    }

    /// Deny-list a JWT id until `expires_at` (idempotent).
    pub async fn revoke_jti(
        &self,
        sub: &SubscriptionId,
        jti: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let am = rv::ActiveModel {
            jti: Set(jti.to_owned()),
            subscription_id: Set(sub.0.clone()),
            expires_at: Set(expires_at),
        };
        rv::Entity::insert(am)
            .on_conflict_do_nothing_on([rv::Column::Jti])
            .exec(self.c)
            .await?;
        Ok(())
    }

    /// Whether a JWT id was revoked.
    pub async fn is_jti_revoked(
        &self,
        sub: &SubscriptionId,
        jti: &str,
    ) -> Result<bool, StoreError> {
        Ok(rv::Entity::find_by_id(jti.to_owned())
            .filter(rv::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .is_some())
    }

    /// Whether a family was revoked (a missing family counts as revoked: fail closed).
    pub async fn is_family_revoked(
        &self,
        sub: &SubscriptionId,
        id: &str,
    ) -> Result<bool, StoreError> {
        match self.family(sub, id).await {
            Ok(f) => Ok(f.revoked_at.is_some()),
            Err(StoreError::NotFound) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Drop expired rows (housekeeping job).
    pub async fn purge_expired(&self, now: i64) -> Result<(), StoreError> {
        rt::Entity::delete_many()
            .filter(rt::Column::ExpiresAt.lt(now))
            .exec(self.c)
            .await?;
        ot::Entity::delete_many()
            .filter(ot::Column::ExpiresAt.lt(now))
            .exec(self.c)
            .await?;
        rv::Entity::delete_many()
            .filter(rv::Column::ExpiresAt.lt(now))
            .exec(self.c)
            .await?;
        Ok(())
    }
}

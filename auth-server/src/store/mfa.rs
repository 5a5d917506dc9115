//! Second-factor data of a subscription's users: the TOTP credential (encrypted secret,
//! confirmation time, last accepted step), recovery code hashes and group policies.
//!
//! Replay protection lives here because the database is the one thing every instance
//! shares whatever the cache backend: [`Mfa::advance_step`] is a compare-and-set
//! (`UPDATE … WHERE last_used_step < step`), so of two parallel submissions of one
//! code, on one instance or two, exactly one changes the row.

use super::StoreError;
use super::entity::{
    acl_group_member as gm, mfa_group_policy as gp, mfa_recovery_code as rc, mfa_totp as t,
};
use crate::domain::SubscriptionId;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

/// Row kind of [`Mfa::factor_facts`]'s union: a group's policy.
const FACT_POLICY: &str = "policy";
/// Row kind of [`Mfa::factor_facts`]'s union: a confirmed TOTP.
const FACT_TOTP: &str = "totp";

/// A user's second-factor standing: group policies and enrolment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorFacts {
    /// The 2FA policies of the user's groups, of any workspace (unparsed, as stored).
    pub group_policies: Vec<String>,
    /// Whether the user has a confirmed TOTP.
    pub totp_confirmed: bool,
}

/// Repository of second factors.
pub struct Mfa<'a, C> {
    pub(super) c: &'a C,
}

/// A user's TOTP credential as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRow {
    /// The secret, encrypted with the master key (base64 of the blob).
    pub secret: String,
    /// When enrolment was confirmed with a valid code; `None` while pending.
    pub confirmed_at: Option<i64>,
    /// The last step whose code was accepted.
    pub last_used_step: Option<i64>,
    /// When the secret was generated (pending secrets expire).
    pub created_at: i64,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .finish_non_exhaustive()
    }
}

impl<C: ConnectionTrait> Mfa<'_, C> {
    /// The user's TOTP credential, confirmed or pending.
    pub async fn totp(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<Option<TotpRow>, StoreError> {
        Ok(t::Entity::find_by_id(user_id.to_owned())
            .filter(t::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .map(|m| TotpRow {
                secret: m.secret,
                confirmed_at: m.confirmed_at,
                last_used_step: m.last_used_step,
                created_at: m.created_at,
            }))
    }

    /// Store a new pending secret, replacing an earlier pending one. A confirmed
    /// credential is never replaced here (`Conflict`): it must be removed first.
    pub async fn put_pending_totp(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        secret: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        t::Entity::delete_many()
            .filter(t::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(t::Column::UserId.eq(user_id))
            .filter(t::Column::ConfirmedAt.is_null())
            .exec(self.c)
            .await?;
        t::Entity::insert(t::ActiveModel {
            user_id: Set(user_id.to_owned()),
            subscription_id: Set(sub.0.clone()),
            secret: Set(secret.to_owned()),
            confirmed_at: Set(None),
            last_used_step: Set(None),
            created_at: Set(now),
        })
        .exec(self.c)
        .await?;
        Ok(())
    }

    /// Confirm the pending credential whose code of `step` was just verified; `false`
    /// when there was nothing pending (already confirmed by a parallel request).
    pub async fn confirm_totp(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = t::Entity::update_many()
            .col_expr(t::Column::ConfirmedAt, Expr::value(now))
            .col_expr(t::Column::LastUsedStep, Expr::value(step))
            .filter(t::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(t::Column::UserId.eq(user_id))
            .filter(t::Column::ConfirmedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Accept `step` only if it is later than the last accepted one (compare-and-set);
    /// `false` means the code was already used (a replay), here or on another instance.
    pub async fn advance_step(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        step: i64,
    ) -> Result<bool, StoreError> {
        let r = t::Entity::update_many()
            .col_expr(t::Column::LastUsedStep, Expr::value(step))
            .filter(t::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(t::Column::UserId.eq(user_id))
            .filter(t::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(t::Column::LastUsedStep.is_null())
                    .add(t::Column::LastUsedStep.lt(step)),
            )
            .exec(self.c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Remove the user's TOTP credential and recovery codes; `true` if there was one.
    pub async fn delete_all(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let r = t::Entity::delete_many()
            .filter(t::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(t::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        rc::Entity::delete_many()
            .filter(rc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rc::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Replace the user's recovery codes with `hashes` (the old set stops working).
    pub async fn replace_recovery_codes(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        rc::Entity::delete_many()
            .filter(rc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rc::Column::UserId.eq(user_id))
            .exec(self.c)
            .await?;
        if hashes.is_empty() {
            return Ok(());
        }
        rc::Entity::insert_many(hashes.iter().map(|h| rc::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            subscription_id: Set(sub.0.clone()),
            user_id: Set(user_id.to_owned()),
            code_hash: Set(h.clone()),
            used_at: Set(None),
            created_at: Set(now),
        }))
        .exec(self.c)
        .await?;
        Ok(())
    }

    /// Spend the unused recovery code with this hash (compare-and-set); `false` when no
    /// such unused code exists.
    pub async fn use_recovery_code(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = rc::Entity::update_many()
            .col_expr(rc::Column::UsedAt, Expr::value(now))
            .filter(rc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rc::Column::UserId.eq(user_id))
            .filter(rc::Column::CodeHash.eq(hash))
            .filter(rc::Column::UsedAt.is_null())
            .exec(self.c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// How many unused recovery codes the user has.
    pub async fn recovery_codes_left(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<u64, StoreError> {
        Ok(rc::Entity::find()
            .filter(rc::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(rc::Column::UserId.eq(user_id))
            .filter(rc::Column::UsedAt.is_null())
            .count(self.c)
            .await?)
    }

    /// The policy override of a group, if any.
    pub async fn group_policy(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(gp::Entity::find_by_id(group_id.to_owned())
            .filter(gp::Column::SubscriptionId.eq(sub.0.as_str()))
            .one(self.c)
            .await?
            .map(|m| m.policy))
    }

    /// Set a group's policy override.
    pub async fn put_group_policy(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
        policy: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        gp::Entity::insert(gp::ActiveModel {
            group_id: Set(group_id.to_owned()),
            subscription_id: Set(sub.0.clone()),
            policy: Set(policy.to_owned()),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(gp::Column::GroupId)
                .update_columns([gp::Column::Policy, gp::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(self.c)
        .await?;
        Ok(())
    }

    /// Remove a group's override; `false` when it had none.
    pub async fn delete_group_policy(
        &self,
        sub: &SubscriptionId,
        group_id: &str,
    ) -> Result<bool, StoreError> {
        let r = gp::Entity::delete_many()
            .filter(gp::Column::SubscriptionId.eq(sub.0.as_str()))
            .filter(gp::Column::GroupId.eq(group_id))
            .exec(self.c)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// What the second-factor decision needs about a user, in one statement (a sign-in
    /// pays for each round trip): the policies of the user's groups, and whether the
    /// user has a confirmed TOTP.
    pub async fn factor_facts(
        &self,
        sub: &SubscriptionId,
        user_id: &str,
    ) -> Result<FactorFacts, StoreError> {
        let (kind, value) = (Alias::new("kind"), Alias::new("value"));
        let groups = Query::select()
            .column(gm::Column::GroupId)
            .from(gm::Entity)
            .and_where(Expr::col(gm::Column::SubscriptionId).eq(sub.0.as_str()))
            .and_where(Expr::col(gm::Column::UserId).eq(user_id))
            .to_owned();
        let totp = Query::select()
            .expr_as(Expr::val(FACT_TOTP), kind.clone())
            .expr_as(Expr::val(""), value.clone())
            .from(t::Entity)
            .and_where(Expr::col(t::Column::SubscriptionId).eq(sub.0.as_str()))
            .and_where(Expr::col(t::Column::UserId).eq(user_id))
            .and_where(Expr::col(t::Column::ConfirmedAt).is_not_null())
            .to_owned();
        let query = Query::select()
            .expr_as(Expr::val(FACT_POLICY), kind)
            .expr_as(Expr::col(gp::Column::Policy), value)
            .from(gp::Entity)
            .and_where(Expr::col(gp::Column::SubscriptionId).eq(sub.0.as_str()))
            .and_where(Expr::col(gp::Column::GroupId).in_subquery(groups))
            .union(UnionType::All, totp)
            .to_owned();
        let rows = self
            .c
            .query_all_raw(self.c.get_database_backend().build(&query))
            .await?;
        let mut facts = FactorFacts::default();
        for row in rows {
            let kind: String = row.try_get("", "kind")?;
            if kind == FACT_TOTP {
                facts.totp_confirmed = true;
            } else {
                facts.group_policies.push(row.try_get("", "value")?);
            }
        }
        Ok(facts)
    }
}

//! What a local password sign-in needs from the database before and after the hash, in
//! one statement: the login name's failure record, the user with its password hash, and
//! the user's second-factor facts. Each statement is a round trip (on SQLite a hop to the
//! connection's thread, on PostgreSQL a network round trip in a scoped transaction), and
//! these were three. The statement returns one row whether or not the user exists, so a
//! known and an unknown name cost the same.

use super::StoreError;
use super::entity::{
    acl_group_member as gm, login_lock as ll, mfa_group_policy as gp, mfa_totp as t, user as u,
};
use super::login_locks::LoginLock;
use super::mfa::FactorFacts;
use super::users::to_domain;
use crate::domain::{SubscriptionId, User};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, FromQueryResult, Iterable, QueryResult};

/// The group policies a sign-in asks about, as stored (`mfa_group_policies.policy`).
const POLICIES: [&str; 3] = ["off", "optional", "required"];

/// The database's part of a local password sign-in.
#[derive(Debug, Clone)]
pub struct SignInFacts {
    /// The login name's failure record, if it has failed since its last success.
    pub lock: Option<LoginLock>,
    /// The user with this normalised username, its password hash, and its second-factor
    /// facts.
    pub account: Option<Account>,
}

/// A user found by login name, as the password check needs it.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Its password hash (`None`: no local password).
    pub password_hash: Option<String>,
    /// Its second-factor facts, when they were read with it.
    pub factors: Option<FactorFacts>,
}

/// Repository of sign-in reads.
pub struct SignIns<'a, C> {
    pub(super) c: &'a C,
}

impl<C: ConnectionTrait> SignIns<'_, C> {
    /// The [`SignInFacts`] of the normalised login name `name`.
    pub async fn facts(&self, sub: &SubscriptionId, name: &str) -> Result<SignInFacts, StoreError> {
        let stmt = self.c.get_database_backend().build(&query(sub, name));
        let row = self
            .c
            .query_one_raw(stmt)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(SignInFacts {
            lock: lock_of(&row, name)?,
            account: account_of(&row)?,
        })
    }
}

/// `SELECT users.*, the lock's columns, the factor flags FROM (SELECT 1) LEFT JOIN users
/// LEFT JOIN login_locks`: one row, with NULLs for what does not exist.
fn query(sub: &SubscriptionId, name: &str) -> SelectStatement {
    let sub = sub.0.as_str();
    let one = Alias::new("one");
    let mut q = Query::select();
    q.from_subquery(Query::select().expr(Expr::val(1)).to_owned(), one);
    for c in u::Column::iter() {
        q.column((u::Entity, c));
    }
    q.expr_as(
        Expr::col((ll::Entity, ll::Column::Failures)),
        Alias::new("lock_failures"),
    )
    .expr_as(
        Expr::col((ll::Entity, ll::Column::LastFailureAt)),
        Alias::new("lock_last_failure_at"),
    )
    .expr_as(
        Expr::col((ll::Entity, ll::Column::LockedAt)),
        Alias::new("lock_locked_at"),
    )
    .expr_as(
        Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(t::Entity)
                .and_where(Expr::col((t::Entity, t::Column::SubscriptionId)).eq(sub))
                .and_where(
                    Expr::col((t::Entity, t::Column::UserId)).equals((u::Entity, u::Column::Id)),
                )
                .and_where(Expr::col((t::Entity, t::Column::ConfirmedAt)).is_not_null())
                .to_owned(),
        ),
        Alias::new("totp_confirmed"),
    );
    for policy in POLICIES {
        let groups = Query::select()
            .column((gm::Entity, gm::Column::GroupId))
            .from(gm::Entity)
            .and_where(Expr::col((gm::Entity, gm::Column::SubscriptionId)).eq(sub))
            .and_where(
                Expr::col((gm::Entity, gm::Column::UserId)).equals((u::Entity, u::Column::Id)),
            )
            .to_owned();
        q.expr_as(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(gp::Entity)
                    .and_where(Expr::col((gp::Entity, gp::Column::SubscriptionId)).eq(sub))
                    .and_where(Expr::col((gp::Entity, gp::Column::Policy)).eq(policy))
                    .and_where(Expr::col((gp::Entity, gp::Column::GroupId)).in_subquery(groups))
                    .to_owned(),
            ),
            Alias::new(format!("policy_{policy}")),
        );
    }
    q.left_join(
        u::Entity,
        Condition::all()
            .add(Expr::col((u::Entity, u::Column::SubscriptionId)).eq(sub))
            .add(Expr::col((u::Entity, u::Column::Username)).eq(name)),
    )
    .left_join(
        ll::Entity,
        Condition::all()
            .add(Expr::col((ll::Entity, ll::Column::SubscriptionId)).eq(sub))
            .add(Expr::col((ll::Entity, ll::Column::Username)).eq(name)),
    );
    q
}

fn lock_of(row: &QueryResult, name: &str) -> Result<Option<LoginLock>, StoreError> {
    let Some(failures) = row.try_get::<Option<i64>>("", "lock_failures")? else {
        return Ok(None);
    };
    Ok(Some(LoginLock {
        username: name.to_owned(),
        failures,
        last_failure_at: row
            .try_get::<Option<i64>>("", "lock_last_failure_at")?
            .unwrap_or(0),
        locked_at: row.try_get("", "lock_locked_at")?,
    }))
}

fn account_of(row: &QueryResult) -> Result<Option<Account>, StoreError> {
    if row.try_get::<Option<String>>("", "id")?.is_none() {
        return Ok(None);
    }
    let m = u::Model::from_query_result(row, "")?;
    let password_hash = m.password_hash.clone();
    let mut factors = FactorFacts {
        totp_confirmed: row.try_get("", "totp_confirmed")?,
        group_policies: Vec::new(),
    };
    for policy in POLICIES {
        if row.try_get::<bool>("", &format!("policy_{policy}"))? {
            factors.group_policies.push(policy.to_owned());
        }
    }
    Ok(Some(Account {
        user: to_domain(m)?,
        password_hash,
        factors: Some(factors),
    }))
}

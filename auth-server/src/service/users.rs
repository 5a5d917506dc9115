//! Local users: creation, profile changes, passwords, disabling. Disabling a user or
//! changing their password revokes every token family they hold (RFC 9700 §4.14.2).

use super::{Actor, AdminError, Ctx, audit, random};
use crate::directory::password::PasswordError;
use crate::domain::{SubscriptionId, User, Username, ValidationError};
use crate::store::StoreError;

/// A user to create.
#[derive(Debug)]
pub struct NewUser {
    /// Login name (normalised).
    pub username: Username,
    /// Initial password (optional: directory users have none).
    pub password: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Attributes for ACL rules.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// System administrator flag.
    pub system_admin: bool,
    /// Administrator of this subscription.
    pub subscription_admin: bool,
}

/// A JSON view of a user for audit diffs (no password hash).
pub fn audit_view(u: &User) -> serde_json::Value {
    serde_json::json!({
        "username": u.username, "email": u.email, "name": u.name, "attributes": u.attributes,
        "system_admin": u.system_admin, "subscription_admin": u.subscription_admin, "disabled": u.disabled,
    })
}

async fn hash(ctx: &Ctx, password: &str) -> Result<String, AdminError> {
    ctx.passwords.hash(password).await.map_err(|e| match e {
        PasswordError::Length => ValidationError::new("password", e.to_string()).into(),
        other => AdminError::Internal(other.into()),
    })
}

/// Create a user; a taken username is 409.
pub async fn create(
    ctx: &Ctx,
    sub: &SubscriptionId,
    new: NewUser,
    actor: &Actor,
) -> Result<User, AdminError> {
    let password_hash = match &new.password {
        Some(p) => Some(hash(ctx, p).await?),
        None => None,
    };
    let user = User {
        id: random::id(),
        username: new.username.as_str().to_owned(),
        email: new.email,
        name: new.name,
        attributes: new.attributes,
        system_admin: new.system_admin,
        subscription_admin: new.subscription_admin,
        disabled: false,
    };
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    match tx
        .repos()
        .users()
        .insert(sub, &user, password_hash, now)
        .await
    {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("username")),
        other => other?,
    }
    let mut after = audit_view(&user);
    if new.password.is_some()
        && let Some(o) = after.as_object_mut()
    {
        o.insert("password".into(), "set".into());
    }
    audit::record(
        &tx,
        sub,
        actor,
        "user.created",
        ("user", &user.id),
        audit::diff(&serde_json::json!({}), &after),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(user)
}

/// Save profile changes; disabling revokes the user's tokens.
pub async fn update(
    ctx: &Ctx,
    sub: &SubscriptionId,
    updated: User,
    actor: &Actor,
) -> Result<User, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().users().get(sub, &updated.id).await?;
    match tx.repos().users().update(sub, &updated, now).await {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("username")),
        other => other?,
    }
    if updated.disabled && !before.disabled {
        tx.repos()
            .tokens()
            .revoke_subject(sub, &updated.id, now)
            .await?;
    }
    audit::record(
        &tx,
        sub,
        actor,
        "user.updated",
        ("user", &updated.id),
        audit::diff(&audit_view(&before), &audit_view(&updated)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    // Attributes and the system-admin flag are ACL facts.
    super::acl::facts::changed(ctx, sub).await;
    Ok(updated)
}

/// Set a new password and revoke the user's tokens.
pub async fn set_password(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    password: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let hashed = hash(ctx, password).await?;
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos()
        .users()
        .set_password(sub, user_id, hashed, now)
        .await?;
    tx.repos()
        .tokens()
        .revoke_subject(sub, user_id, now)
        .await?;
    let d = serde_json::json!({"password": {"old": "<redacted>", "new": "<redacted>"}});
    audit::record(
        &tx,
        sub,
        actor,
        "user.password_set",
        ("user", user_id),
        Some(d),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(())
}

/// Delete a user, revoke their tokens and forget their consents, in one transaction.
pub async fn delete(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().users().get(sub, user_id).await?;
    tx.repos()
        .tokens()
        .revoke_subject(sub, user_id, now)
        .await?;
    tx.repos().users().delete(sub, user_id).await?;
    // The user's remembered consents go with the account, in the same transaction.
    tx.repos().consents().delete_for_user(sub, user_id).await?;
    audit::record(
        &tx,
        sub,
        actor,
        "user.deleted",
        ("user", user_id),
        audit::diff(&audit_view(&before), &serde_json::json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    super::acl::facts::changed(ctx, sub).await;
    Ok(())
}

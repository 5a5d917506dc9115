//! Remembered consent (DESIGN.md "Contract details": consent is remembered per
//! user + client + scopes until the user or an admin revokes it): granting, listing and
//! revoking, each change audited in its own transaction.
//!
//! Revoking a consent also revokes every refresh-token family the user granted that
//! client, as Keycloak ("Revoke grant") and Hydra (`DELETE /oauth2/auth/sessions/consent`)
//! do: a user who withdraws an application's access expects it to lose access now, not
//! when its refresh token idles out. Access tokens of those families die with them
//! (introspection checks the family), and the verified-token caches are invalidated.

use super::{Actor, AdminError, Ctx, audit};
use crate::domain::{Scope, SubscriptionId};
use crate::store::StoreError;
use crate::store::consents::Consent;

/// A remembered consent with the name of its client, for the admin API and the
/// account page.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The consent.
    pub consent: Consent,
    /// The client's display name (`None` when the client no longer exists).
    pub client_name: Option<String>,
}

/// Remember that `user_id` granted `client_id` the `scope` (widening an earlier
/// consent, never narrowing it, even when approvals race), audited as `consent.granted`.
pub async fn grant(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    client_id: &str,
    scope: &Scope,
    actor: &Actor,
) -> Result<(), StoreError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    // `put` reads the earlier scope under its row lock: a `get` before it could be stale
    // by the time of the write when another approval runs at the same moment.
    let (before, merged) = tx
        .repos()
        .consents()
        .put(sub, user_id, client_id, scope, now)
        .await?;
    if before.as_ref() != Some(&merged) {
        let d = serde_json::json!({"client_id": client_id, "scope": {
            "old": before.map(|s| s.to_string()), "new": merged.to_string()}});
        audit::record(
            &tx,
            sub,
            actor,
            "consent.granted",
            ("user", user_id),
            Some(d),
            now,
        )
        .await?;
    }
    ctx.commit(tx).await
}

/// A user's consents (at most `limit`, after client id `after`); `NotFound` when the
/// user is not one of this subscription.
pub async fn list(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Granted>, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    repos.users().get(sub, user_id).await?;
    let mut out = Vec::new();
    for consent in repos.consents().list(sub, user_id, after, limit).await? {
        let client_name = match repos.clients().get(sub, &consent.client_id).await {
            Ok(c) => Some(c.name),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        out.push(Granted {
            consent,
            client_name,
        });
    }
    Ok(out)
}

/// Forget the user's consent to `client_id` and revoke the refresh-token families the
/// user granted that client, audited as `consent.revoked` in the same transaction.
/// `NotFound` when there is no such consent in this subscription.
pub async fn revoke(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    client_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let gone = tx
        .repos()
        .consents()
        .delete(sub, user_id, client_id)
        .await?;
    let tokens = tx.repos().tokens();
    let mut families = Vec::new();
    for family in tokens.families_of_subject(sub, user_id).await? {
        if family.client_id == client_id {
            tokens.revoke_family(sub, &family.id, now).await?;
            families.push(family.id);
        }
    }
    let d = serde_json::json!({
        "client_id": client_id,
        "scope": {"old": gone.scope.to_string(), "new": null},
        "revoked_families": families.len(),
    });
    audit::record(
        &tx,
        sub,
        actor,
        "consent.revoked",
        ("user", user_id),
        Some(d),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    if !families.is_empty() {
        // Cached "active" verdicts of the revoked families' tokens must not outlive this.
        super::freshness::bump(ctx, sub).await;
    }
    Ok(())
}

//! Client ID Metadata Document clients under admin control (issue 6 point 1). Such a
//! client is never registered: its `client_id` is a URL anyone may present. So that an
//! admin can still list a subscription's AI clients and revoke what was issued to them,
//! every token issuance to a document URL is remembered ([`record_use`]), and an admin
//! can remove one ([`block`]): in one transaction its grant families are revoked and the
//! URL is blocked; introspection and refresh then find no client (the same check that
//! ends the tokens of a deleted stored client, `clients::lookup`), so its tokens die at
//! once, and the revoked families keep them dead after the block is lifted ([`unblock`]).

use super::{Actor, AdminError, Ctx, FlowError, audit, freshness};
use crate::domain::{Client, Subscription, SubscriptionId};
use crate::store::metadata_clients::MetadataClient;
use serde_json::json;

/// `invalid_client` unless `client_id` may be used (not blocked by an admin).
pub async fn check_not_blocked(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
) -> Result<(), FlowError> {
    if ctx
        .db(sub)
        .await?
        .repos()
        .metadata_clients()
        .is_blocked(sub, client_id)
        .await?
    {
        return Err(FlowError::ClientBlocked);
    }
    Ok(())
}

/// Remember that a token is being issued to the metadata-document client `client`
/// (refused if an admin blocked it meanwhile: the check at authentication may be a
/// moment old).
pub async fn record_use(
    ctx: &Ctx,
    tenant: &Subscription,
    client: &Client,
) -> Result<(), FlowError> {
    check_not_blocked(ctx, &tenant.id, &client.client_id).await?;
    let host = url::Url::parse(&client.client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    ctx.db(&tenant.id)
        .await?
        .repos()
        .metadata_clients()
        .record_use(
            &tenant.id,
            &client.client_id,
            &host,
            &client.name,
            ctx.now(),
        )
        .await?;
    Ok(())
}

fn audit_view(c: &MetadataClient) -> serde_json::Value {
    json!({"host": c.host, "blocked_at": c.blocked_at})
}

/// Remove a metadata-document client: revoke every token issued to it and refuse its
/// URL until [`unblock`]. Idempotent for an already blocked client (its tokens are
/// revoked again, which catches nothing new but costs nothing). 404 for a URL that was
/// never issued a token here.
pub async fn block(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let repos = tx.repos();
    let before = repos.metadata_clients().get(sub, client_id).await?;
    let blocked_at = before.blocked_at.unwrap_or(now);
    repos
        .metadata_clients()
        .set_blocked(sub, client_id, Some(blocked_at))
        .await?;
    let revoked = repos.tokens().revoke_client(sub, client_id, now).await?;
    let after = MetadataClient {
        blocked_at: Some(blocked_at),
        ..before.clone()
    };
    let mut diff = audit::diff(&audit_view(&before), &audit_view(&after)).unwrap_or(json!({}));
    diff["revoked_grants"] = json!({"old": null, "new": revoked});
    audit::record(
        &tx,
        sub,
        actor,
        "client.blocked",
        ("client", client_id),
        Some(diff),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    // Cached "active" verdicts of its tokens end on every instance.
    freshness::bump(ctx, sub).await;
    Ok(())
}

/// Lift an admin block: the URL may be used again (for new tokens only; the revoked
/// ones stay revoked). 404 for an unknown URL or one that is not blocked.
pub async fn unblock(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let repos = tx.repos();
    let before = repos.metadata_clients().get(sub, client_id).await?;
    if before.blocked_at.is_none() {
        return Err(AdminError::NotFound);
    }
    repos
        .metadata_clients()
        .set_blocked(sub, client_id, None)
        .await?;
    let after = MetadataClient {
        blocked_at: None,
        ..before.clone()
    };
    audit::record(
        &tx,
        sub,
        actor,
        "client.unblocked",
        ("client", client_id),
        audit::diff(&audit_view(&before), &audit_view(&after)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(())
}

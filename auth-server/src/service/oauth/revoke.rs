//! Token revocation (RFC 7009). Always 200 for tokens the caller does not own, so the
//! endpoint reveals nothing; revoking a refresh token kills its whole family (and so
//! the access tokens minted from it).

use crate::domain::{Client, Subscription};
use crate::service::introspect::validate_access_token;
use crate::service::{Ctx, FlowError};
use crate::store::StoreError;
use crate::tokens::hash_token;
use serde_json::Value;

/// Revoke `token` if `client` owns it.
pub async fn revoke(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    token: &str,
) -> Result<(), FlowError> {
    let now = ctx.now();
    let db = ctx.db(&tenant.id).await?;
    let tokens = db.repos().tokens();
    match tokens.refresh(&tenant.id, &hash_token(token)).await {
        Ok(row) => {
            let family = tokens.family(&tenant.id, &row.family_id).await?;
            if family.client_id == client.client_id {
                tokens.revoke_family(&tenant.id, &family.id, now).await?;
                crate::service::freshness::bump(ctx, &tenant.id).await;
            }
            return Ok(());
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(claims) = validate_access_token(ctx, tenant, issuer, token).await?
        && claims.get("client_id").and_then(Value::as_str) == Some(client.client_id.as_str())
        && let Some(jti) = claims.get("jti").and_then(Value::as_str)
    {
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(now + 86_400);
        tokens.revoke_jti(&tenant.id, jti, exp).await?;
        crate::service::freshness::bump(ctx, &tenant.id).await;
    }
    Ok(())
}

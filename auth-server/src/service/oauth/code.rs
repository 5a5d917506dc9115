//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, OAuth 2.1 §4.1.3).
//!
//! The domain half of the grant: storing a code, redeeming it, checking the PKCE
//! verifier, issuing the tokens. The protocol sequence (client check, redirect URI,
//! expiry, order of the steps) runs through oxide-auth in `http::protocol::oxide`,
//! whose `Authorizer` and `Issuer` call these functions.
//!
//! A code is taken from the ephemeral store atomically (exactly one redemption wins,
//! across instances) and leaves a tombstone: a replay revokes the family its first
//! redemption created (RFC 6749 §4.1.2 "SHOULD revoke").

use super::authorize::{CodeRecord, TOMBSTONE_TTL, code_key, tombstone_key};
use super::issue::{self, AuthFacts, Grant, TokenResponse};
use super::{pkce, resource};
use crate::domain::{Client, GrantType, Scope, Subscription};
use crate::service::{Actor, Ctx, FlowError, audit, random};
use crate::store::StoreError;
use crate::store::tokens::Family;
use std::time::Duration;

/// Store `record` under a fresh code (single use, `code_ttl`) and return the code.
pub async fn store(
    ctx: &Ctx,
    tenant: &Subscription,
    record: &CodeRecord,
) -> Result<String, FlowError> {
    let code = random::token(32);
    let bytes = serde_json::to_vec(record).map_err(anyhow::Error::from)?;
    ctx.cache
        .put(
            &code_key(tenant, &code),
            &bytes,
            Duration::from_secs(ctx.settings.code_ttl + 60),
        )
        .await?;
    Ok(code)
}

/// Take a code out of the ephemeral store: exactly one redemption wins (across
/// instances) and leaves a tombstone; a code seen before revokes the family its first
/// redemption created and is `invalid_grant`. Expiry, client and redirect URI are the
/// caller's to check (the token flow does it after this).
pub async fn redeem(ctx: &Ctx, tenant: &Subscription, code: &str) -> Result<CodeRecord, FlowError> {
    let Some(bytes) = ctx.cache.take(&code_key(tenant, code)).await? else {
        return Err(replayed(ctx, tenant, code).await);
    };
    let record: CodeRecord = serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
    let ttl = Duration::from_secs(TOMBSTONE_TTL);
    ctx.cache
        .put(
            &tombstone_key(tenant, code),
            record.family_id.as_bytes(),
            ttl,
        )
        .await?;
    Ok(record)
}

/// Check a token request's `code_verifier` against the challenge stored with the code.
pub fn check_verifier(stored_challenge: &str, verifier: Option<&str>) -> Result<(), FlowError> {
    let verifier = verifier.ok_or(FlowError::InvalidGrant("code_verifier is missing"))?;
    if !pkce::verifier_well_formed(verifier) {
        return Err(FlowError::InvalidRequest(
            "code_verifier must be 43-128 unreserved characters".into(),
        ));
    }
    if !pkce::verify(stored_challenge, verifier) {
        return Err(FlowError::InvalidGrant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// Issue the tokens of a redeemed (and fully checked) code: the family, the refresh
/// token when the client may refresh, the access token and the ID token.
pub async fn issue(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    record: &CodeRecord,
    resources: &[String],
) -> Result<TokenResponse, FlowError> {
    let user = match ctx
        .db(&tenant.id)
        .await?
        .repos()
        .users()
        .get(&tenant.id, &record.user_id)
        .await
    {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(FlowError::InvalidGrant("user no longer active"));
        }
        Err(e) => return Err(e.into()),
    };
    let granted =
        Scope::parse(&record.scope).map_err(|e| FlowError::InvalidRequest(e.to_string()))?;
    let scope = issue::user_scope(&granted, &user);
    let asked = resource::narrow(&record.resources, resources)?;
    let audience = resource::audience(tenant, client, &scope, &asked)?;
    let auth = AuthFacts {
        auth_time: record.auth_time,
        amr: record.amr.clone(),
        acr: record.acr.clone(),
    };
    let family = Family {
        id: record.family_id.clone(),
        client_id: client.client_id.clone(),
        subject: user.id.clone(),
        scope: scope.to_string(),
        claims: serde_json::json!({"auth": auth, "resources": record.resources, "sid": record.sid}),
        revoked_at: None,
        created_at: 0,
    };
    let tx = ctx.begin(&tenant.id).await?;
    tx.repos()
        .tokens()
        .create_family(&tenant.id, &family, ctx.now())
        .await?;
    let refresh = if client.spec.allows(GrantType::RefreshToken) {
        Some(
            issue::refresh_token(ctx, &tx, tenant, &family.id, &scope)
                .await?
                .0,
        )
    } else {
        None
    };
    ctx.commit(tx).await?;
    let grant = Grant {
        tenant,
        issuer,
        client,
        user: Some(&user),
        scope,
        audience,
        family_id: Some(family.id.clone()),
        auth: Some(auth),
        nonce: record.nonce.clone(),
        act: None,
    };
    issue::user_tokens(ctx, &grant, &user, refresh).await
}

/// A code that is not (or no longer) in the store: if it was redeemed before, revoke
/// what that redemption issued.
async fn replayed(ctx: &Ctx, tenant: &Subscription, code: &str) -> FlowError {
    match ctx.cache.get(&tombstone_key(tenant, code)).await {
        Ok(Some(family)) => {
            let family = String::from_utf8_lossy(&family).into_owned();
            let now = ctx.now();
            let result = async {
                let tx = ctx.begin(&tenant.id).await?;
                tx.repos()
                    .tokens()
                    .revoke_family(&tenant.id, &family, now)
                    .await?;
                audit::record(
                    &tx,
                    &tenant.id,
                    &Actor::default(),
                    "token.reuse_detected",
                    ("code", &family),
                    None,
                    now,
                )
                .await?;
                ctx.commit(tx).await
            }
            .await;
            crate::service::freshness::bump(ctx, &tenant.id).await;
            if let Err(e) = result {
                tracing::error!(error = %e, "could not revoke the family of a replayed code");
            }
            FlowError::InvalidGrant("code already used")
        }
        Ok(None) => FlowError::InvalidGrant("unknown code"),
        Err(e) => e.into(),
    }
}

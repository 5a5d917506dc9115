//! The refresh token grant with rotation and reuse detection (RFC 9700 §4.14.2,
//! OAuth 2.1 §4.3).
//!
//! Every use rotates the token. Presenting an already rotated token revokes the whole
//! family, except inside a short grace window (default 10 s) in which the immediate
//! parent returns the very response already issued, as long as that successor was not
//! used itself (IDE-style clients refresh concurrently from several windows; the
//! django-oauth-toolkit #1617 bug let grandparents redeem, which this rule excludes).
//! The grace response is kept encrypted with the master key.
//!
//! The protocol sequence runs through oxide-auth (`http::protocol::oxide`): its
//! `Issuer::recover_refresh` calls [`recover`], its `Issuer::refresh` calls [`rotate`].

use super::issue::{self, AuthFacts, Grant, TokenResponse};
use super::resource;
use crate::domain::{Client, Scope, Subscription};
use crate::service::{Actor, Ctx, FlowError, audit, federation};
use crate::store::StoreError;
use crate::store::tokens::{Family, RefreshRow};
use crate::tokens::hash_token;
use std::time::Duration;

fn grace_key(tenant: &Subscription, old_hash: &str) -> String {
    format!("rtgrace:{}:{}", tenant.id.0, old_hash)
}

/// A presented refresh token that exists, belongs to the client, is live and unexpired.
#[derive(Debug)]
pub struct Recovered {
    /// Its row.
    pub row: RefreshRow,
    /// Its family.
    pub family: Family,
    /// SHA-256 of the presented token.
    pub old_hash: String,
    /// A replay of an already rotated token inside the grace window: the response
    /// its first use produced, to be returned again.
    pub grace: Option<TokenResponse>,
}

/// Look a presented refresh token up and run the checks that precede a rotation:
/// unknown, another client's, revoked or expired is `invalid_grant`; an already rotated
/// token either comes back with the grace response or revokes its whole family.
pub async fn recover(
    ctx: &Ctx,
    tenant: &Subscription,
    client: &Client,
    token: &str,
) -> Result<Recovered, FlowError> {
    let now = ctx.now();
    let old_hash = hash_token(token);
    let row = match ctx
        .db(&tenant.id)
        .await?
        .repos()
        .tokens()
        .refresh(&tenant.id, &old_hash)
        .await
    {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Err(FlowError::InvalidGrant("unknown refresh token")),
        Err(e) => return Err(e.into()),
    };
    let family = ctx
        .db(&tenant.id)
        .await?
        .repos()
        .tokens()
        .family(&tenant.id, &row.family_id)
        .await?;
    if family.client_id != client.client_id {
        return Err(FlowError::InvalidGrant(
            "refresh token issued to another client",
        ));
    }
    if family.revoked_at.is_some() {
        return Err(FlowError::InvalidGrant("refresh token revoked"));
    }
    if row.expires_at < now {
        return Err(FlowError::InvalidGrant("refresh token expired"));
    }
    let grace = if row.used_at.is_some() {
        Some(
            reused(
                ctx,
                tenant,
                &row.family_id,
                &old_hash,
                row.used_at,
                row.successor_hash.as_deref(),
            )
            .await?,
        )
    } else {
        None
    };
    Ok(Recovered {
        row,
        family,
        old_hash,
        grace,
    })
}

/// Rotate a recovered (live, unused) token: `asked` is the scope of the request (a
/// narrowing of the token's; `None` keeps it), `asked_resources` an RFC 8707 narrowing.
pub async fn rotate(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    recovered: Recovered,
    asked: Option<Scope>,
    asked_resources: &[String],
) -> Result<TokenResponse, FlowError> {
    let Recovered {
        row,
        family,
        old_hash,
        grace,
    } = recovered;
    if let Some(response) = grace {
        return Ok(response);
    }
    let now = ctx.now();
    let granted = Scope::parse(&row.scope).map_err(|e| FlowError::InvalidRequest(e.to_string()))?;
    let asked = asked.unwrap_or_else(|| granted.clone());
    if !asked.is_subset(&granted) {
        return Err(FlowError::InvalidScope(
            "a refresh can only narrow the scope".into(),
        ));
    }
    let user = match ctx
        .db(&tenant.id)
        .await?
        .repos()
        .users()
        .get(&tenant.id, &family.subject)
        .await
    {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(FlowError::InvalidGrant("user no longer active"));
        }
        Err(e) => return Err(e.into()),
    };
    // F7: a directory user disabled, locked or removed upstream loses the grant too.
    if let Some(why) = federation::recheck_directory(ctx, tenant, &user).await? {
        federation::refuse_refresh(ctx, tenant, &user, &family.id, why).await?;
        return Err(FlowError::InvalidGrant(
            "the directory no longer admits this account",
        ));
    }
    let auth: AuthFacts =
        serde_json::from_value(family.claims.get("auth").cloned().unwrap_or_default())
            .unwrap_or_default();
    let resources: Vec<String> =
        serde_json::from_value(family.claims.get("resources").cloned().unwrap_or_default())
            .unwrap_or_default();
    let scope = issue::user_scope(&asked, &user);
    // The family keeps the full grant; each refresh may ask for part of it (RFC 8707).
    let resources = resource::narrow(&resources, asked_resources)?;
    let audience = resource::audience(tenant, client, &scope, &resources)?;

    let tx = ctx.begin(&tenant.id).await?;
    // The new token keeps the family's full scope (RFC 9700 §4.14.2: same scope as before).
    let (new_token, new_hash) =
        issue::refresh_token(ctx, &tx, tenant, &family.id, &granted).await?;
    if !tx
        .repos()
        .tokens()
        .consume_refresh(&tenant.id, &old_hash, &new_hash, now)
        .await?
    {
        drop(tx);
        return concurrent(ctx, tenant, &old_hash).await;
    }
    // Commit before minting: SQLite has one writer, and opaque tokens are written
    // through the pool.
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
        nonce: None,
        act: None,
    };
    let response = issue::user_tokens(ctx, &grant, &user, Some(new_token)).await?;
    if ctx.settings.refresh_grace > 0 {
        let sealed = ctx
            .master_key
            .encrypt(
                &serde_json::to_vec(&response).map_err(anyhow::Error::from)?,
                old_hash.as_bytes(),
            )
            .map_err(|e| FlowError::Internal(e.into()))?;
        ctx.cache
            .put(
                &grace_key(tenant, &old_hash),
                &sealed,
                Duration::from_secs(ctx.settings.refresh_grace),
            )
            .await?;
    }
    Ok(response)
}

/// A token rotated by a concurrent request a moment ago: answer with that request's
/// response once it is visible, within the grace window.
async fn concurrent(
    ctx: &Ctx,
    tenant: &Subscription,
    old_hash: &str,
) -> Result<TokenResponse, FlowError> {
    for _ in 0..20 {
        if let Some(r) = grace_response(ctx, tenant, old_hash).await? {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(FlowError::InvalidGrant("refresh token already used"))
}

async fn grace_response(
    ctx: &Ctx,
    tenant: &Subscription,
    old_hash: &str,
) -> Result<Option<TokenResponse>, FlowError> {
    if ctx.settings.refresh_grace == 0 {
        return Ok(None);
    }
    let Some(sealed) = ctx.cache.get(&grace_key(tenant, old_hash)).await? else {
        return Ok(None);
    };
    let plain = ctx
        .master_key
        .decrypt(&sealed, old_hash.as_bytes())
        .map_err(|e| FlowError::Internal(e.into()))?;
    Ok(Some(
        serde_json::from_slice(&plain).map_err(anyhow::Error::from)?,
    ))
}

async fn reused(
    ctx: &Ctx,
    tenant: &Subscription,
    family_id: &str,
    old_hash: &str,
    used_at: Option<i64>,
    successor: Option<&str>,
) -> Result<TokenResponse, FlowError> {
    let now = ctx.now();
    let in_grace = ctx.settings.refresh_grace > 0
        && used_at.is_some_and(|t| now - t <= ctx.settings.refresh_grace as i64);
    let successor_unused = match successor {
        Some(h) => ctx
            .db(&tenant.id)
            .await?
            .repos()
            .tokens()
            .refresh(&tenant.id, h)
            .await
            .map(|r| r.used_at.is_none())
            .unwrap_or(false),
        None => false,
    };
    if in_grace && successor_unused {
        // The rotating request may have committed but not yet stored its answer (it
        // mints the tokens in between): wait for it rather than revoking the family of
        // a client that merely refreshed from several windows at once.
        return concurrent(ctx, tenant, old_hash).await;
    }
    let tx = ctx.begin(&tenant.id).await?;
    tx.repos()
        .tokens()
        .revoke_family(&tenant.id, family_id, now)
        .await?;
    audit::record(
        &tx,
        &tenant.id,
        &Actor::default(),
        "token.reuse_detected",
        ("token_family", family_id),
        None,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    crate::service::freshness::bump(ctx, &tenant.id).await;
    Err(FlowError::InvalidGrant(
        "refresh token reused: the grant is revoked",
    ))
}

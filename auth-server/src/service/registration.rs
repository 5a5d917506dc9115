//! RFC 7591 dynamic client registration and RFC 7592 read/delete with the registration
//! access token, under the subscription's policy (`settings.registration`: `off`,
//! `open`, or `token` gated by an initial access token).
//!
//! Registration access tokens and secrets are 256-bit random values stored as SHA-256
//! hashes, returned only in the creation answer.

use super::clients::{self, NewClient};
use super::{Actor, AdminError, Ctx, audit, random};
use crate::domain::registration::{self, ClientMetadata, RegistrationError, UpdateRequest};
use crate::domain::{Client, Scope, Subscription};
use crate::store::StoreError;
use crate::tokens::{hash_token, secret_matches};
use std::time::Duration;

/// Why a registration request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The metadata broke the policy (RFC 7591 §3.2.2 codes).
    #[error(transparent)]
    Metadata(#[from] RegistrationError),
    /// Registration is off for this subscription.
    #[error("registration is not enabled for this subscription")]
    Disabled,
    /// Missing or wrong initial access token / registration access token (401).
    #[error("invalid_token")]
    InvalidToken,
    /// The subscription has as many registered clients as its policy allows.
    #[error("the subscription's limit of {0} registered clients is reached")]
    TooManyClients(u32),
    /// Too many registrations this hour.
    #[error("registration rate limit reached ({limit} per hour)")]
    RateLimited {
        /// The per-hour limit.
        limit: u32,
        /// Seconds until the hour ends.
        retry_after: u64,
    },
    /// Storage or cache failure.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        RegisterError::Admin(e.into())
    }
}

impl From<crate::cache::CacheError> for RegisterError {
    fn from(e: crate::cache::CacheError) -> Self {
        tracing::warn!(error = %e, "ephemeral store failed");
        RegisterError::Admin(AdminError::Unavailable)
    }
}

/// A client just registered, with its one-time secrets.
#[derive(Debug)]
pub struct Registered {
    /// The client.
    pub client: Client,
    /// Client secret (confidential clients only).
    pub secret: Option<String>,
    /// RFC 7592 registration access token.
    pub registration_access_token: String,
    /// Registration time (Unix seconds).
    pub issued_at: i64,
}

/// Register a client of `sub` (RFC 7591 §3.1). `bearer` is the initial access token.
pub async fn register(
    ctx: &Ctx,
    sub: &Subscription,
    bearer: Option<&str>,
    metadata: &ClientMetadata,
    actor: &Actor,
) -> Result<Registered, RegisterError> {
    let policy = &sub.settings;
    match policy.registration.as_str() {
        "open" => {}
        "token" => {
            let expected = policy.registration_token_sha256.as_deref().unwrap_or("");
            if !bearer.is_some_and(|b| secret_matches(b, expected)) {
                return Err(RegisterError::InvalidToken);
            }
        }
        _ => return Err(RegisterError::Disabled),
    }
    let policy_scope = Scope::parse(&policy.registration_scope)
        .map_err(|e| RegistrationError::InvalidMetadata(e.to_string()))?;
    let (name, spec) = registration::validate(metadata, &policy_scope)?;
    // Count attempts that passed the policy so that a flood of valid registrations is
    // slowed even when the client quota is not yet reached.
    let now = ctx.now();
    let hour = now.div_euclid(3600);
    let n = ctx
        .cache
        .incr(
            &format!("dcr:{}:{hour}", sub.id.0),
            Duration::from_secs(7200),
        )
        .await?;
    if n > i64::from(policy.registration_per_hour) {
        return Err(RegisterError::RateLimited {
            limit: policy.registration_per_hour,
            retry_after: u64::try_from(3600 - now.rem_euclid(3600)).unwrap_or(3600),
        });
    }
    let tx = ctx.begin(&sub.id).await?;
    if tx.repos().clients().count_registered(&sub.id).await?
        >= u64::from(policy.registration_max_clients)
    {
        return Err(RegisterError::TooManyClients(
            policy.registration_max_clients,
        ));
    }
    let ai_access = spec.scope.contains("mcp");
    let new = NewClient {
        client_id: None,
        secret: None,
        name,
        spec,
        ai_access,
    };
    let (client, secret) = clients::insert(ctx, &tx, &sub.id, new, actor).await?;
    let rat = random::token(32);
    tx.repos()
        .clients()
        .set_registration_token(&sub.id, &client.client_id, &hash_token(&rat))
        .await?;
    audit::record(
        &tx,
        &sub.id,
        actor,
        "client.registered",
        ("client", &client.client_id),
        Some(serde_json::json!({"method": "rfc7591", "ai_access": ai_access})),
        now,
    )
    .await
    .map_err(AdminError::from)?;
    ctx.commit(tx).await.map_err(AdminError::from)?;
    super::freshness::bump(ctx, &sub.id).await;
    Ok(Registered {
        client,
        secret,
        registration_access_token: rat,
        issued_at: now,
    })
}

/// The registered client `client_id` when `bearer` is its registration access token
/// (RFC 7592 §2). Unknown clients, admin-created clients and wrong tokens all answer
/// `InvalidToken`, so the endpoint cannot be used to probe client ids.
pub async fn authorized(
    ctx: &Ctx,
    sub: &Subscription,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<Client, RegisterError> {
    let db = ctx.db(&sub.id).await?;
    let repo = db.repos();
    let stored = match repo.clients().registration_token(&sub.id, client_id).await {
        Ok(h) => h.unwrap_or_default(),
        Err(StoreError::NotFound) => String::new(),
        Err(e) => return Err(e.into()),
    };
    if !bearer.is_some_and(|b| secret_matches(b, &stored)) {
        return Err(RegisterError::InvalidToken);
    }
    Ok(repo.clients().get(&sub.id, client_id).await?)
}

/// Delete a registered client with its registration access token (RFC 7592 §2.3).
pub async fn delete(
    ctx: &Ctx,
    sub: &Subscription,
    client_id: &str,
    bearer: Option<&str>,
    actor: &Actor,
) -> Result<(), RegisterError> {
    authorized(ctx, sub, client_id, bearer).await?;
    clients::delete(ctx, &sub.id, client_id, actor).await?;
    Ok(())
}

/// Replace a registered client's metadata with its registration access token
/// (RFC 7592 §2.2), under the same policy as [`register`]. The secret and the
/// registration access token stay as issued; a `client_secret` in the request must be
/// the current one. Audited as `client.updated` with the changes.
pub async fn update(
    ctx: &Ctx,
    sub: &Subscription,
    client_id: &str,
    bearer: Option<&str>,
    req: &UpdateRequest,
    actor: &Actor,
) -> Result<Client, RegisterError> {
    let current = authorized(ctx, sub, client_id, bearer).await?;
    let policy_scope = Scope::parse(&sub.settings.registration_scope)
        .map_err(|e| RegistrationError::InvalidMetadata(e.to_string()))?;
    let (name, spec) = registration::validate_update(req, client_id, &current.spec, &policy_scope)?;
    if let Some(presented) = &req.client_secret {
        let stored = current.secret_hash.as_deref().unwrap_or("");
        if !secret_matches(presented, stored) {
            return Err(RegistrationError::InvalidMetadata(
                "client_secret is not the client's current secret (it cannot be chosen)".into(),
            )
            .into());
        }
    }
    let updated = Client {
        name,
        ai_access: spec.scope.contains("mcp"),
        spec,
        ..current
    };
    clients::update(ctx, &sub.id, updated, actor)
        .await
        .map_err(|e| match e {
            AdminError::Validation(v) => RegistrationError::InvalidMetadata(v.to_string()).into(),
            other => RegisterError::Admin(other),
        })
}

/// Mint a new initial access token for `registration: token` (the old one stops
/// working); returned once.
pub async fn rotate_initial_token(
    ctx: &Ctx,
    sub: &Subscription,
    actor: &Actor,
) -> Result<String, AdminError> {
    let token = random::token(32);
    let mut settings = sub.settings.clone();
    settings.registration_token_sha256 = Some(hash_token(&token));
    super::tenants::update(ctx, sub, None, Some(settings), actor).await?;
    Ok(token)
}

//! OAuth clients: registration, secret issue/rotation (shown once, stored as SHA-256),
//! and client authentication at the token, introspection and revocation endpoints.
//!
//! Secrets are 256-bit random values, so a fast hash is as strong as a slow one and
//! keeps the token endpoint fast (DESIGN.md "Tokens and keys").

use super::local::Front;
use super::{Actor, AdminError, Ctx, FlowError, audit, random};
use crate::domain::{AuthMethod, Client, ClientSpec, SubscriptionId, ValidationError};
use crate::store::{StoreError, Tx};
use crate::tokens::{hash_token, secret_matches};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// An enabled client of `sub`, through the per-instance cache. `None` also for a
/// metadata-document client that is refused or that an admin blocked: that is how a
/// deleted or blocked client's tokens stop working at introspection and refresh.
pub async fn lookup(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
) -> Result<Option<Arc<Client>>, FlowError> {
    match find(ctx, sub, client_id).await {
        Err(FlowError::ClientBlocked) => Ok(None),
        other => other,
    }
}

/// [`lookup`], except that a blocked metadata-document client is
/// [`FlowError::ClientBlocked`], so that client authentication can say why.
async fn find(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
) -> Result<Option<Arc<Client>>, FlowError> {
    if crate::domain::cimd::looks_like_url(client_id) {
        // Boxed, like every cold path here: inline, its future would make every cached
        // lookup's future kilobytes larger.
        return Box::pin(metadata_client(ctx, sub, client_id)).await;
    }
    // "No such client" is cached too, so unknown ids cannot force a query per request.
    // This thread's front is asked first, under the generation the shared cache would
    // check (read once per request, so asking again below costs nothing).
    let generation = super::freshness::current(ctx, sub).await;
    let (owner, parts) = (
        ctx.owner.id(),
        [sub.0.as_bytes(), b":", client_id.as_bytes()],
    );
    if let Some(g) = generation
        && let Some(kept) = FRONT.with_borrow(|front| match front.get(owner, &parts) {
            Some((kept, client)) if *kept == g => Some(client.clone()),
            _ => None,
        })
    {
        return Ok(kept);
    }
    let key = [&sub.0, ":", client_id].concat();
    let found = super::freshness::through(ctx, sub, &ctx.clients, key, || async {
        Ok(
            match ctx
                .db(sub)
                .await?
                .repos()
                .clients()
                .get(sub, client_id)
                .await
            {
                Ok(c) if c.enabled => Some(Arc::new(c)),
                Ok(_) | Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
        )
    })
    .await?;
    // The front keeps its own copy, so its hits write no reference count that another
    // thread's hits write too (see [`super::local`]).
    let own = found.as_deref().map(|c| Arc::new(c.clone()));
    if let Some(g) = generation {
        FRONT.with_borrow_mut(|front| front.put(owner, &parts, (g, own.clone())));
    }
    Ok(own)
}

thread_local! {
    /// This thread's front of the client cache: the generation each was read under.
    static FRONT: RefCell<Front<(i64, Option<Arc<Client>>)>> = RefCell::default();
}

/// A metadata-document client: never a stored id; the document has its own cache.
async fn metadata_client(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
) -> Result<Option<Arc<Client>>, FlowError> {
    let tenant = ctx.store.subscriptions().get(sub).await?;
    match super::cimd::resolve(ctx, &tenant, client_id).await {
        Ok(c) => Ok(Some(Arc::new(c))),
        Err(e @ (FlowError::ClientBlocked | FlowError::Unavailable | FlowError::Internal(_))) => {
            Err(e)
        }
        Err(e) => {
            tracing::warn!(reason = %e, "client metadata document refused");
            Ok(None)
        }
    }
}

/// A client to create. `client_id`/`secret` are generated unless given (bootstrap only).
#[derive(Debug)]
pub struct NewClient {
    /// Fixed id (bootstrap admin client) or `None` to generate one.
    pub client_id: Option<String>,
    /// Fixed secret (bootstrap) or `None` to generate one for confidential clients.
    pub secret: Option<String>,
    /// Display name.
    pub name: String,
    /// Validated registration.
    pub spec: ClientSpec,
    /// May receive the `mcp` scope.
    pub ai_access: bool,
}

fn needs_secret(spec: &ClientSpec) -> bool {
    matches!(
        spec.auth_method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
}

/// A JSON view of a client for audit diffs (never the secret itself).
pub fn audit_view(c: &Client) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "secret_hash": c.secret_hash,
        "redirect_uris": c.spec.redirect_uris,
        "post_logout_redirect_uris": c.spec.post_logout_redirect_uris,
        "grant_types": c.spec.grant_types,
        "scope": c.spec.scope.to_string(),
        "token_endpoint_auth_method": c.spec.auth_method,
        "access_token_format": c.spec.access_token_format,
        "introspection": c.spec.introspection,
        "audience": c.spec.audience,
        "allowed_resources": c.spec.allowed_resources,
        "skip_consent": c.spec.skip_consent,
        "ai_access": c.ai_access,
        "enabled": c.enabled,
    })
}

fn check_ai_scope(spec: &ClientSpec, ai_access: bool) -> Result<(), ValidationError> {
    if spec.scope.contains("mcp") && !ai_access {
        return Err(ValidationError::new(
            "scope",
            "the mcp scope needs ai_access: true (AI agent clients only)",
        ));
    }
    Ok(())
}

/// Insert a client inside `tx`; returns it and its secret (the only time it is seen).
pub async fn insert(
    ctx: &Ctx,
    tx: &Tx,
    sub: &SubscriptionId,
    new: NewClient,
    actor: &Actor,
) -> Result<(Client, Option<String>), AdminError> {
    new.spec.validate()?;
    check_ai_scope(&new.spec, new.ai_access)?;
    let secret = needs_secret(&new.spec).then(|| new.secret.unwrap_or_else(|| random::token(32)));
    let client = Client {
        client_id: new.client_id.unwrap_or_else(|| random::token(16)),
        name: new.name,
        secret_hash: secret.as_deref().map(hash_token),
        spec: new.spec,
        ai_access: new.ai_access,
        enabled: true,
    };
    let now = ctx.now();
    match tx.repos().clients().insert(sub, &client, now).await {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("client_id")),
        other => other?,
    }
    let d = audit::diff(&serde_json::json!({}), &audit_view(&client));
    audit::record(
        tx,
        sub,
        actor,
        "client.created",
        ("client", &client.client_id),
        d,
        now,
    )
    .await?;
    Ok((client, secret))
}

/// Create a client in its own transaction.
pub async fn create(
    ctx: &Ctx,
    sub: &SubscriptionId,
    new: NewClient,
    actor: &Actor,
) -> Result<(Client, Option<String>), AdminError> {
    let tx = ctx.begin(sub).await?;
    let out = insert(ctx, &tx, sub, new, actor).await?;
    ctx.commit(tx).await?;
    Ok(out)
}

/// Replace a client's registration (PATCH is merged by the caller).
pub async fn update(
    ctx: &Ctx,
    sub: &SubscriptionId,
    updated: Client,
    actor: &Actor,
) -> Result<Client, AdminError> {
    updated.spec.validate()?;
    check_ai_scope(&updated.spec, updated.ai_access)?;
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().clients().get(sub, &updated.client_id).await?;
    let mut updated = updated;
    if !needs_secret(&updated.spec) {
        updated.secret_hash = None;
    }
    let fresh_secret = needs_secret(&updated.spec) && updated.secret_hash.is_none();
    if fresh_secret {
        return Err(ValidationError::new(
            "token_endpoint_auth_method",
            "switching to a secret-based method needs POST …/rotate-secret",
        )
        .into());
    }
    tx.repos().clients().update(sub, &updated, now).await?;
    let d = audit::diff(&audit_view(&before), &audit_view(&updated));
    audit::record(
        &tx,
        sub,
        actor,
        "client.updated",
        ("client", &updated.client_id),
        d,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(updated)
}

/// Issue a new secret (the old one stops working at once); returns it once.
pub async fn rotate_secret(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
    actor: &Actor,
) -> Result<String, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let mut client = tx.repos().clients().get(sub, client_id).await?;
    if client.spec.auth_method == AuthMethod::None
        || client.spec.auth_method == AuthMethod::PrivateKeyJwt
    {
        return Err(ValidationError::new(
            "token_endpoint_auth_method",
            "this client authenticates without a secret",
        )
        .into());
    }
    let secret = random::token(32);
    let before = audit_view(&client);
    client.secret_hash = Some(hash_token(&secret));
    tx.repos().clients().update(sub, &client, now).await?;
    audit::record(
        &tx,
        sub,
        actor,
        "client.secret_rotated",
        ("client", client_id),
        audit::diff(&before, &audit_view(&client)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(secret)
}

/// Delete a client and, in the same transaction, every consent given to it (admin API,
/// RFC 7592 delete of a registered client, AI clients alike).
pub async fn delete(
    ctx: &Ctx,
    sub: &SubscriptionId,
    client_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().clients().get(sub, client_id).await?;
    tx.repos().clients().delete(sub, client_id).await?;
    // Consents belong to the client: none may outlive it (nor be read as belonging to
    // anything registered later), and a half-done delete must leave both in place.
    tx.repos()
        .consents()
        .delete_for_client(sub, client_id)
        .await?;
    audit::record(
        &tx,
        sub,
        actor,
        "client.deleted",
        ("client", client_id),
        audit::diff(&audit_view(&before), &serde_json::json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(())
}

/// Client credentials as presented on the wire (RFC 6749 §2.3, RFC 7523).
#[derive(Debug)]
pub enum Presented {
    /// `Authorization: Basic` (already form-decoded).
    Basic {
        /// client_id
        client_id: String,
        /// secret
        secret: String,
    },
    /// `client_id` + `client_secret` in the body.
    Post {
        /// client_id
        client_id: String,
        /// secret
        secret: String,
    },
    /// `client_assertion` (private_key_jwt).
    Assertion {
        /// The optional `client_id` parameter.
        client_id: Option<String>,
        /// The JWT.
        assertion: String,
    },
    /// Only `client_id` (public client).
    Public {
        /// client_id
        client_id: String,
    },
    /// Nothing at all.
    Missing,
}

impl Presented {
    /// Whether Basic authentication was used (for the `WWW-Authenticate` scheme).
    pub fn used_basic(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }
}

/// Authenticate a client of `sub`. Every failure is the same `invalid_client` (no
/// enumeration: unknown, disabled, other tenant and wrong secret look alike), and an
/// unknown client still costs one hash comparison.
pub async fn authenticate(
    ctx: &Ctx,
    sub: &SubscriptionId,
    issuer: &str,
    presented: &Presented,
) -> Result<Arc<Client>, FlowError> {
    let client_id = match presented {
        Presented::Basic { client_id, .. }
        | Presented::Post { client_id, .. }
        | Presented::Public { client_id } => client_id.clone(),
        Presented::Assertion {
            client_id: Some(id),
            ..
        } => id.clone(),
        Presented::Assertion {
            assertion,
            client_id: None,
        } => crate::tokens::assertion_subject(assertion)
            .ok_or(FlowError::InvalidClient("malformed assertion"))?,
        Presented::Missing => return Err(FlowError::InvalidClient("no client authentication")),
    };
    let client = find(ctx, sub, &client_id).await?;
    let method = client.as_ref().map(|c| c.spec.auth_method);
    let ok = match (presented, method) {
        (Presented::Basic { secret, .. }, Some(AuthMethod::ClientSecretBasic))
        | (Presented::Post { secret, .. }, Some(AuthMethod::ClientSecretPost)) => {
            let stored = client.as_ref().and_then(|c| c.secret_hash.as_deref());
            secret_matches(secret, stored.unwrap_or_default())
        }
        // AI (MCP) clients take their secret either way (DESIGN.md: the minted MCP client
        // is `client_secret_basic` and `client_secret_post`); MCP SDKs differ in which
        // they send. Other clients keep exactly their registered method (RFC 9700 §2.5).
        (Presented::Post { secret, .. }, Some(AuthMethod::ClientSecretBasic))
            if client.as_ref().is_some_and(|c| c.ai_access) =>
        {
            let stored = client.as_ref().and_then(|c| c.secret_hash.as_deref());
            secret_matches(secret, stored.unwrap_or_default())
        }
        (Presented::Public { .. }, Some(AuthMethod::None)) => true,
        (Presented::Assertion { assertion, .. }, Some(AuthMethod::PrivateKeyJwt)) => {
            let jwks = client
                .as_ref()
                .and_then(|c| c.spec.jwks.clone())
                .unwrap_or_default();
            Box::pin(verify_assertion(
                ctx, sub, issuer, &client_id, &jwks, assertion,
            ))
            .await?
        }
        (Presented::Basic { secret, .. } | Presented::Post { secret, .. }, _) => {
            // Same work as a real comparison so that timing tells nothing.
            let _ = secret_matches(secret, "");
            false
        }
        _ => false,
    };
    match client {
        Some(c) if ok => Ok(c),
        _ => Err(FlowError::InvalidClient("authentication failed")),
    }
}

async fn verify_assertion(
    ctx: &Ctx,
    sub: &SubscriptionId,
    issuer: &str,
    client_id: &str,
    jwks: &serde_json::Value,
    assertion: &str,
) -> Result<bool, FlowError> {
    let audiences = [issuer.to_owned(), format!("{issuer}/token")];
    let Ok(verified) =
        crate::tokens::verify_client_assertion(jwks, assertion, client_id, &audiences, ctx.now())
    else {
        return Ok(false);
    };
    // RFC 7523 §3: the jti may be used only once; remember it until the assertion expires.
    let ttl = Duration::from_secs(u64::try_from(verified.exp - ctx.now()).unwrap_or(0).max(1) + 60);
    let fresh = ctx
        .cache
        .put_new(
            &format!("jti:{}:{}:{}", sub.0, client_id, verified.jti),
            b"1",
            ttl,
        )
        .await?;
    Ok(fresh)
}

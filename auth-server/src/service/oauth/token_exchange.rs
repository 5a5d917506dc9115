//! Run-as through OAuth 2.0 Token Exchange (RFC 8693 §2): the caller presents its own
//! access token as `subject_token` and names the user to run as in `requested_subject`;
//! a run-as grant must cover (caller → target). The new access token's `sub` is the
//! target, so every ACL evaluation of it uses the target's permissions, and its `act`
//! (RFC 8693 §4.1) names the caller: `{sub, client_id}`, with the subject token's own
//! `act` nested inside when the exchange is chained.
//!
//! Choices where the contract is silent:
//! - The caller is the subject token's user (a user-delegated token) or, for a client
//!   credentials token, the client itself. A chained exchange's caller is the subject
//!   token's `sub`, i.e. the user it already runs as (DESIGN.md "Contract details").
//! - The subject token must have been issued to the exchanging client. Otherwise any
//!   resource server holding the token-exchange grant type could turn the tokens it
//!   receives into run-as tokens on behalf of their owners.
//! - `scope` may only narrow the subject token's scope; `admin` survives only when the
//!   target is an administrator (as for any user-delegated token), and no refresh or
//!   ID token is issued (`offline_access` is dropped).
//! - The new token belongs to a grant family whose subject is the target, so disabling
//!   the target or changing their password revokes it like their own tokens.
//! - Every refusal of the run-as itself after the client is authenticated is audited as
//!   `run_as.refused` with its reason (`grant_type_not_allowed`, `subject_token_inactive`,
//!   `subject_token_of_another_client`, `no_grant`); every success as `run_as.used`.
//!   Malformed requests (a missing parameter, a wrong token type) and a `scope` or
//!   `resource` the caller may not have are plain `invalid_request` / `invalid_scope` /
//!   `invalid_target` answers, as at every grant: they refuse the request's shape, not
//!   the impersonation.

use super::issue::{self, Grant, TokenResponse};
use super::resource;
use crate::domain::{Client, GrantType, Scope, Subscription, User};
use crate::service::introspect::{Claims, validate_access_token};
use crate::service::{Actor, Ctx, FlowError, audit, random};
use crate::store::StoreError;
use crate::store::acl::RunAsPrincipal;
use crate::store::tokens::Family;
use serde_json::{Value, json};

/// The grant type's wire name.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only token type accepted and issued.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The token-exchange parameters of the request.
#[derive(Debug, Default)]
pub struct ExchangeRequest<'a> {
    /// `subject_token`: the caller's access token.
    pub subject_token: Option<&'a str>,
    /// `subject_token_type`.
    pub subject_token_type: Option<&'a str>,
    /// `requested_subject`: the target user's `sub`.
    pub requested_subject: Option<&'a str>,
    /// `requested_token_type` (optional; only access tokens are issued).
    pub requested_token_type: Option<&'a str>,
    /// Optional narrowing of the scope.
    pub scope: Option<&'a str>,
    /// RFC 8707 resources.
    pub resources: &'a [String],
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, FlowError> {
    value.ok_or_else(|| FlowError::InvalidRequest(format!("{name} is missing")))
}

/// Exchange the caller's token for one that runs as `requested_subject`.
pub async fn exchange(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    req: ExchangeRequest<'_>,
) -> Result<TokenResponse, FlowError> {
    let client_actor = Actor {
        client_id: Some(client.client_id.clone()),
        ..Actor::default()
    };
    if !client.spec.allows(GrantType::TokenExchange) {
        refuse(
            ctx,
            tenant,
            &client_actor,
            req.requested_subject,
            "grant_type_not_allowed",
        )
        .await?;
        return Err(FlowError::UnauthorizedClient(
            "client may not use token exchange",
        ));
    }
    let subject_token = required(req.subject_token, "subject_token")?;
    if required(req.subject_token_type, "subject_token_type")? != ACCESS_TOKEN_TYPE {
        return Err(FlowError::InvalidRequest(
            "subject_token_type must be an access token".into(),
        ));
    }
    if req
        .requested_token_type
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(FlowError::InvalidRequest(
            "only access tokens can be requested".into(),
        ));
    }
    let target_id = required(req.requested_subject, "requested_subject")?;

    let Some(subject) = validate_access_token(ctx, tenant, issuer, subject_token).await? else {
        let reason = "subject_token_inactive";
        refuse(ctx, tenant, &client_actor, Some(target_id), reason).await?;
        return Err(FlowError::InvalidGrant("subject_token is not active"));
    };
    let str_claim = |name: &str| {
        subject
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if str_claim("client_id") != client.client_id {
        let reason = "subject_token_of_another_client";
        refuse(ctx, tenant, &client_actor, Some(target_id), reason).await?;
        return Err(FlowError::InvalidGrant(
            "subject_token was issued to another client",
        ));
    }
    let caller_sub = str_claim("sub");
    // User-delegated tokens belong to a grant family; client credentials tokens do not.
    let principal = if subject.contains_key("gid") {
        RunAsPrincipal::User(caller_sub.clone())
    } else {
        RunAsPrincipal::Client(caller_sub.clone())
    };
    let granted =
        Scope::parse(&str_claim("scope")).map_err(|e| FlowError::InvalidRequest(e.to_string()))?;
    let asked = match req.scope {
        Some(s) => Scope::parse(s).map_err(|e| FlowError::InvalidScope(e.to_string()))?,
        None => granted.clone(),
    };
    if !asked.is_subset(&granted) {
        return Err(FlowError::InvalidScope(
            "scope may only narrow the subject token's scope".into(),
        ));
    }

    let actor = match &principal {
        RunAsPrincipal::User(u) => Actor {
            user_id: Some(u.clone()),
            client_id: Some(client.client_id.clone()),
            act: None,
            ..Actor::default()
        },
        RunAsPrincipal::Client(c) => Actor {
            client_id: Some(c.clone()),
            act: None,
            ..Actor::default()
        },
    };
    let Some((target, grant_id)) = covered(ctx, tenant, &principal, target_id).await? else {
        refuse(ctx, tenant, &actor, Some(target_id), "no_grant").await?;
        return Err(FlowError::InvalidGrant(
            "no run-as grant covers this subject",
        ));
    };

    let scope = issue::user_scope(&asked, &target).without("offline_access");
    let audience = resource::audience(tenant, client, &scope, req.resources)?;
    let act = act_claim(&caller_sub, client, &subject);
    let family = Family {
        id: random::id(),
        client_id: client.client_id.clone(),
        subject: target.id.clone(),
        scope: scope.to_string(),
        claims: json!({"run_as": {"act": act, "grant": grant_id}}),
        revoked_at: None,
        created_at: 0,
    };
    let now = ctx.now();
    let tx = ctx.begin(&tenant.id).await?;
    tx.repos()
        .tokens()
        .create_family(&tenant.id, &family, now)
        .await?;
    let diff = json!({"run_as": {"old": caller_sub, "new": target.id}, "grant": {"old": null, "new": grant_id}});
    audit::record(
        &tx,
        &tenant.id,
        &actor,
        "run_as.used",
        ("user", &target.id),
        Some(diff),
        now,
    )
    .await?;
    // Commit before minting: SQLite has one writer and opaque tokens go through the pool.
    ctx.commit(tx).await?;

    let grant = Grant {
        tenant,
        issuer,
        client,
        user: Some(&target),
        scope,
        audience,
        family_id: Some(family.id),
        auth: None,
        nonce: None,
        act: Some(act),
    };
    let (access_token, _) = issue::access_token(ctx, &grant).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.settings.access_token_ttl,
        scope: grant.scope.to_string(),
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(ACCESS_TOKEN_TYPE.into()),
    })
}

/// `{sub: caller, client_id}`, nesting the subject token's `act` when it had one.
fn act_claim(caller_sub: &str, client: &Client, subject: &Claims) -> Value {
    let mut act = json!({"sub": caller_sub, "client_id": client.client_id});
    if let Some(prior) = subject.get("act") {
        act["act"] = prior.clone();
    }
    act
}

/// The active target user and the id of the grant that covers (principal → target).
async fn covered(
    ctx: &Ctx,
    tenant: &Subscription,
    principal: &RunAsPrincipal,
    target_id: &str,
) -> Result<Option<(User, String)>, FlowError> {
    let db = ctx.db(&tenant.id).await?;
    let repos = db.repos();
    let target = match repos.users().get(&tenant.id, target_id).await {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let groups = repos.acl().user_group_ids(&tenant.id, target_id).await?;
    let grant = repos
        .acl()
        .run_as_covering(&tenant.id, principal, target_id, &groups)
        .await?;
    Ok(grant.map(|id| (target, id)))
}

/// Record a refusal (in its own transaction: the request fails, the event stays). The
/// target is the requested user, or the client itself when it named none.
async fn refuse(
    ctx: &Ctx,
    tenant: &Subscription,
    actor: &Actor,
    target_id: Option<&str>,
    reason: &str,
) -> Result<(), FlowError> {
    let now = ctx.now();
    let target = match (target_id, &actor.client_id) {
        (Some(user), _) => ("user", user),
        (None, Some(client)) => ("client", client.as_str()),
        (None, None) => ("user", ""),
    };
    let tx = ctx.begin(&tenant.id).await?;
    audit::record(
        &tx,
        &tenant.id,
        actor,
        "run_as.refused",
        target,
        Some(json!({ "reason": reason })),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(())
}

//! The client credentials grant (RFC 6749 §4.4): the client acts for itself, `sub` is
//! its `client_id`, and no refresh or ID token is issued.

use super::issue::{self, Grant, TokenResponse};
use super::resource;
use crate::domain::{Client, GrantType, Scope, Subscription};
use crate::service::{Ctx, FlowError};

/// Issue an access token to `client` for `scope` (default: everything it may ask for).
pub async fn issue(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    scope: Option<&str>,
    resources: &[String],
) -> Result<TokenResponse, FlowError> {
    if !client.spec.allows(GrantType::ClientCredentials) {
        return Err(FlowError::UnauthorizedClient(
            "client may not use client_credentials",
        ));
    }
    let scope = match scope {
        Some(s) => Scope::parse(s).map_err(|e| FlowError::InvalidScope(e.to_string()))?,
        None => client.spec.scope.clone(),
    };
    if !scope.is_subset(&client.spec.scope) {
        return Err(FlowError::InvalidScope(
            "a requested scope is not allowed for this client".into(),
        ));
    }
    // OpenID scopes describe a user; a client acting for itself has none.
    let scope = scope.without("openid").without("offline_access");
    let audience = resource::audience(tenant, client, &scope, resources)?;
    let grant = Grant {
        tenant,
        issuer,
        client,
        user: None,
        scope,
        audience,
        family_id: None,
        auth: None,
        nonce: None,
        act: None,
    };
    let (access_token, _) = issue::access_token(ctx, &grant).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ctx.settings.access_token_ttl,
        scope: grant.scope.to_string(),
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}

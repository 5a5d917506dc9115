//! The client credentials grant (RFC 6749 §4.4): the client acts for itself, `sub` is
//! its `client_id`, and no refresh or ID token is issued. The protocol sequence runs
//! through oxide-auth (`http::protocol::oxide`); its `Registrar::negotiate` calls
//! [`negotiate`] and its `Issuer::issue` calls [`issue`].

use super::issue::{self, Grant, TokenResponse};
use super::resource;
use crate::domain::{Client, Scope, Subscription};
use crate::service::{Ctx, FlowError};

/// The scope `client` gets for a request of `asked` (default: everything it may ask for).
pub fn negotiate(client: &Client, asked: Option<&str>) -> Result<Scope, FlowError> {
    let scope = match asked {
        Some(s) => Scope::parse(s).map_err(|e| FlowError::InvalidScope(e.to_string()))?,
        None => client.spec.scope.clone(),
    };
    if !scope.is_subset(&client.spec.scope) {
        return Err(FlowError::InvalidScope(
            "a requested scope is not allowed for this client".into(),
        ));
    }
    // OpenID scopes describe a user; a client acting for itself has none.
    Ok(scope.without("openid").without("offline_access"))
}

/// Issue an access token to `client` for the negotiated `scope`.
pub async fn issue(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    client: &Client,
    scope: Scope,
    resources: &[String],
) -> Result<TokenResponse, FlowError> {
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

//! The admin console's own OAuth client: one first-party public client per
//! subscription (`auth-server-console`, PKCE, no consent screen) whose only redirect URI
//! is `{public_url}/admin/callback`. It is registered lazily the first time someone
//! signs in to the console at that issuer, so creating 10,000 tenants does not create
//! 10,000 unused clients, and a changed `AUTH_PUBLIC_URL` is repaired on the next sign-in.

use super::clients::{self, NewClient};
use super::{Actor, AdminError, Ctx};
use crate::domain::{
    AuthMethod, ClientSpec, GrantType, RedirectUri, Scope, Subscription, TokenFormat,
};
use crate::store::StoreError;

/// The console's `client_id` in every subscription.
pub const CLIENT_ID: &str = "auth-server-console";

/// The console's redirect URI under this server's public URL.
pub fn redirect_uri(ctx: &Ctx) -> String {
    format!(
        "{}/admin/callback",
        ctx.settings.public_url.as_str().trim_end_matches('/')
    )
}

fn spec(ctx: &Ctx) -> Result<ClientSpec, AdminError> {
    Ok(ClientSpec {
        redirect_uris: vec![RedirectUri::parse(&redirect_uri(ctx), "redirect_uris")?],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Scope::parse("openid admin")?,
        auth_method: AuthMethod::None,
        access_token_format: TokenFormat::Jwt,
        access_token_signing_alg: "ES256".into(),
        id_token_signed_response_alg: "RS256".into(),
        introspection: false,
        audience: Vec::new(),
        allowed_resources: Vec::new(),
        skip_consent: true,
        jwks: None,
    })
}

/// Make sure `sub` has the console client with the current redirect URI.
pub async fn ensure_client(ctx: &Ctx, sub: &Subscription) -> Result<(), AdminError> {
    let wanted = spec(ctx)?;
    let actor = Actor {
        client_id: Some(CLIENT_ID.into()),
        ..Actor::default()
    };
    match ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .get(&sub.id, CLIENT_ID)
        .await
    {
        Ok(existing) if existing.spec == wanted && existing.enabled => Ok(()),
        Ok(mut existing) => {
            existing.spec = wanted;
            existing.enabled = true;
            clients::update(ctx, &sub.id, existing, &actor).await?;
            Ok(())
        }
        Err(StoreError::NotFound) => {
            let new = NewClient {
                client_id: Some(CLIENT_ID.into()),
                secret: None,
                name: "Admin console".into(),
                spec: wanted,
                ai_access: false,
            };
            match clients::create(ctx, &sub.id, new, &actor).await {
                // Another instance registered it at the same moment.
                Ok(_) | Err(AdminError::Conflict(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.into()),
    }
}

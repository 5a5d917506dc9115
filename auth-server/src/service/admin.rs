//! Who may call the admin API: a bearer access token with scope `admin`, issued by the
//! `system` subscription (system administrators act everywhere) or by a tenant's own
//! issuer (that tenant only). Other tenants answer 403 whether they exist or not, so
//! the API is no oracle of other tenants' existence.

use super::introspect::validate_access_token;
use super::{Actor, AdminError, Ctx, FlowError, audit, tenants};
use crate::domain::Subscription;
use crate::store::StoreError;
use base64::Engine;
use serde_json::Value;
use std::sync::Arc;

/// An authenticated admin caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The subscription whose issuer minted the token.
    pub home: Arc<Subscription>,
    /// Whether it is a system administrator.
    pub system: bool,
    /// The actor for audit events.
    pub actor: Actor,
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminAuthError {
    /// No, malformed, expired or revoked token: 401.
    #[error("invalid or missing bearer token")]
    Unauthorized,
    /// Valid token without the `admin` scope: 403.
    #[error("the token lacks the admin scope")]
    Forbidden,
    /// A dependency is down: 503.
    #[error("temporarily unavailable")]
    Unavailable,
}

/// The issuer a JWT claims, read before verification only to pick the tenant whose
/// keys then verify it.
fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

/// Authenticate an admin bearer token.
pub async fn authenticate(
    ctx: &Ctx,
    token: &str,
    request_id: Option<String>,
    ip: Option<String>,
) -> Result<Principal, AdminAuthError> {
    let issuer = claimed_issuer(token).ok_or(AdminAuthError::Unauthorized)?;
    let prefix = format!(
        "{}/t/",
        ctx.settings.public_url.as_str().trim_end_matches('/')
    );
    let slug = issuer
        .strip_prefix(&prefix)
        .filter(|s| !s.contains('/'))
        .ok_or(AdminAuthError::Unauthorized)?;
    let home = match tenants::resolve(ctx, slug).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(AdminAuthError::Unauthorized),
        Err(_) => return Err(AdminAuthError::Unavailable),
    };
    let claims = match validate_access_token(ctx, &home, &issuer, token).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(AdminAuthError::Unauthorized),
        Err(FlowError::Unavailable) => return Err(AdminAuthError::Unavailable),
        Err(_) => return Err(AdminAuthError::Unauthorized),
    };
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let user_id = claims
        .contains_key("gid")
        .then(|| claims.get("sub").and_then(Value::as_str).map(str::to_owned))
        .flatten();
    let actor = Actor {
        user_id,
        client_id,
        act: claims.get("act").cloned(),
        request_id,
        ip,
    };
    if !scope.split(' ').any(|s| s == "admin") {
        audit::security(
            ctx,
            &home.id,
            &actor,
            "admin.forbidden",
            ("admin_api", "*"),
            serde_json::json!({"reason": "missing_admin_scope"}),
        )
        .await;
        return Err(AdminAuthError::Forbidden);
    }
    Ok(Principal {
        system: home.slug.as_str() == tenants::SYSTEM,
        home,
        actor,
    })
}

impl Principal {
    /// The subscription `slug` if this principal may administer it.
    pub async fn tenant(&self, ctx: &Ctx, slug: &str) -> Result<Arc<Subscription>, AdminError> {
        if !self.system {
            if slug == self.home.slug.as_str() {
                return Ok(Arc::clone(&self.home));
            }
            audit::security(
                ctx,
                &self.home.id,
                &self.actor,
                "admin.forbidden",
                ("subscription", slug),
                serde_json::json!({"reason": "other_subscription"}),
            )
            .await;
            // 404, like a subscription that does not exist (SECURITY.md T8, Keycloak's
            // CrossRealmPermissionsTest): a 403 would tell a tenant admin which other
            // subscriptions exist. The attempt is still audited above.
            return Err(AdminError::NotFound);
        }
        Ok(tenants::resolve(ctx, slug).await?)
    }
}

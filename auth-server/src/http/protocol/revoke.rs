//! Token revocation (RFC 7009 §2): 200 whatever the token, once the client is known.

use super::NO_STORE;
use super::error::OAuthError;
use crate::http::extract::{Tenant, client_auth, form};
use crate::service::oauth::revoke;
use crate::service::{Ctx, clients};
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, post, web};

/// `POST /t/{slug}/revoke`
#[post("/revoke")]
pub async fn post_revoke(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let p = form(&req, &body)?;
    let presented = client_auth(&req, &p)?;
    let issuer = ctx.settings.issuer(tenant.0.slug.as_str());
    let fail = |e| OAuthError::from_flow(e, "revoke");
    let client = clients::authenticate(&ctx, &tenant.0.id, &issuer, &presented)
        .await
        .map_err(fail)?;
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::bad_request("invalid_request", "token is missing"))?;
    revoke::revoke(&ctx, &tenant.0, &issuer, &client, token)
        .await
        .map_err(fail)?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, NO_STORE))
        .finish())
}

//! The issuer's JWK set (RFC 7517): active, next and recently retired public keys.

use crate::http::extract::Tenant;
use crate::http::protocol::error::OAuthError;
use crate::service::{Ctx, FlowError, keys};
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, get, web};

/// `GET /t/{slug}/jwks`
#[get("/t/{slug}/jwks")]
pub async fn get_jwks(ctx: web::Data<Ctx>, tenant: Tenant) -> Result<HttpResponse, OAuthError> {
    let ring = keys::published_ring(&ctx, &tenant.0.id)
        .await
        .map_err(|e| OAuthError::from_flow(FlowError::from(e), "jwks"))?;
    // Short max-age: a new next key must reach caches long before it signs. Until the
    // RS256 keys exist (made on first use), a shared cache must not hide them from an RP
    // that meets their kid and re-fetches.
    let cache = match keys::lacks_lazy(&ring) {
        true => "no-cache",
        false => "public, max-age=60",
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", cache))
        .insert_header(ContentType::json())
        .body(ring.jwks_json(ctx.now())))
}

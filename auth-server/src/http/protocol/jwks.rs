//! The issuer's JWK set (RFC 7517): active, next and recently retired public keys.

use crate::http::extract::Tenant;
use crate::http::protocol::error::OAuthError;
use crate::service::{Ctx, FlowError, keys};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, web};

/// `GET /t/{slug}/jwks`
#[get("/jwks")]
pub async fn get_jwks(ctx: web::Data<Ctx>, tenant: Tenant) -> Result<HttpResponse, OAuthError> {
    let ring = keys::published_ring(&ctx, &tenant.0.id)
        .await
        .map_err(|e| OAuthError::from_flow(FlowError::from(e), "jwks"))?;
    // Short max-age: a new next key must reach caches long before it signs. A set served
    // without RS256 keys (they could not be made just now, see `keys::published_ring`)
    // must not stay in shared caches once they exist.
    let cache = match keys::lacks_lazy(&ring) {
        true => "no-cache",
        false => "public, max-age=60",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .insert_header((header::CONTENT_TYPE, super::JSON))
        .body(ring.jwks_json(ctx.now())))
}

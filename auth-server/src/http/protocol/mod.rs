//! Protocol endpoints under each issuer `/t/{slug}`, one file per endpoint.

pub mod acl_evaluate;
pub mod authorize;
pub mod discovery;
pub mod error;
pub mod introspect;
pub mod jwks;
pub mod logout;
pub mod oxide;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

use actix_web::HttpResponse;
use actix_web::http::header;

/// A JSON response that must never be cached (RFC 6749 §5.1).
pub fn no_store_json(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

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
use actix_web::http::header::{self, HeaderValue};

/// A JSON response that must never be cached (RFC 9111 `no-store`).
pub fn no_store_json(body: impl serde::Serialize) -> HttpResponse {
    // Written into one buffer sized for a typical answer, with static header values:
    // `HttpResponseBuilder::json` grows a string from empty and copies each header value
    // it is given as text, which showed in the profile of introspection (session 11).
    let mut buf = Vec::with_capacity(512);
    no_store_body(serde_json::to_writer(&mut buf, &body).map(|()| bytes::Bytes::from(buf)))
}

/// [`no_store_json`] for a body already written (a cached introspection answer).
pub fn no_store_body(body: Result<bytes::Bytes, serde_json::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, NO_STORE))
            .insert_header((header::CONTENT_TYPE, JSON))
            .body(body),
        Err(e) => HttpResponse::from_error(actix_web::error::JsonPayloadError::Serialize(e)),
    }
}

/// `Cache-Control: no-store` (RFC 9111), without parsing it per response.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// `Content-Type: application/json`, without a copy per response.
pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// [`no_store_json`] for an answer that hands out credentials (tokens, a client's
/// registration): also `Pragma: no-cache`, which RFC 6749 §5.1 requires of token
/// responses for HTTP/1.0 caches.
pub fn credentials_json(body: impl serde::Serialize) -> HttpResponse {
    let mut resp = no_store_json(body);
    resp.headers_mut()
        .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    resp
}

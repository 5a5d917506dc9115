//! The per-address limiter in front of the endpoints a guesser hammers (SECURITY.md §3,
//! §6.6): token, introspection and revocation, and the login and second-factor forms.
//! It sits in middleware, before any handler parses a body, so the protocol handlers
//! stay free of it. The address is the TCP peer, or the client named by
//! `X-Forwarded-For` when the peer is a configured proxy (`AUTH_TRUSTED_PROXIES`).

use super::pages::{layout, page};
use crate::service::Ctx;
use crate::service::throttle::{self, IpClass};
use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use std::net::IpAddr;

/// The budget a request draws from, by route: `/t/{slug}/{token|introspect|revoke}` and
/// `/t/{slug}/login[/2fa]`, POST only.
fn class_of(method: &Method, path: &str) -> Option<IpClass> {
    if method != Method::POST {
        return None;
    }
    let rest = path.strip_prefix("/t/")?.split_once('/')?.1;
    match rest {
        "token" | "introspect" | "revoke" => Some(IpClass::Protocol),
        "login" | "login/2fa" => Some(IpClass::Login),
        _ => None,
    }
}

/// A header name given as text is parsed (and copied) on every lookup.
const X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

/// The client address of a request (see the module docs); `None` only for requests
/// without a peer (in-process test requests).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(ctx) = req.app_data::<web::Data<Ctx>>() else {
        return Some(peer);
    };
    let forwarded = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok());
    Some(ctx.settings.trusted_proxies.client_ip(peer, forwarded))
}

/// Count the request against its address: `Some(429 + Retry-After)` once the minute's
/// budget is spent (the edge middleware answers it), `None` to go on.
pub async fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    let class = class_of(req.method(), req.path())?;
    let ctx = req.app_data::<web::Data<Ctx>>()?;
    let ip = client_ip(req.request())?;
    let retry = throttle::admit_ip(ctx, class, ip).await.err()?;
    tracing::warn!(%ip, ?class, "per-address rate limit reached");
    Some(too_many(class, retry))
}

fn too_many(class: IpClass, retry: i64) -> HttpResponse {
    let mut resp = match class {
        // RFC 6585 §4; the OAuth error code that means "try later".
        IpClass::Protocol => HttpResponse::TooManyRequests().json(serde_json::json!({
            "error": "temporarily_unavailable",
            "error_description": "too many requests from this address; retry later",
        })),
        IpClass::Login => page(
            StatusCode::TOO_MANY_REQUESTS,
            layout(
                "Too many attempts",
                html! { h1 { "Too many attempts" } p role="alert" { "Too many sign-in attempts from your network. Wait a minute and try again." } },
            ),
        ),
    };
    if let Ok(v) = header::HeaderValue::from_str(&retry.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_guessable_posts_are_limited() {
        let post = Method::POST;
        assert_eq!(class_of(&post, "/t/a/token"), Some(IpClass::Protocol));
        assert_eq!(class_of(&post, "/t/a/introspect"), Some(IpClass::Protocol));
        assert_eq!(class_of(&post, "/t/a/revoke"), Some(IpClass::Protocol));
        assert_eq!(class_of(&post, "/t/a/login"), Some(IpClass::Login));
        assert_eq!(class_of(&post, "/t/a/login/2fa"), Some(IpClass::Login));
        assert_eq!(class_of(&Method::GET, "/t/a/login"), None);
        assert_eq!(class_of(&post, "/t/a/consent"), None);
        assert_eq!(class_of(&post, "/admin/v1/token"), None);
        assert_eq!(class_of(&post, "/t/a/token/x"), None);
    }
}

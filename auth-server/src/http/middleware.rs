//! The edge of every route: request ids and log context, the per-address limiter, the
//! request deadline, localized error pages, response hardening and request metrics.

use super::state::Metrics;
use super::{limits, pages};
use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

/// The id of one request: in every log line of the request (span field `request_id`),
/// in audit events, and in the `x-request-id` response header.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A process-unique id: a random per-process prefix (so instances behind one load balancer
/// do not collide) and a counter. Ids need to be unique, not secret, so no CSPRNG call and
/// no UUID formatting per request. Each thread takes its counter values in blocks: one
/// counter shared by every worker moved its cache line between the cores on every
/// request (docs/performance.md, session 14), so ids are in order within a worker only.
fn next_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    /// Counter values a thread takes at once.
    const BLOCK: u64 = 1024;
    thread_local! {
        /// The next value of this thread's block and the block's end.
        static BLOCK_LEFT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    let prefix = *PREFIX.get_or_init(rand::random);
    let count = BLOCK_LEFT.with(|left| {
        let (mut next, mut end) = left.get();
        if next == end {
            next = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        left.set((next + 1, end));
        next
    });
    // 8 + 12 hex digits, written directly: `format!` showed in the profile of the
    // cheapest endpoints.
    let mut id = String::with_capacity(20);
    for shift in (0..8).rev() {
        id.push(hex_digit(prefix >> (shift * 4)));
    }
    for shift in (0..12).rev() {
        id.push(hex_digit((count >> (shift * 4)) as u32));
    }
    id
}

fn hex_digit(v: u32) -> char {
    char::from(b"0123456789abcdef"[(v & 0xf) as usize])
}

/// The `Content-Security-Policy` of pages: the page's own styles and images, forms
/// posting only to us, no framing, no base tag.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The `Content-Security-Policy` of API documents (JSON, JWT): nothing loads, nothing
/// frames them (the OWASP REST headers).
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Whether a response is an API document (JSON or a JWT) rather than a page or a
/// redirect: such a document loads and links nothing, so it needs no referrer policy and
/// only the short CSP, which keeps every protocol answer a few hundred bytes smaller.
fn is_api_document(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim().as_bytes();
    essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"application/jwt")
        || (essence.len() > b"application/+json".len()
            && essence[..12].eq_ignore_ascii_case(b"application/")
            && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// Whether a raw request path carries a percent-encoded NUL (`%00`).
fn has_encoded_nul(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w == b"%00")
}

/// The one middleware in front of every route. Per request: a request id and a log span
/// carrying it with the method and path (never the query string, which may hold codes
/// or hints); the per-address limiter ([`limits::refusal`]); the [`REQUEST_DEADLINE`];
/// one read of the state generation
/// ([`freshness::per_request`](crate::service::freshness::per_request)); error pages in
/// the request's language ([`pages::localized`]); security headers on every response
/// (RFC 9700 §4.16 clickjacking, §4.2.4 referrer; API documents get the OWASP REST set,
/// see [`is_api_document`]); `no-store` unless the handler chose a cache policy; and the
/// latency histogram. One layer rather than one per concern: each `from_fn` layer boxes
/// the request's future twice, which showed in the profile of the cheapest endpoints
/// (docs/performance.md).
pub async fn edge(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let tenant = take_tenant_prefix(&mut req);
    let method = req.method().clone();
    let id = next_request_id();
    let span =
        tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
    let header_id = HeaderValue::from_str(&id).ok();
    req.extensions_mut().insert(RequestId(id));
    let mut res = serve(req, next, header_id.clone()).instrument(span).await?;
    let route = match (res.request().match_pattern(), tenant) {
        (Some(inner), true) => [TENANT_PREFIX, &inner].concat(),
        (Some(pattern), false) => pattern,
        (None, _) => "unmatched".into(),
    };
    harden(res.headers_mut(), header_id);
    // Borrowed from the answered request rather than cloned before the handler runs.
    if let Some(m) = res.request().app_data::<web::Data<Metrics>>() {
        let status = res.status();
        let status = status.as_str();
        m.latency.observe(
            &route,
            method.as_str(),
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// The pattern of the tenant prefix, as the latency histogram's route label shows it.
const TENANT_PREFIX: &str = "/t/{slug}";

/// Marks a request whose `/t/{slug}` prefix [`take_tenant_prefix`] consumed.
#[derive(Debug, Clone, Copy)]
struct TenantRequest;

/// Whether the request is for a tenant endpoint (the guard of the tenant scope).
pub fn is_tenant_request(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.req_data().contains::<TenantRequest>()
}

/// Match the `/t/{slug}` prefix of a tenant path here, as actix's router would: the slug
/// is the non-empty text up to the next `/` of the (requoted) path, stored as the `slug`
/// path parameter, and the router then sees only the rest. actix-router matches every
/// dynamic segment with a regex (regex-lite's PikeVM, as actix-web is built without
/// `unicode`), which was a fifth of the instructions of a discovery request and a tenth
/// of an introspection's (docs/performance.md, session 11). Returns whether it matched.
fn take_tenant_prefix(req: &mut ServiceRequest) -> bool {
    let Some(rest) = req.match_info().as_str().strip_prefix("/t/") else {
        return false;
    };
    let len = rest.find('/').unwrap_or(rest.len());
    let Ok(end) = u16::try_from(3 + len) else {
        return false;
    };
    if len == 0 {
        return false; // `/t//…`: the pattern needs a non-empty slug
    }
    let slug = rest[..len].to_owned();
    let info = req.match_info_mut();
    info.add_static("slug", slug);
    info.skip(end);
    req.extensions_mut().insert(TenantRequest);
    true
}

/// The security headers of every answer, the request id, and `no-store` unless the
/// handler chose a cache policy.
fn harden(h: &mut header::HeaderMap, request_id: Option<HeaderValue>) {
    let set = |h: &mut header::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    let api = is_api_document(h.get(header::CONTENT_TYPE));
    set(h, header::X_FRAME_OPTIONS, "DENY");
    // A handler may set a stricter or different policy (the console allows its own script).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = if api { API_CSP } else { PAGE_CSP };
        set(h, header::CONTENT_SECURITY_POLICY, csp);
    }
    // No URL (with its code or transaction id) ever leaves in a Referer (SECURITY.md X4):
    // pages and redirects (a redirect's policy applies to the request it causes).
    // Browsers then send `Origin: null` on our own form posts; `pages::check_origin`
    // tells those apart with Fetch Metadata.
    if !api {
        set(h, header::REFERRER_POLICY, "no-referrer");
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    if let Some(id) = request_id {
        h.insert(HeaderName::from_static("x-request-id"), id);
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}

/// The request inside its span: refused early, or run by the handler within the deadline.
async fn serve(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    request_id: Option<HeaderValue>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // No route has a NUL in its path, and PostgreSQL refuses NUL in text: a path id
    // holding `%00` would otherwise reach a query and come back as a 500 (SECURITY.md
    // §6.5 "path ids: … `%00` → 400/404, no 500").
    if has_encoded_nul(req.path()) {
        return Ok(req.into_response(HttpResponse::NotFound().finish()));
    }
    if let Some(refused) = limits::refusal(&req).await {
        return Ok(req.into_response(refused));
    }
    // Kept for the log line only: a `Uri` clone shares its bytes.
    let uri = req.uri().clone();
    let handled = crate::service::freshness::per_request(next.call(req));
    match tokio::time::timeout(REQUEST_DEADLINE, handled).await {
        Ok(res) => {
            let res = res?;
            Ok(match pages::localized(&res) {
                Some(page) => res.into_response(page),
                None => res.map_into_boxed_body(),
            })
        }
        Err(_) => {
            tracing::warn!(path = %uri.path(), "request exceeded its deadline; answered 503");
            // The request itself is owned by the timed-out handler (and routing needs it
            // unshared, so no second handle can be kept), so the answer is an error
            // response, which passes no further middleware: it is hardened here.
            let mut res = HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "2"))
                .json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "a backing service did not answer in time; retry shortly",
                }));
            harden(res.headers_mut(), request_id);
            Err(actix_web::error::InternalError::from_response("request deadline", res).into())
        }
    }
}

/// The longest any request may take. Every dependency has its own, shorter bound (pool
/// acquire 2 s, PostgreSQL `statement_timeout` 5 s, Redis commands 2 s, LDAP timeouts);
/// this is the backstop for a combination of them or a dependency that stops answering
/// without closing its connection. It stays below the 25 s shutdown drain, so a graceful
/// stop never has to cut a request.
#[cfg(not(test))]
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);
/// Under the unit tests, short enough to exercise the deadline's answer.
#[cfg(test)]
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn tenant_paths_route_as_the_slug_pattern_did_and_nothing_else_enters_the_scope() {
        use actix_web::{App, guard, test, web};
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(edge))
                .service(
                    web::scope("")
                        .guard(guard::fn_guard(is_tenant_request))
                        .route(
                            "/x",
                            web::get().to(|r: actix_web::HttpRequest| async move {
                                format!("tenant {}", r.match_info().get("slug").unwrap())
                            }),
                        )
                        .route(
                            "/sso/{connection}",
                            web::get().to(|p: web::Path<(String, String)>| async move {
                                format!("{} {}", p.0, p.1)
                            }),
                        ),
                )
                .route("/x", web::get().to(|| async { "root" })),
        )
        .await;
        let get = |uri: &'static str| {
            let app = &app;
            async move {
                let res =
                    test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
                let status = res.status().as_u16();
                let body = test::read_body(res).await;
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        assert_eq!(get("/t/acme/x").await, (200, "tenant acme".into()));
        // The requoted path, as the router's pattern saw it.
        assert_eq!(get("/t/a%20b/x").await, (200, "tenant a b".into()));
        assert_eq!(get("/t/a%2Fb/x").await, (200, "tenant a%2Fb".into()));
        assert_eq!(get("/t/acme/sso/corp").await, (200, "acme corp".into()));
        assert_eq!(get("/x").await, (200, "root".into()), "not a tenant path");
        assert_eq!(get("/t//x").await.0, 404, "an empty slug");
        assert_eq!(get("/t/acme").await.0, 404, "no endpoint");
        assert_eq!(get("/t/acme/y").await.0, 404, "an unknown endpoint");
        assert_eq!(get("/tt/acme/x").await.0, 404);
    }

    #[test]
    fn request_ids_are_twenty_hex_digits_and_unique() {
        let (a, b) = (next_request_id(), next_request_id());
        assert_eq!(a.len(), 20);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(a[..8], b[..8], "one prefix per process");
        let (na, nb) = (
            u64::from_str_radix(&a[8..], 16).unwrap(),
            u64::from_str_radix(&b[8..], 16).unwrap(),
        );
        assert!(nb > na);
    }

    #[test]
    fn request_ids_stay_unique_across_threads_and_their_counter_blocks() {
        // Each thread takes counter values in blocks of 1,024; 3,000 ids per thread cross
        // block boundaries while the other threads take blocks too.
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..3_000).map(|_| next_request_id()).collect()))
            .collect();
        let mut all = std::collections::HashSet::new();
        for t in threads {
            let ids: Vec<String> = t.join().unwrap();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "in order within a thread"
            );
            all.extend(ids);
        }
        assert_eq!(all.len(), 12_000);
    }

    #[actix_web::test]
    async fn a_request_past_its_deadline_gets_a_503_with_the_security_headers() {
        use actix_web::{App, test, web};
        let app = test::init_service(App::new().wrap(actix_web::middleware::from_fn(edge)).route(
            "/slow",
            web::get().to(|| async {
                tokio::time::sleep(REQUEST_DEADLINE * 2).await;
                HttpResponse::Ok().finish()
            }),
        ))
        .await;
        // The deadline's answer is an error response, which actix-web sends as it is.
        let err = test::try_call_service(&app, test::TestRequest::get().uri("/slow").to_request())
            .await
            .expect_err("the deadline's answer");
        let res = err.error_response();
        assert_eq!(
            res.status(),
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        );
        let h = res.headers();
        assert_eq!(h.get(header::RETRY_AFTER).unwrap(), "2");
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(h.get(header::CONTENT_SECURITY_POLICY).unwrap(), API_CSP);
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert!(h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert!(h.contains_key("x-request-id"));
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }

    #[test]
    fn json_and_jwt_are_api_documents_and_pages_and_redirects_are_not() {
        let api = |ct: &str| is_api_document(Some(&HeaderValue::from_str(ct).unwrap()));
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/jwt",
            "application/jwk-set+json",
            "application/problem+json",
        ] {
            assert!(api(ct), "{ct}");
        }
        for ct in [
            "text/html; charset=utf-8",
            "text/plain",
            "application/+json",
            "application/javascript",
            "image/svg+xml",
            "text/json+html",
        ] {
            assert!(!api(ct), "{ct}");
        }
        assert!(!is_api_document(None), "a redirect has no body type");
    }
}

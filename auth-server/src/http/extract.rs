//! Request extraction: the tenant from the path, strict form parsing (duplicates
//! refused), client authentication as presented, bearer tokens and request metadata.

use super::protocol::error::OAuthError;
use crate::domain::Subscription;
use crate::service::clients::Presented;
use crate::service::{Ctx, tenants};
use crate::store::StoreError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The subscription named by `{slug}` in the path.
#[derive(Debug, Clone)]
pub struct Tenant(pub Arc<Subscription>);

/// An unknown tenant (404) or an unavailable store (503).
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// No such subscription.
    #[error("unknown issuer")]
    NotFound,
    /// The database is down.
    #[error("temporarily unavailable")]
    Unavailable,
}

impl ResponseError for TenantError {
    fn error_response(&self) -> HttpResponse {
        match self {
            TenantError::NotFound => HttpResponse::NotFound().json(
                serde_json::json!({"error": "not_found", "error_description": "unknown issuer"}),
            ),
            TenantError::Unavailable => HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "2"))
                .json(serde_json::json!({"error": "temporarily_unavailable"})),
        }
    }
}

impl FromRequest for Tenant {
    type Error = TenantError;
    type Future = Pin<Box<dyn Future<Output = Result<Tenant, TenantError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let slug = req.match_info().get("slug").unwrap_or_default().to_owned();
        // The worker's own `Data` handle, not the `Ctx` inside: every worker shares that
        // one, and a clone of it per request moved its reference count's cache line
        // between the cores (docs/performance.md, session 14).
        let ctx = req.app_data::<web::Data<Ctx>>().cloned();
        Box::pin(async move {
            let ctx = ctx.ok_or(TenantError::Unavailable)?;
            match tenants::resolve(&ctx, &slug).await {
                Ok(s) => Ok(Tenant(s)),
                Err(StoreError::NotFound) => Err(TenantError::NotFound),
                Err(_) => Err(TenantError::Unavailable),
            }
        })
    }
}

/// Form or query parameters with every name at most once, except `resource`
/// (RFC 8707 allows several), which is collected apart.
#[derive(Debug, Default)]
pub struct Params {
    /// Single-valued parameters.
    pub map: HashMap<String, String>,
    /// All `resource` values.
    pub resources: Vec<String>,
}

impl Params {
    /// Parse `application/x-www-form-urlencoded` text; a repeated name is `Err(name)`.
    /// Empty values count as absent (RFC 6749 §3.1).
    pub fn parse(text: &str) -> Result<Params, String> {
        // Decoded straight into the map: this runs on every token and introspection
        // request, and a serde round trip through a list of pairs cost a few per cent of
        // introspection. Like every form decoder, bad percent-escapes decode lossily.
        // Sized for the usual requests (introspection: 1–4 parameters; token: up to 8),
        // so the map does not grow twice on the way.
        let mut p = Params {
            map: HashMap::with_capacity(8),
            resources: Vec::new(),
        };
        for (k, v) in pairs(text) {
            if k == "resource" {
                p.resources.push(v.into_owned());
                continue;
            }
            if v.is_empty() {
                continue;
            }
            match p.map.entry(k.into_owned()) {
                Entry::Occupied(e) => return Err(e.key().clone()),
                Entry::Vacant(e) => {
                    e.insert(v.into_owned());
                }
            }
        }
        Ok(p)
    }

    /// A parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
}

/// The decoded (name, value) pairs of form text, exactly as `form_urlencoded::parse`
/// yields them. A pair with no `%` or `+` has nothing to decode and is borrowed as it is:
/// tokens and client ids never need decoding, and the crate's byte-at-a-time decoding and
/// UTF-8 re-validation of an access token were a sixth of an introspection's
/// instructions (docs/performance.md, session 13).
fn pairs(text: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            if memchr::memchr2(b'%', b'+', pair.as_bytes()).is_none() {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((Cow::Borrowed(k), Cow::Borrowed(v)))
            } else {
                form_urlencoded::parse(pair.as_bytes()).next()
            }
        })
}

/// Most parameters a protocol form body may carry. The largest legitimate request (a
/// token exchange with client assertion and several `resource`s) has about 15; the cap
/// bounds the parsing work an attacker can ask for within the 64 KB body limit.
pub const MAX_PARAMS: usize = 64;

/// Parse a form body of a protocol endpoint (`invalid_request` on anything odd).
pub fn form(req: &HttpRequest, body: &web::Bytes) -> Result<Params, OAuthError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    const FORM: &str = "application/x-www-form-urlencoded";
    if !ct
        .get(..FORM.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(FORM))
    {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::bad_request("invalid_request", "the body is not UTF-8"))?;
    if text.split('&').count() > MAX_PARAMS {
        return Err(OAuthError::bad_request(
            "invalid_request",
            format!("more than {MAX_PARAMS} parameters"),
        ));
    }
    Params::parse(text).map_err(|name| {
        OAuthError::bad_request(
            "invalid_request",
            format!("parameter {name} appears more than once"),
        )
    })
}

/// Client credentials as presented (RFC 6749 §2.3.1, RFC 7523). Using two methods at
/// once, or a body `client_id` that differs from Basic's, is `invalid_request`.
pub fn client_auth(req: &HttpRequest, p: &Params) -> Result<Presented, OAuthError> {
    let basic = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(h) if h.len() > 6 && h[..6].eq_ignore_ascii_case("basic ") => {
            Some(decode_basic(&h[6..]).ok_or_else(|| OAuthError::invalid_client("token"))?)
        }
        _ => None,
    };
    let body_secret = p.get("client_secret");
    let assertion = p.get("client_assertion");
    let body_id = p.get("client_id");
    match (basic, body_secret, assertion) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => {
            Err(OAuthError::bad_request(
                "invalid_request",
                "use exactly one client authentication method",
            ))
        }
        (Some((id, secret)), None, None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "client_id differs from the Authorization header",
                ));
            }
            Ok(Presented::Basic {
                client_id: id,
                secret,
            })
        }
        (None, Some(secret), None) => match body_id {
            Some(id) => Ok(Presented::Post {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            None => Err(OAuthError::invalid_client("token")),
        },
        (None, None, Some(a)) => {
            if p.get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(OAuthError::bad_request(
                    "invalid_request",
                    "unsupported client_assertion_type",
                ));
            }
            Ok(Presented::Assertion {
                client_id: body_id.map(str::to_owned),
                assertion: a.to_owned(),
            })
        }
        (None, None, None) => Ok(match body_id {
            Some(id) => Presented::Public {
                client_id: id.to_owned(),
            },
            None => Presented::Missing,
        }),
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(b64: &str) -> Option<(String, String)> {
    use base64::DecodeSliceError;
    let b64 = b64.trim();
    let engine = base64::engine::general_purpose::STANDARD;
    // Decoded on the stack: every authenticated token and introspection request carries
    // these. Longer credentials (never seen in practice) take the heap.
    let mut stack = [0u8; 384];
    let heap;
    let raw: &[u8] = match engine.decode_slice(b64, &mut stack) {
        Ok(n) => &stack[..n],
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            heap = engine.decode(b64).ok()?;
            &heap
        }
        Err(DecodeSliceError::DecodeError(_)) => return None,
    };
    let text = std::str::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_value(id), form_value(secret)))
}

/// One `application/x-www-form-urlencoded` value, whole: `+` is a space, `%XX` a byte,
/// invalid UTF-8 replaced (as form decoding does).
fn form_value(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    let spaced = s.replace('+', " ");
    String::from_utf8_lossy(&percent_encoding::percent_decode_str(&spaced).collect::<Vec<u8>>())
        .into_owned()
}

/// The bearer token of the `Authorization` header (scheme case-insensitive, RFC 9110).
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    (h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ")).then(|| h[7..].trim().to_owned())
}

/// The request id set by the logging middleware, and the client address (the peer, or
/// the client a trusted proxy names).
pub fn meta(req: &HttpRequest) -> (Option<String>, Option<String>) {
    let request_id = req
        .extensions()
        .get::<super::middleware::RequestId>()
        .map(|r| r.0.clone());
    let ip = super::limits::client_ip(req).map(|a| a.to_string());
    (request_id, ip)
}

use actix_web::HttpMessage;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The fast path changes nothing: every form decodes as `form_urlencoded` does.
        #[test]
        fn pairs_decode_as_form_urlencoded_does(text in "([a-z%+=&2-9A-F\u{e9}]|%[0-9A-Fa-f]{2}){0,40}") {
            let ours: Vec<_> = pairs(&text).collect();
            let theirs: Vec<_> = form_urlencoded::parse(text.as_bytes()).collect();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn an_undecoded_pair_is_borrowed_and_a_coded_one_decoded() {
        let got: Vec<_> = pairs("token=abc.def-_~&&flag&a+b=%C3%A9%2B&x==y").collect();
        assert_eq!(
            got,
            [
                ("token", "abc.def-_~"),
                ("flag", ""),
                ("a b", "é+"),
                ("x", "=y")
            ]
            .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
        );
        assert!(matches!(got[0], (Cow::Borrowed(_), Cow::Borrowed(_))));
    }

    #[test]
    fn basic_credentials_are_form_decoded_whole() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            decode_basic(&enc("my%20app:s%2Bcr+t%3A&x")),
            Some(("my app".into(), "s+cr t:&x".into()))
        );
        assert_eq!(
            decode_basic(&enc("plain:secret")),
            Some(("plain".into(), "secret".into()))
        );
        assert_eq!(decode_basic(&enc("no-colon")), None);
        assert_eq!(
            decode_basic(&enc("id:%FF")),
            Some(("id".into(), "\u{FFFD}".into()))
        );
    }

    #[test]
    fn values_are_form_decoded() {
        let p = Params::parse("a=%2B+b&c=%E2%82%AC&d=x%3Dy%26z").unwrap();
        assert_eq!((p.get("a"), p.get("c")), (Some("+ b"), Some("€")));
        assert_eq!(p.get("d"), Some("x=y&z"));
    }

    #[test]
    fn duplicate_parameters_are_refused_but_resources_add_up() {
        assert_eq!(Params::parse("a=1&a=2").unwrap_err(), "a");
        let p = Params::parse("resource=x&resource=y&a=&b=1").unwrap();
        assert_eq!(p.resources, vec!["x", "y"]);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let enc = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%2B%25%3A");
        assert_eq!(decode_basic(&enc), Some(("my:id".into(), "s+%:".into())));
        assert_eq!(decode_basic("!!"), None);
    }

    #[test]
    fn long_basic_credentials_decode_and_bad_ones_do_not() {
        let enc = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        // Around the stack buffer's size: the heap takes over without a difference.
        for len in [382, 383, 384, 385, 4000] {
            let secret = "s".repeat(len);
            assert_eq!(
                decode_basic(&enc(format!("id:{secret}").as_bytes())),
                Some(("id".into(), secret)),
                "{len}"
            );
        }
        assert_eq!(decode_basic(&enc(b"id:\xff\xfe")), None, "not UTF-8");
        let long_garbage = "!".repeat(1000);
        assert_eq!(decode_basic(&long_garbage), None);
    }
}

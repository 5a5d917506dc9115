//! `OAuthError`: the RFC 6749 §5.2 JSON error of the protocol endpoints, mapped once
//! from the service's [`FlowError`].

use crate::service::FlowError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// An RFC 6749 / 6750 / 7009 / 8707 error response.
#[derive(Debug)]
pub struct OAuthError {
    /// The error code.
    pub code: &'static str,
    /// A description (ASCII, no CR/LF/TAB, never internals).
    pub description: Option<String>,
    /// HTTP status.
    pub status: StatusCode,
    /// `WWW-Authenticate` value, if any.
    pub www_authenticate: Option<String>,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)
    }
}

/// Keep descriptions within RFC 6749's allowed characters (%x20-21 / %x23-5B / %x5D-7E).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

impl OAuthError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: Some(sanitize(&description.into())),
            status: StatusCode::BAD_REQUEST,
            www_authenticate: None,
            retry_after: None,
        }
    }

    /// 401 `invalid_client` with the challenge of the scheme that was (or should be) used.
    pub fn invalid_client(realm: &str) -> Self {
        OAuthError {
            code: "invalid_client",
            description: Some("client authentication failed".into()),
            status: StatusCode::UNAUTHORIZED,
            www_authenticate: Some(format!("Basic realm=\"{realm}\"")),
            retry_after: None,
        }
    }

    /// Map a service error at an endpoint whose Basic realm is `realm`.
    pub fn from_flow(e: FlowError, realm: &str) -> Self {
        match e {
            FlowError::InvalidRequest(d) => Self::bad_request("invalid_request", d),
            FlowError::InvalidClient(reason) => {
                tracing::info!(reason, "client authentication failed");
                Self::invalid_client(realm)
            }
            FlowError::ClientBlocked => OAuthError {
                description: Some(
                    "an administrator of this subscription has blocked this client".into(),
                ),
                ..Self::invalid_client(realm)
            },
            FlowError::InvalidGrant(d) => Self::bad_request("invalid_grant", d),
            FlowError::UnauthorizedClient(d) => Self::bad_request("unauthorized_client", d),
            FlowError::UnsupportedGrantType => {
                Self::bad_request("unsupported_grant_type", "grant_type is not supported")
            }
            FlowError::InvalidScope(d) => Self::bad_request("invalid_scope", d),
            FlowError::InvalidTarget(d) => Self::bad_request("invalid_target", d),
            FlowError::UnsupportedTokenType => Self::bad_request(
                "unsupported_token_type",
                "this token type cannot be revoked",
            ),
            FlowError::InvalidToken => OAuthError {
                code: "invalid_token",
                description: None,
                status: StatusCode::UNAUTHORIZED,
                www_authenticate: Some("Bearer error=\"invalid_token\"".into()),
                retry_after: None,
            },
            FlowError::InsufficientScope => OAuthError {
                code: "insufficient_scope",
                description: None,
                status: StatusCode::FORBIDDEN,
                www_authenticate: Some("Bearer error=\"insufficient_scope\"".into()),
                retry_after: None,
            },
            FlowError::SlowDown {
                retry_after,
                reason,
            } => OAuthError {
                code: "slow_down",
                description: Some(sanitize(&reason)),
                status: StatusCode::TOO_MANY_REQUESTS,
                www_authenticate: None,
                retry_after: Some(retry_after),
            },
            FlowError::Unavailable => OAuthError {
                code: "temporarily_unavailable",
                description: Some("a backing service is unavailable; retry shortly".into()),
                status: StatusCode::SERVICE_UNAVAILABLE,
                www_authenticate: None,
                retry_after: None,
            },
            FlowError::Internal(e) => {
                tracing::error!(error.cause_chain = ?e, "internal error");
                OAuthError {
                    code: "server_error",
                    description: None,
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    www_authenticate: None,
                    retry_after: None,
                }
            }
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = serde_json::json!({"error": self.code});
        if let Some(d) = &self.description {
            body["error_description"] = d.clone().into();
        }
        let mut r = HttpResponse::build(self.status);
        r.insert_header((header::CACHE_CONTROL, super::NO_STORE));
        if let Some(w) = &self.www_authenticate
            && let Ok(v) = HeaderValue::from_str(w)
        {
            r.insert_header((header::WWW_AUTHENTICATE, v));
        }
        if let Some(secs) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, secs.to_string()));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.insert_header((header::RETRY_AFTER, "2"));
        }
        r.json(body)
    }
}

/// 405 with `Allow: POST` for any other method on a POST-only protocol endpoint (token,
/// introspection, revocation), in the endpoint's JSON error shape.
pub async fn post_only() -> HttpResponse {
    let mut r = OAuthError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        ..OAuthError::bad_request("invalid_request", "this endpoint accepts POST only")
    }
    .error_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

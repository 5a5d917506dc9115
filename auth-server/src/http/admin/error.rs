//! `ApiError`: `{error, field, message}` with 400/401/403/404/409/413/500/503, mapped
//! once from [`AdminError`].

use crate::service::AdminError;
use crate::service::admin::AdminAuthError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// An admin API error body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Machine-readable kind: `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, …
    pub error: &'static str,
    /// The offending field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, for a human.
    pub message: String,
    #[serde(skip)]
    status: u16,
}

impl ApiError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        error: &'static str,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            error,
            field,
            message: message.into(),
            status: status.as_u16(),
        }
    }

    /// 400 naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some(field.into()),
            message,
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if self.status == 401 {
            r.insert_header(("WWW-Authenticate", "Bearer"));
        }
        r.json(self)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Validation(v) => ApiError::invalid(v.field, v.message),
            AdminError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", None, "no such resource")
            }
            AdminError::Conflict(field) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                Some(field.into()),
                format!("this {field} is already taken"),
            ),
            AdminError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                None,
                "not allowed for this token",
            ),
            AdminError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                None,
                "a backing service is unavailable; retry shortly",
            ),
            AdminError::Internal(e) => {
                tracing::error!(error.cause_chain = ?e, "internal error in the admin API");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    None,
                    "internal error",
                )
            }
        }
    }
}

/// A storage failure outside a service call (a handler's direct read): as the services
/// map it.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        AdminError::from(e).into()
    }
}

impl From<AdminAuthError> for ApiError {
    fn from(e: AdminAuthError) -> Self {
        match e {
            AdminAuthError::Unauthorized => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
                e.to_string(),
            ),
            AdminAuthError::Forbidden => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", None, e.to_string())
            }
            AdminAuthError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                None,
                e.to_string(),
            ),
        }
    }
}

impl From<crate::domain::ValidationError> for ApiError {
    fn from(v: crate::domain::ValidationError) -> Self {
        ApiError::invalid(v.field, v.message)
    }
}

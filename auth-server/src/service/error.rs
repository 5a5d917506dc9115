//! Service errors: the expected outcomes of each family of use cases plus `Internal`.

use crate::cache::CacheError;
use crate::domain::ValidationError;
use crate::store::StoreError;

/// Outcomes of the OAuth/OIDC flows, named after their RFC 6749 error codes.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// `invalid_client` (the reason is logged, never sent).
    #[error("invalid_client: {0}")]
    InvalidClient(&'static str),
    /// `invalid_client` for a metadata-document client an admin removed; unlike
    /// [`FlowError::InvalidClient`] the reason is sent: the URL is public and its
    /// developer needs to know that asking the subscription's admins is the way out.
    #[error("invalid_client: an administrator of this subscription has blocked this client")]
    ClientBlocked,
    /// `invalid_grant`.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    /// `unauthorized_client`.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    /// `unsupported_grant_type`.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// `invalid_target` (RFC 8707).
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// `unsupported_token_type` (RFC 7009).
    #[error("unsupported_token_type")]
    UnsupportedTokenType,
    /// The bearer token is not valid (`invalid_token`, RFC 6750).
    #[error("invalid_token")]
    InvalidToken,
    /// The token lacks a needed scope (`insufficient_scope`).
    #[error("insufficient_scope")]
    InsufficientScope,
    /// A per-client quota is exhausted (`slow_down`, HTTP 429 with `Retry-After`).
    #[error("slow_down: {reason}")]
    SlowDown {
        /// Seconds after which a retry can succeed.
        retry_after: u64,
        /// Which limit was hit, for the client's developer.
        reason: String,
    },
    /// A dependency (database, Redis) is down: `temporarily_unavailable` / 503.
    #[error("temporarily unavailable")]
    Unavailable,
    /// A bug or an unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => FlowError::Unavailable,
            StoreError::NotFound => FlowError::InvalidGrant("not found"),
            other => FlowError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<CacheError> for FlowError {
    fn from(e: CacheError) -> Self {
        tracing::warn!(error = %e, "ephemeral store failed");
        FlowError::Unavailable
    }
}

/// Outcomes of the admin use cases.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field is invalid (400).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// No such resource in this subscription (404).
    #[error("not found")]
    NotFound,
    /// A unique value is taken (409), naming the field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The caller may not do this (403).
    #[error("forbidden")]
    Forbidden,
    /// A dependency is down (503).
    #[error("temporarily unavailable")]
    Unavailable,
    /// Unexpected.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AdminError::NotFound,
            StoreError::Unavailable(_) => AdminError::Unavailable,
            StoreError::Conflict { .. } => AdminError::Conflict("resource"),
            other => AdminError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<CacheError> for AdminError {
    fn from(_: CacheError) -> Self {
        AdminError::Unavailable
    }
}

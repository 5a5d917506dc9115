//! The OAuth 2.1 / OIDC flows, one file per grant or endpoint.
//!
//! oxide-auth supplies the PKCE verification (`Pkce::required()`, see [`pkce`]); the
//! flows themselves are written here because oxide-auth's endpoint traits are
//! synchronous, keep codes and tokens in in-process maps (no atomic cross-instance
//! single use, no replay tombstones), know nothing of tenants, and issue neither ID
//! tokens, RFC 9068 JWTs, RFC 9207 `iss` nor introspection/revocation responses.

pub mod authorize;
pub mod client_credentials;
pub mod code;
pub mod issue;
pub mod pkce;
pub mod quota;
pub mod refresh;
pub mod resource;
pub mod revoke;
pub mod token_exchange;

//! The OAuth 2.1 / OIDC flows, one file per grant or endpoint: the domain half.
//!
//! The token endpoint's `authorization_code`, `refresh_token` and `client_credentials`
//! grants run through oxide-auth's state machines (oxide-auth-async, in
//! `http::protocol::oxide`, where all of oxide-auth's types stay). Those machines fix
//! the order of the protocol steps and their checks (client binding, redirect URI,
//! expiry, scope narrowing); our `Registrar`, `Authorizer` and `Issuer` behind them call
//! the functions here, which own what oxide-auth's in-memory primitives cannot do:
//! tenant-scoped clients, atomic single use of codes across instances with replay
//! tombstones ([`code`]), refresh rotation with family revocation and the grace window
//! ([`refresh`]), RFC 9068 JWT access tokens and ID tokens ([`issue`]), RFC 8707
//! resources ([`resource`]) and per-client quotas ([`quota`]).
//!
//! Written beside oxide-auth because it has no notion of them: token exchange
//! (RFC 8693, [`token_exchange`]), revocation ([`revoke`]), and the authorization
//! endpoint ([`authorize`]), whose login, consent, step-up and `prompt`/`max_age`
//! handling spans several pages and transactions that oxide-auth's single-request
//! authorization machine cannot suspend and resume; the code it grants
//! ([`authorize::Next::Code`]) is stored by the HTTP layer through the oxide
//! `Authorizer` (which calls [`code::store`]). PKCE is oxide-auth's `Pkce::required()`
//! ([`pkce`]), the one oxide-auth type outside `http::protocol`, because the
//! authorization request's challenge is validated here.

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

use crate::domain::{Client, GrantType};
use crate::service::FlowError;

/// `unauthorized_client` unless `client` is registered for `grant`.
pub fn allowed(client: &Client, grant: GrantType) -> Result<(), FlowError> {
    if client.spec.allows(grant) {
        return Ok(());
    }
    Err(FlowError::UnauthorizedClient(match grant {
        GrantType::AuthorizationCode => "client may not use authorization_code",
        GrantType::RefreshToken => "client may not use refresh_token",
        GrantType::ClientCredentials => "client may not use client_credentials",
        _ => "client may not use this grant type",
    }))
}

//! The token endpoint's `authorization_code`, `refresh_token` and `client_credentials`
//! grants, run through oxide-auth's state machines (oxide-auth-async 0.2). All of
//! oxide-auth's types stay in this module (and PKCE's in `service::oauth::pkce`).
//!
//! oxide-auth decides the sequence and the protocol checks of each grant: a code must
//! exist, belong to the client and not be expired, and its `redirect_uri` must match;
//! a refresh token must be recovered, belong to the client and not be expired, and its
//! scope may only narrow; a client-credentials request is bound and negotiated through
//! the registrar. Its primitives are ours and wrap the existing services, so nothing
//! lives in oxide-auth's in-process maps:
//!
//! - [`registrar::ClientRegistrar`]: the tenant's client, already authenticated by
//!   `service::clients::authenticate` (secret hashes compared in constant time, cached
//!   clients, `private_key_jwt` with single-use `jti`: oxide-auth's `check` only sees a
//!   client id and a passphrase, so our authentication runs first and `check` confirms
//!   that identity); exact redirect matching with any port only for loopback URIs
//!   (RFC 8252 §7.3) as oxide's `ExactUrl`; scope negotiation.
//! - [`authorizer::CodeAuthorizer`]: codes in our ephemeral store (in-process or Redis):
//!   `authorize` stores, `extract` is the atomic single-use take with a replay tombstone
//!   (a replayed code revokes what its first redemption issued).
//! - [`issuer::TokenIssuer`]: RFC 9068 JWT (or opaque) access tokens, ID tokens,
//!   rotating refresh tokens with family revocation on reuse and the grace window, RFC
//!   8707 resource narrowing.
//!
//! Per-grant data oxide-auth does not model (nonce, auth_time, amr, acr, session id,
//! resources, family, PKCE challenge) travels in the grant's `Extensions`.
//!
//! Beside oxide-auth, because it cannot express them:
//! - client authentication (above) and `unauthorized_client` for a grant type the
//!   client is not registered for (oxide's registrar can only answer `invalid_client`);
//! - our clock: oxide compares `until` with the wall clock, so `until` is set from the
//!   remaining lifetime on ours (the tests drive a manual clock);
//! - exact `redirect_uri` string equality at the token endpoint (oxide compares parsed
//!   URLs, which normalise) and a `redirect_uri` that may be omitted when the
//!   authorization request omitted it (oxide requires one: a placeholder stands in);
//! - the response: oxide's `BearerToken` has no `id_token`, and computes `expires_in`
//!   from the wall clock, so the body is our `TokenResponse`, with `Cache-Control:
//!   no-store`; errors carry our exact codes and descriptions ([`Failure`]) and a 401
//!   `invalid_client` carries `WWW-Authenticate`;
//! - token exchange (RFC 8693), introspection, revocation, discovery, `iss` (RFC 9207)
//!   and the authorization endpoint (see `service::oauth`).

mod authorizer;
mod flow;
mod issuer;
mod registrar;
mod request;

pub use flow::{authorization_code, client_credentials, refresh_token};

use crate::service::FlowError;
use oxide_auth::primitives::grant::GrantExtension;
use std::sync::Mutex;

/// The specific error a primitive met. oxide-auth's primitives can only answer `Err(())`
/// or "not found", which its machines turn into generic codes; the flow reports the
/// recorded error instead. A hint explains a refusal oxide-auth makes itself.
#[derive(Default)]
struct Failure(Mutex<(Option<FlowError>, Option<&'static str>)>);

impl Failure {
    fn slot(&self) -> std::sync::MutexGuard<'_, (Option<FlowError>, Option<&'static str>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record `e` (the first error wins: it is the cause).
    fn set(&self, e: FlowError) {
        let mut slot = self.slot();
        if slot.0.is_none() {
            slot.0 = Some(e);
        }
    }

    /// The recorded error, if any.
    fn take(&self) -> Option<FlowError> {
        self.slot().0.take()
    }

    /// Say why oxide-auth's own `invalid_grant` check will fail.
    fn explain(&self, why: &'static str) {
        self.slot().1 = Some(why);
    }

    /// The explanation, if any.
    fn hint(&self) -> Option<&'static str> {
        self.slot().1
    }
}

/// A key of our data in a grant's `Extensions`.
struct Key(&'static str);

impl GrantExtension for Key {
    fn identifier(&self) -> &'static str {
        self.0
    }
}

/// The PKCE challenge (oxide-auth's own identifier for it).
const PKCE: Key = Key("pkce");
/// The rest of a code's record (JSON): nonce, auth facts, resources, family, session.
const CODE: Key = Key("auth-server/code");

/// oxide-auth's scope of ours (same syntax, RFC 6749 §3.3).
fn to_oxide(scope: &crate::domain::Scope) -> oxide_auth::primitives::scope::Scope {
    let text = scope.to_string();
    text.parse()
        .unwrap_or_else(|_| "".parse().expect("empty scope"))
}

/// Our scope of oxide-auth's.
fn from_oxide(
    scope: &oxide_auth::primitives::scope::Scope,
) -> Result<crate::domain::Scope, FlowError> {
    crate::domain::Scope::parse(&scope.to_string())
        .map_err(|e| FlowError::InvalidScope(e.to_string()))
}

/// oxide-auth's wall-clock `until` for something that expires at `expires_at` on our
/// clock (`now`): expired on ours is expired on oxide's (`expires_at < now` is the same
/// test at one-second resolution).
fn until(expires_at: i64, now: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(expires_at - now + 1)
}

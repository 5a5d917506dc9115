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
//!   `authorize` stores (the authorization endpoint's codes, via [`store_code`]),
//!   `extract` is the atomic single-use take with a replay tombstone (a replayed code
//!   revokes what its first redemption issued).
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

pub use authorizer::store_code;
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

/// oxide-auth's scope of ours (same syntax, RFC 6749 §3.3, so this cannot fail).
fn to_oxide(
    scope: &crate::domain::Scope,
) -> Result<oxide_auth::primitives::scope::Scope, FlowError> {
    scope
        .to_string()
        .parse()
        .map_err(|e| FlowError::Internal(anyhow::anyhow!("scope for oxide-auth: {e}")))
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

#[cfg(test)]
mod tests {
    use super::registrar::ClientRegistrar;
    use super::request::{NO_REDIRECT_URI, TokenRequest};
    use super::*;
    use crate::domain::{
        AuthMethod, Client, ClientSpec, GrantType, RedirectUri, Scope, TokenFormat,
    };
    use crate::http::extract::Params;
    use oxide_auth::code_grant::{accesstoken, client_credentials};
    use oxide_auth::primitives::registrar::{ClientUrl, ExactUrl, RegistrarError};
    use oxide_auth_async::primitives::Registrar;
    use std::borrow::Cow;

    fn client() -> Client {
        Client {
            client_id: "app".into(),
            name: "app".into(),
            secret_hash: None,
            spec: ClientSpec {
                redirect_uris: vec![
                    RedirectUri::parse("https://rp.example/cb", "redirect_uris").unwrap(),
                    RedirectUri::parse("http://127.0.0.1/cb", "redirect_uris").unwrap(),
                ],
                post_logout_redirect_uris: Vec::new(),
                grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
                scope: Scope::parse("openid read write").unwrap(),
                auth_method: AuthMethod::ClientSecretBasic,
                access_token_format: TokenFormat::Jwt,
                access_token_signing_alg: "ES256".into(),
                id_token_signed_response_alg: "RS256".into(),
                introspection: false,
                audience: Vec::new(),
                allowed_resources: Vec::new(),
                skip_consent: true,
                jwks: None,
            },
            ai_access: false,
            enabled: true,
        }
    }

    async fn bind(r: &ClientRegistrar<'_>, uri: &str) -> Result<String, RegistrarError> {
        let url = ExactUrl::new(uri.to_owned()).unwrap();
        r.bound_redirect(ClientUrl {
            client_id: Cow::Borrowed("app"),
            redirect_uri: Some(Cow::Owned(url)),
        })
        .await
        .map(|b| b.redirect_uri.as_str().to_owned())
    }

    #[tokio::test]
    async fn the_registrar_matches_exactly_and_any_port_only_on_loopback() {
        let c = client();
        let failure = Failure::default();
        let r = ClientRegistrar {
            client: &c,
            failure: &failure,
        };
        assert_eq!(
            bind(&r, "https://rp.example/cb").await.unwrap(),
            "https://rp.example/cb"
        );
        assert!(bind(&r, "https://rp.example/cb/").await.is_err());
        assert!(bind(&r, "https://RP.example/cb").await.is_err());
        assert!(bind(&r, "https://rp.example:443/cb").await.is_err());
        assert_eq!(
            bind(&r, "http://127.0.0.1:53127/cb").await.unwrap(),
            "http://127.0.0.1:53127/cb"
        );
        assert!(bind(&r, "http://127.0.0.1:53127/cb2").await.is_err());
        assert!(bind(&r, "http://127.0.0.1.evil.com:5/cb").await.is_err());
        // Another client id is not ours, whatever it presents.
        assert!(r.check("other", None).await.is_err());
        assert!(r.check("app", None).await.is_ok());
    }

    #[tokio::test]
    async fn negotiation_records_our_invalid_scope() {
        let c = client();
        let failure = Failure::default();
        let r = ClientRegistrar {
            client: &c,
            failure: &failure,
        };
        let bound = r
            .bound_redirect(ClientUrl {
                client_id: Cow::Borrowed("app"),
                redirect_uri: None,
            })
            .await
            .unwrap();
        let pre = r
            .negotiate(bound.clone(), Some("read openid".parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(pre.scope.to_string(), "read");
        assert!(
            r.negotiate(bound, Some("admin".parse().unwrap()))
                .await
                .is_err()
        );
        assert!(matches!(failure.take(), Some(FlowError::InvalidScope(_))));
    }

    #[test]
    fn the_request_hides_client_authentication_from_oxide() {
        let params =
            Params::parse("grant_type=client_credentials&client_id=app&client_secret=s&scope=read")
                .unwrap();
        let req = TokenRequest {
            params: &params,
            client_id: "app",
        };
        // oxide-auth would count body credentials as a second set beside the
        // authenticated one and refuse the request.
        assert!(client_credentials::Request::extension(&req, "client_id").is_none());
        assert!(client_credentials::Request::extension(&req, "client_secret").is_none());
        assert!(client_credentials::Request::extension(&req, "client_assertion").is_none());
        assert_eq!(
            client_credentials::Request::scope(&req).as_deref(),
            Some("read")
        );
        let params = Params::parse("grant_type=authorization_code&code=c").unwrap();
        let req = TokenRequest {
            params: &params,
            client_id: "app",
        };
        assert_eq!(
            accesstoken::Request::redirect_uri(&req).as_deref(),
            Some(NO_REDIRECT_URI)
        );
        assert!(NO_REDIRECT_URI.parse::<url::Url>().is_ok());
    }

    #[test]
    fn until_is_expired_exactly_when_our_clock_says_so() {
        let now = 1_000;
        assert!(until(now, now) > chrono::Utc::now());
        assert!(until(now - 1, now) <= chrono::Utc::now());
        assert!(until(now + 60, now) > chrono::Utc::now() + chrono::Duration::seconds(59));
    }

    #[test]
    fn the_first_recorded_error_wins() {
        let f = Failure::default();
        f.set(FlowError::InvalidGrant("first"));
        f.set(FlowError::InvalidGrant("second"));
        assert!(matches!(f.take(), Some(FlowError::InvalidGrant("first"))));
        assert!(f.take().is_none());
    }

    #[test]
    fn scopes_cross_the_boundary_unchanged() {
        let ours = Scope::parse("openid read write").unwrap();
        assert_eq!(from_oxide(&to_oxide(&ours).unwrap()).unwrap(), ours);
    }
}

//! A token request as oxide-auth's three grant machines read it.
//!
//! The client was authenticated before the machine runs (`service::clients`), so the
//! request presents that identity and hides the authentication parameters
//! (`client_id`, `client_secret`, `client_assertion*`): otherwise oxide-auth counts
//! them as a second set of credentials.

use crate::http::extract::Params;
use oxide_auth::code_grant::{accesstoken, client_credentials, refresh};
use std::borrow::Cow;

/// Stands in for a `redirect_uri` the token request may omit because the
/// authorization request omitted it (oxide-auth requires one).
pub(super) const NO_REDIRECT_URI: &str = "urn:auth-server:redirect-uri-omitted";

/// [`NO_REDIRECT_URI`] parsed once: oxide-auth parses an `ExactUrl` each time it is made
/// and again when it becomes the grant's URL, twice per client-credentials request.
pub(super) static NO_REDIRECT_URL: std::sync::LazyLock<Option<url::Url>> =
    std::sync::LazyLock::new(|| NO_REDIRECT_URI.parse().ok());

/// A parsed token request and the client it authenticated as.
pub(super) struct TokenRequest<'a> {
    /// The form parameters (duplicates already refused).
    pub params: &'a Params,
    /// The authenticated client.
    pub client_id: &'a str,
}

impl<'a> TokenRequest<'a> {
    fn param(&self, key: &str) -> Option<Cow<'_, str>> {
        self.params.get(key).map(Cow::Borrowed)
    }

    /// A parameter that is not one of client authentication's.
    fn extension_param(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "client_id" | "client_secret" | "client_assertion" | "client_assertion_type" => None,
            _ => self.param(key),
        }
    }

    /// The already authenticated client, as oxide-auth's "authenticated" credentials.
    fn authenticated(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        Some((Cow::Borrowed(self.client_id), Cow::Borrowed(&[][..])))
    }

    /// The `redirect_uri` sent, or the placeholder.
    pub fn redirect_uri(&self) -> &str {
        self.params.get("redirect_uri").unwrap_or(NO_REDIRECT_URI)
    }
}

impl accesstoken::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.param("code")
    }

    fn authorization(&self) -> accesstoken::Authorization<'_> {
        accesstoken::Authorization::None
    }

    fn client_id(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.client_id))
    }

    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(TokenRequest::redirect_uri(self)))
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.param("grant_type")
    }

    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.extension_param(key)
    }
}

impl refresh::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        self.param("refresh_token")
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.param("scope")
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.param("grant_type")
    }

    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.authenticated()
    }

    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.extension_param(key)
    }
}

impl client_credentials::Request for TokenRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.authenticated()
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.param("scope")
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.param("grant_type")
    }

    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.extension_param(key)
    }
}

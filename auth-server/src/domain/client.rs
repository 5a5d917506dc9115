//! OAuth clients: registration metadata (RFC 7591 names) and the rules that bind them.

use super::{RedirectUri, Scope, ValidationError};
use serde::{Deserialize, Serialize};

/// Grant types a client may be allowed (OAuth 2.1: no implicit, no password).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum GrantType {
    /// `authorization_code` (+ PKCE).
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token`.
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials`.
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// RFC 8693 token exchange (run-as).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// Parse the wire name.
    pub fn parse(s: &str) -> Option<GrantType> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Client authentication at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// Secret in the form body.
    ClientSecretPost,
    /// RFC 7523 signed assertion with the client's registered keys.
    PrivateKeyJwt,
    /// Public client (PKCE only).
    None,
}

/// Access token format per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// RFC 9068 JWT.
    Jwt,
    /// 256-bit random reference token, stored hashed.
    Opaque,
}

/// A registered client as the services use it.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// Public identifier, unique within the subscription.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 (hex) of the secret; `None` for public and `private_key_jwt` clients.
    pub secret_hash: Option<String>,
    /// The rest of the registration.
    pub spec: ClientSpec,
    /// Allowed the `mcp` scope (the subscription's AI client, or marked by an admin).
    pub ai_access: bool,
    /// Disabled clients authenticate nowhere.
    pub enabled: bool,
}

/// The registration metadata an admin sets (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// Exact redirect URIs.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may send the browser.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Allowed grant types.
    pub grant_types: Vec<GrantType>,
    /// The scopes the client may ask for.
    pub scope: Scope,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Access token format.
    pub access_token_format: TokenFormat,
    /// JWS alg of access tokens (`RS256 | ES256 | EdDSA`).
    pub access_token_signing_alg: String,
    /// JWS alg of ID tokens.
    pub id_token_signed_response_alg: String,
    /// May call `/introspect` and `/acl/evaluate`.
    pub introspection: bool,
    /// `aud` of access tokens without `resource`; empty → the client id.
    pub audience: Vec<String>,
    /// RFC 8707 resources the client may ask for.
    pub allowed_resources: Vec<String>,
    /// First-party client: no consent screen.
    pub skip_consent: bool,
    /// JWK set for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
}

impl ClientSpec {
    /// Cross-field rules: public clients cannot use client credentials; the code grant
    /// needs a redirect URI; `private_key_jwt` needs keys.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let has = |g| self.grant_types.contains(&g);
        if self.auth_method == AuthMethod::None && has(GrantType::ClientCredentials) {
            return Err(ValidationError::new(
                "grant_types",
                "a public client (token_endpoint_auth_method none) cannot use client_credentials",
            ));
        }
        if self.auth_method == AuthMethod::PrivateKeyJwt && self.jwks.is_none() {
            return Err(ValidationError::new(
                "jwks",
                "private_key_jwt needs the client's public keys (jwks)",
            ));
        }
        if self.grant_types.is_empty() {
            return Err(ValidationError::new(
                "grant_types",
                "at least one grant type is required",
            ));
        }
        for alg in [
            &self.access_token_signing_alg,
            &self.id_token_signed_response_alg,
        ] {
            if !["RS256", "ES256", "EdDSA"].contains(&alg.as_str()) {
                return Err(ValidationError::new(
                    "id_token_signed_response_alg",
                    "must be RS256, ES256 or EdDSA",
                ));
            }
        }
        Ok(())
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The registered redirect URI matching `requested`, or the only one when none was
    /// sent (OAuth 2.1 §4.1.1: required when several are registered).
    pub fn redirect_uri_for(&self, requested: Option<&str>) -> Option<String> {
        match requested {
            Some(uri) => self
                .redirect_uris
                .iter()
                .find(|r| r.matches(uri))
                .map(|_| uri.to_owned()),
            None if self.redirect_uris.len() == 1 => {
                self.redirect_uris.first().map(|r| r.as_str().to_owned())
            }
            None => None,
        }
    }
}

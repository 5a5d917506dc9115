//! RFC 7591 dynamic client registration: the metadata a client may send and the
//! subscription policy it must meet. Pure: the service does the storing.
//!
//! Policy (SECURITY.md "registration"): redirect URIs are exact and either `https` or
//! `http` on a loopback host (no private-use schemes, no wildcards); a registered client
//! gets only the code and refresh grants (no anonymous machine identities through
//! `client_credentials`); its scopes are a subset of the subscription's registration
//! scopes (default `mcp`); it always sees the consent screen.

use super::{AuthMethod, ClientSpec, GrantType, RedirectUri, Scope, TokenFormat};
use serde::Deserialize;

/// Client metadata of a registration request (RFC 7591 §2). Unknown members are
/// ignored, as §3.1 asks.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientMetadata {
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Display name.
    pub client_name: Option<String>,
    /// Requested grant types (default `authorization_code`).
    pub grant_types: Option<Vec<String>>,
    /// Requested response types (default `code`).
    pub response_types: Option<Vec<String>>,
    /// `none`, `client_secret_basic` (default) or `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// Space-separated scopes (default: all the policy allows).
    pub scope: Option<String>,
    /// `web` (default) or `native`.
    pub application_type: Option<String>,
    /// Home page of the client, shown on the consent page when present.
    pub client_uri: Option<String>,
}

/// Why a registration was refused, with its RFC 7591 §3.2.2 error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// `invalid_redirect_uri`.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata`.
    #[error("invalid_client_metadata: {0}")]
    InvalidMetadata(String),
}

/// An RFC 7592 §2.2 update: the client's complete metadata (anything omitted takes its
/// default, as at registration) plus its `client_id`, and optionally its current
/// `client_secret`. The read-only members of the information response
/// (`registration_access_token`, `registration_client_uri`, `client_id_issued_at`,
/// `client_secret_expires_at`) are ignored, so a client may send back what it read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateRequest {
    /// Must equal the client being updated.
    pub client_id: Option<String>,
    /// When present, must equal the current secret: a client cannot choose its secret.
    pub client_secret: Option<String>,
    /// The replacement metadata.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

/// Validate an RFC 7592 update of `client_id`, whose registration is `current`, under
/// the same policy as a registration; returns the new name and registration. The
/// authentication method cannot change: that would need a secret to appear or vanish,
/// and the secret stays as issued (register a new client instead).
pub fn validate_update(
    req: &UpdateRequest,
    client_id: &str,
    current: &ClientSpec,
    policy_scope: &Scope,
) -> Result<(String, ClientSpec), RegistrationError> {
    match req.client_id.as_deref() {
        Some(id) if id == client_id => {}
        Some(_) => {
            return Err(RegistrationError::InvalidMetadata(
                "client_id does not match the client being updated".into(),
            ));
        }
        None => {
            return Err(RegistrationError::InvalidMetadata(
                "client_id is required in an update (RFC 7592 §2.2)".into(),
            ));
        }
    }
    let (name, spec) = validate(&req.metadata, policy_scope)?;
    if spec.auth_method != current.auth_method {
        return Err(RegistrationError::InvalidMetadata(format!(
            "token_endpoint_auth_method cannot change from {} (register a new client instead)",
            method_name(current.auth_method)
        )));
    }
    Ok((name, spec))
}

fn method_name(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::ClientSecretBasic => "client_secret_basic",
        AuthMethod::ClientSecretPost => "client_secret_post",
        AuthMethod::PrivateKeyJwt => "private_key_jwt",
        AuthMethod::None => "none",
    }
}

const LOOPBACK: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// A redirect URI a registered client may use: exact, `https`, or `http` on loopback.
pub fn registrable_redirect_uri(value: &str) -> Result<RedirectUri, RegistrationError> {
    let uri = RedirectUri::parse(value, "redirect_uris")
        .map_err(|e| RegistrationError::InvalidRedirectUri(e.message))?;
    let url = url::Url::parse(value)
        .map_err(|_| RegistrationError::InvalidRedirectUri(format!("{value:?}: not a URI")))?;
    let loopback = url.host_str().is_some_and(|h| LOOPBACK.contains(&h));
    match url.scheme() {
        "https" => Ok(uri),
        "http" if loopback => Ok(uri),
        _ => Err(RegistrationError::InvalidRedirectUri(format!(
            "{value:?}: registered clients need https or a loopback http redirect URI"
        ))),
    }
}

/// Validate `m` against the registration `policy_scope`; returns the display name,
/// the client's registration and whether it gets AI (`mcp`) access.
pub fn validate(
    m: &ClientMetadata,
    policy_scope: &Scope,
) -> Result<(String, ClientSpec), RegistrationError> {
    let bad = |s: &str| Err(RegistrationError::InvalidMetadata(s.to_owned()));
    if m.redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris is required (the authorization code grant needs one)".into(),
        ));
    }
    if m.redirect_uris.len() > 10 {
        return Err(RegistrationError::InvalidRedirectUri(
            "at most 10 redirect URIs".into(),
        ));
    }
    let redirect_uris = m
        .redirect_uris
        .iter()
        .map(|u| registrable_redirect_uri(u))
        .collect::<Result<Vec<_>, _>>()?;
    let auth_method = match m.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
        Some("client_secret_post") => AuthMethod::ClientSecretPost,
        Some("none") => AuthMethod::None,
        Some(_) => {
            return bad(
                "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
            );
        }
    };
    let mut grant_types = Vec::new();
    for g in m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into()])
    {
        match GrantType::parse(&g) {
            Some(t @ (GrantType::AuthorizationCode | GrantType::RefreshToken)) => {
                if !grant_types.contains(&t) {
                    grant_types.push(t);
                }
            }
            _ => {
                return bad(
                    "grant_types: registered clients may use only authorization_code and refresh_token",
                );
            }
        }
    }
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return bad("grant_types must include authorization_code");
    }
    if let Some(rt) = &m.response_types
        && rt.iter().any(|r| r != "code")
    {
        return bad("response_types: only code is supported");
    }
    if let Some(a) = &m.application_type
        && a != "web"
        && a != "native"
    {
        return bad("application_type must be web or native");
    }
    let scope = match &m.scope {
        None => policy_scope.clone(),
        Some(s) => {
            let asked = Scope::parse(s)
                .map_err(|e| RegistrationError::InvalidMetadata(format!("scope: {e}")))?;
            if !asked.is_subset(policy_scope) {
                return Err(RegistrationError::InvalidMetadata(format!(
                    "scope: this subscription lets registered clients ask for {policy_scope} only"
                )));
            }
            asked
        }
    };
    let name = m
        .client_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "registered client".into());
    if name.chars().count() > 200 {
        return bad("client_name is longer than 200 characters");
    }
    let spec = ClientSpec {
        redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        grant_types,
        scope,
        auth_method,
        access_token_format: TokenFormat::Jwt,
        access_token_signing_alg: "RS256".into(),
        id_token_signed_response_alg: "RS256".into(),
        introspection: false,
        audience: Vec::new(),
        allowed_resources: Vec::new(),
        skip_consent: false,
        jwks: None,
    };
    Ok((name, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uris: &[&str]) -> ClientMetadata {
        ClientMetadata {
            redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        }
    }

    fn mcp() -> Scope {
        Scope::parse("mcp").unwrap()
    }

    #[test]
    fn https_and_loopback_redirects_are_accepted_with_the_policy_scope() {
        let (_, spec) = validate(
            &meta(&[
                "https://app.example/cb",
                "http://127.0.0.1:33418/cb",
                "http://localhost/cb",
            ]),
            &mcp(),
        )
        .unwrap();
        assert_eq!(spec.scope.to_string(), "mcp");
        assert_eq!(spec.grant_types, vec![GrantType::AuthorizationCode]);
        assert!(!spec.skip_consent);
    }

    #[test]
    fn http_non_loopback_wildcards_and_private_schemes_are_invalid_redirect_uris() {
        for bad in [
            "http://app.example/cb",
            "https://*.example/cb",
            "com.example.app:/cb",
            "https://app.example/cb#f",
        ] {
            assert!(
                matches!(
                    validate(&meta(&[bad]), &mcp()),
                    Err(RegistrationError::InvalidRedirectUri(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate(&meta(&[]), &mcp()),
            Err(RegistrationError::InvalidRedirectUri(_))
        ));
    }

    fn update(client_id: Option<&str>, method: &str) -> UpdateRequest {
        UpdateRequest {
            client_id: client_id.map(str::to_owned),
            client_secret: None,
            metadata: ClientMetadata {
                token_endpoint_auth_method: Some(method.into()),
                ..meta(&["https://app.example/new"])
            },
        }
    }

    #[test]
    fn an_update_replaces_the_metadata_under_the_registration_policy() {
        let (_, current) = validate(&meta(&["https://app.example/cb"]), &mcp()).unwrap();
        let (name, spec) =
            validate_update(&update(Some("c1"), "none"), "c1", &current, &mcp()).unwrap();
        assert_eq!(name, "registered client");
        assert_eq!(spec.redirect_uris[0].as_str(), "https://app.example/new");
        for (req, why) in [
            (update(None, "none"), "required"),
            (update(Some("c2"), "none"), "does not match"),
            (update(Some("c1"), "client_secret_basic"), "cannot change"),
        ] {
            let e = validate_update(&req, "c1", &current, &mcp()).unwrap_err();
            assert!(
                matches!(&e, RegistrationError::InvalidMetadata(m) if m.contains(why)),
                "{e}"
            );
        }
        let mut bad = update(Some("c1"), "none");
        bad.metadata.redirect_uris = vec!["http://app.example/cb".into()];
        assert!(matches!(
            validate_update(&bad, "c1", &current, &mcp()),
            Err(RegistrationError::InvalidRedirectUri(_))
        ));
    }

    #[test]
    fn client_credentials_and_scopes_beyond_the_policy_are_refused() {
        let mut m = meta(&["https://app.example/cb"]);
        m.grant_types = Some(vec!["client_credentials".into()]);
        assert!(matches!(
            validate(&m, &mcp()),
            Err(RegistrationError::InvalidMetadata(_))
        ));
        let mut m = meta(&["https://app.example/cb"]);
        m.scope = Some("mcp admin".into());
        assert!(matches!(
            validate(&m, &mcp()),
            Err(RegistrationError::InvalidMetadata(_))
        ));
        m.token_endpoint_auth_method = Some("private_key_jwt".into());
        m.scope = None;
        assert!(matches!(
            validate(&m, &mcp()),
            Err(RegistrationError::InvalidMetadata(_))
        ));
    }
}

//! Upstream OpenID Connect SSO (openidconnect crate): discovery, authorization code with
//! PKCE, nonce and state, ID token validation, claim mapping.

use crate::domain::connection::Connection;

/// Fetch and validate the upstream discovery document.
pub async fn discover(conn: &Connection) -> Result<openidconnect::core::CoreProviderMetadata, String> {
    let issuer = conn.config.issuer.clone().unwrap_or_default();
    let issuer = openidconnect::IssuerUrl::new(issuer).map_err(|e| format!("bad issuer: {e}"))?;
    let http = http_client()?;
    openidconnect::core::CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| format!("discovery failed: {e}"))
}

/// An HTTP client that never follows redirects (SSRF and mix-up hygiene).
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

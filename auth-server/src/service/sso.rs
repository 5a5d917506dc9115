//! Upstream OpenID Connect SSO (openidconnect crate; OIDC Core §3.1, RFC 7636, RFC 9207).
//!
//! `start` discovers the upstream, stores a single-use transaction (state → connection,
//! nonce, PKCE verifier, our authorization transaction) in the ephemeral store so any
//! instance can finish it, and returns the upstream authorization URL. `finish` consumes
//! the state, refuses a callback on another connection's path or with a foreign `iss`
//! (mix-up, RFC 9700 §4.4), redeems the code with the verifier, validates the ID token
//! (signature, `iss`, `aud`, `exp`, `nonce`), optionally reads userinfo, maps claims and
//! provisions the linked user. Upstream `amr`/`acr` are kept, with `fed` added.

use super::login::{FirstFactor, LoginError};
use super::{Actor, Ctx, FlowError, audit, federation, random};
use crate::directory::rules;
use crate::domain::Subscription;
use crate::domain::connection::{Connection, ConnectionConfig, ConnectionKind};
use base64::Engine;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// How long the user may take at the upstream.
const SSO_TTL: i64 = 600;

/// Why an SSO step failed. `Display` is what the user reads on the error page.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// No enabled OIDC connection of that name.
    #[error("This sign-in option does not exist or is disabled.")]
    UnknownConnection,
    /// The upstream answered with an error (the user cancelled, or it refused).
    #[error("{0}")]
    Denied(String),
    /// Unknown, reused or foreign `state`, or a callback on the wrong path.
    #[error(
        "This sign-in response is not valid (it may have been used already). Start again from your application."
    )]
    InvalidState,
    /// The upstream could not be reached or refused the code (details logged).
    #[error(
        "The sign-in provider could not complete the sign-in. Try again, and contact your administrator if it persists."
    )]
    Upstream(String),
    /// The ID token failed validation (details logged).
    #[error(
        "The sign-in provider's answer could not be verified. Start again from your application."
    )]
    InvalidToken(String),
    /// A login rule refused the user (disabled account…).
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Store or cache failure.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

#[derive(Debug, Serialize, Deserialize)]
struct SsoTx {
    connection_id: String,
    authz_tx: String,
    nonce: String,
    verifier: String,
    created_at: i64,
}

fn key(sub: &Subscription, state: &str) -> String {
    format!("sso:{}:{}", sub.id.0, crate::tokens::hash_token(state))
}

/// Our callback URL for a connection.
pub fn callback_url(ctx: &Ctx, sub: &Subscription, name: &str) -> String {
    format!(
        "{}/sso/{name}/callback",
        ctx.settings.issuer(sub.slug.as_str())
    )
}

/// The HTTP client for one connection's upstream (discovery, token, JWKS, userinfo): it
/// never follows redirects (SSRF and mix-up hygiene) and verifies the upstream's
/// certificate against the connection's `ca_pem`/`ca_file`, or the system roots without
/// one, through the same rustls configuration as LDAPS. Verification is never disabled.
pub fn http_client(config: &ConnectionConfig) -> Result<reqwest::Client, String> {
    let tls = crate::directory::ldap::tls_config(config)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// An error with its sources (`a: b: c`): the openidconnect errors say only "Request
/// failed" and keep the cause (an untrusted certificate, a refused connection) below.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether a request failed in the TLS handshake (the certificate did not verify).
pub fn is_tls_failure(message: &str) -> bool {
    [
        "certificate",
        "UnknownIssuer",
        "tls handshake",
        "TLS handshake",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The RFC 9207 member of an upstream's metadata, which the core metadata type drops:
/// an upstream that advertises it must send `iss` in every authorization response, so
/// an answer without one is refused (RFC 9207 §2.4, SECURITY.md I3).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IssMetadata {
    /// `authorization_response_iss_parameter_supported`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for IssMetadata {}

/// Upstream discovery metadata: the core members plus [`IssMetadata`].
pub type UpstreamMetadata = openidconnect::ProviderMetadata<
    IssMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Fetch and validate the upstream discovery document (its `issuer` must equal the
/// configured one).
pub async fn discover(conn: &Connection) -> Result<UpstreamMetadata, String> {
    let issuer = conn.config.issuer.clone().unwrap_or_default();
    let issuer = IssuerUrl::new(issuer).map_err(|e| format!("bad issuer: {e}"))?;
    let http = http_client(&conn.config)?;
    UpstreamMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| format!("discovery failed: {}", chain(&e)))
}

async fn oidc_connection(
    ctx: &Ctx,
    sub: &Subscription,
    name: &str,
) -> Result<Connection, SsoError> {
    match ctx
        .db(&sub.id)
        .await
        .map_err(|e| SsoError::Flow(e.into()))?
        .repos()
        .connections()
        .by_name(&sub.id, name)
        .await
    {
        Ok(c) if c.enabled && c.kind == ConnectionKind::Oidc => Ok(c),
        Ok(_) | Err(crate::store::StoreError::NotFound) => Err(SsoError::UnknownConnection),
        Err(e) => Err(SsoError::Flow(e.into())),
    }
}

/// Begin an SSO login for the authorization transaction `authz_tx`; returns the
/// upstream authorization URL.
pub async fn start(
    ctx: &Ctx,
    sub: &Subscription,
    name: &str,
    authz_tx: &str,
) -> Result<String, SsoError> {
    let conn = oidc_connection(ctx, sub, name).await?;
    let meta = discover(&conn).await.map_err(SsoError::Upstream)?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(conn.config.client_id.clone().unwrap_or_default()),
        None,
    )
    .set_redirect_uri(
        RedirectUrl::new(callback_url(ctx, sub, &conn.name))
            .map_err(|e| SsoError::Upstream(e.to_string()))?,
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        || CsrfToken::new(random::token(32)),
        || Nonce::new(random::token(32)),
    );
    for s in &conn.config.scopes {
        if s != "openid" {
            req = req.add_scope(Scope::new(s.clone()));
        }
    }
    let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
    let tx = SsoTx {
        connection_id: conn.id.clone(),
        authz_tx: authz_tx.to_owned(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        created_at: ctx.now(),
    };
    let bytes = serde_json::to_vec(&tx).map_err(|e| FlowError::Internal(e.into()))?;
    ctx.cache
        .put(
            &key(sub, state.secret()),
            &bytes,
            Duration::from_secs(SSO_TTL as u64 + 60),
        )
        .await
        .map_err(FlowError::from)?;
    Ok(url.to_string())
}

fn denied_message(conn: &str, error: &str, description: Option<&str>) -> String {
    match error {
        "access_denied" => format!(
            "Signing in with {conn} was cancelled or refused. Go back to your application to try again."
        ),
        "login_required" | "interaction_required" | "consent_required" => {
            format!("{conn} needs you to sign in again. Go back to your application to try again.")
        }
        "temporarily_unavailable" | "server_error" => {
            format!("{conn} is unavailable right now. Try again in a few minutes.")
        }
        _ => format!(
            "{conn} refused the sign-in ({}). Contact your administrator if it persists.",
            description
                .unwrap_or(error)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        ),
    }
}

fn claim_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(claim_values).collect(),
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

/// Finish the SSO login from the callback's query; returns our authorization transaction
/// id and the verified first factor. Every refusal is audited as `login.failed`.
pub async fn finish(
    ctx: &Ctx,
    sub: &Subscription,
    name: &str,
    params: &HashMap<String, String>,
    actor: &Actor,
) -> Result<(String, FirstFactor), SsoError> {
    let result = finish_inner(ctx, sub, name, params, actor).await;
    let reason = match &result {
        Ok(_) | Err(SsoError::Flow(_)) => return result,
        Err(SsoError::UnknownConnection) => "unknown_connection",
        Err(SsoError::Denied(_)) => "upstream_denied",
        Err(SsoError::InvalidState) => "invalid_state",
        Err(SsoError::Upstream(_)) => "upstream_error",
        Err(SsoError::InvalidToken(_)) => "invalid_id_token",
        Err(SsoError::Login(_)) => "account_state",
    };
    let connection: String = name.chars().take(64).collect();
    audit::security(
        ctx,
        &sub.id,
        actor,
        "login.failed",
        ("connection", &connection),
        json!({"reason": reason, "connection": connection}),
    )
    .await;
    result
}

async fn finish_inner(
    ctx: &Ctx,
    sub: &Subscription,
    name: &str,
    params: &HashMap<String, String>,
    actor: &Actor,
) -> Result<(String, FirstFactor), SsoError> {
    let state = params.get("state").ok_or(SsoError::InvalidState)?;
    let bytes = ctx
        .cache
        .take(&key(sub, state))
        .await
        .map_err(FlowError::from)?
        .ok_or(SsoError::InvalidState)?;
    let tx: SsoTx = serde_json::from_slice(&bytes).map_err(|e| FlowError::Internal(e.into()))?;
    if ctx.now() - tx.created_at > SSO_TTL {
        return Err(SsoError::InvalidState);
    }
    let conn = oidc_connection(ctx, sub, name).await?;
    // A response delivered to another connection's callback is a mix-up attempt.
    if conn.id != tx.connection_id {
        return Err(SsoError::InvalidState);
    }
    let expected_issuer = conn.config.issuer.clone().unwrap_or_default();
    if let Some(iss) = params.get("iss")
        && iss.trim_end_matches('/') != expected_issuer.trim_end_matches('/')
    {
        return Err(SsoError::InvalidState);
    }
    if let Some(error) = params.get("error") {
        return Err(SsoError::Denied(denied_message(
            &conn.name,
            error,
            params.get("error_description").map(String::as_str),
        )));
    }
    let code = params.get("code").ok_or(SsoError::InvalidState)?;
    let secret =
        super::connections::resolve_secret(ctx, &sub.id, &conn).map_err(SsoError::Upstream)?;
    let meta = discover(&conn).await.map_err(SsoError::Upstream)?;
    // The `iss` check above compares a present `iss`; this one refuses its absence from an
    // upstream that promised it (a mix-up attacker's answer may simply omit it).
    if meta
        .additional_metadata()
        .authorization_response_iss_parameter_supported
        && !params.contains_key("iss")
    {
        return Err(SsoError::InvalidState);
    }
    let userinfo_url = meta.userinfo_endpoint().map(|u| u.url().to_string());
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(conn.config.client_id.clone().unwrap_or_default()),
        Some(ClientSecret::new(secret.expose_secret().to_owned())),
    )
    .set_redirect_uri(
        RedirectUrl::new(callback_url(ctx, sub, &conn.name))
            .map_err(|e| SsoError::Upstream(e.to_string()))?,
    );
    let http = http_client(&conn.config).map_err(SsoError::Upstream)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| SsoError::Upstream(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(tx.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| SsoError::Upstream(format!("code exchange: {e}")))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| SsoError::InvalidToken("no id_token in the token response".into()))?;
    let verified = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(tx.nonce.clone()))
        .map_err(|e| SsoError::InvalidToken(e.to_string()))?;
    let subject = verified.subject().as_str().to_owned();
    // The signature is verified: the payload's other claims (groups, amr, custom) are
    // now trustworthy too.
    let raw = id_token.to_string();
    let payload = raw
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .ok_or_else(|| SsoError::InvalidToken("unreadable payload".into()))?;
    let mut claims = payload.clone();
    if let Some(url) = userinfo_url {
        // Userinfo is optional: a failure keeps the ID token's claims.
        match http
            .get(url)
            .bearer_auth(token.access_token().secret())
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                if let Ok(Value::Object(info)) = r.json::<Value>().await
                    && info.get("sub").and_then(Value::as_str) == Some(subject.as_str())
                {
                    for (k, v) in info {
                        claims.entry(k).or_insert(v);
                    }
                }
            }
            _ => {
                tracing::info!(connection = %conn.name, "userinfo unavailable; using ID token claims")
            }
        }
    }
    let by_name: BTreeMap<String, Vec<String>> = claims
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), claim_values(v)))
        .collect();
    let mut effective = conn.clone();
    if effective.config.claims.is_empty() {
        effective.config.claims = [("email", "email"), ("name", "name")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
    }
    let profile = rules::map_attributes(&effective.config.claims, &by_name);
    let groups: BTreeSet<String> = conn
        .config
        .groups_claim
        .as_ref()
        .and_then(|c| claims.get(c))
        .map(claim_values)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let login = ["preferred_username", "email"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .unwrap_or(subject.as_str())
        .to_owned();
    let user = federation::provision(
        ctx, &sub.id, &effective, &login, &subject, profile, &groups, false,
    )
    .await?;
    let mut amr: Vec<String> = payload.get("amr").map(claim_values).unwrap_or_default();
    if !amr.iter().any(|m| m == "fed") {
        amr.push("fed".into());
    }
    let acr = payload
        .get("acr")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut actor = actor.clone();
    actor.user_id = Some(user.id.clone());
    audit::security(
        ctx,
        &sub.id,
        &actor,
        "login.succeeded",
        ("user", &user.id),
        json!({"reason": "sso", "connection": conn.name, "amr": amr}),
    )
    .await;
    Ok((
        tx.authz_tx,
        FirstFactor {
            user,
            amr,
            acr,
            connection_id: Some(conn.id),
            standing: None,
        },
    ))
}

//! The console's server-side session: the admin's tokens stay in the ephemeral store
//! (Redis or in-process), the browser holds only a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie, so no script on the page can read a token. Sign-in
//! transactions (PKCE verifier, state) live there too, for ten minutes.

use super::ConsoleError;
use crate::service::Ctx;
use crate::service::random;
use crate::tokens::hash_token;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Absolute lifetime of a console session.
pub const SESSION_TTL: i64 = 8 * 3600;
/// Lifetime of a sign-in transaction.
const LOGIN_TTL: i64 = 600;

/// A signed-in admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The issuer's subscription the admin signed in at.
    pub home: String,
    /// Bearer token for the admin API.
    pub access_token: String,
    /// Refresh token of the console client, if issued.
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: i64,
    /// Anti-CSRF token of every console form.
    pub csrf: String,
    /// When the session ends (Unix seconds).
    pub expires_at: i64,
}

/// A sign-in in progress.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginTx {
    /// The issuer's subscription.
    pub slug: String,
    /// PKCE verifier (RFC 7636).
    pub verifier: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
}

fn session_key(sid: &str) -> String {
    // Hashed so that a dump of the store does not hand out live cookie values.
    format!("console:session:{}", hash_token(sid))
}

fn login_key(state: &str) -> String {
    format!("console:login:{}", hash_token(state))
}

/// The session cookie's name: `__Host-` prefixed over https.
pub fn cookie_name(public_url: &url::Url) -> &'static str {
    if public_url.scheme() == "https" {
        "__Host-console"
    } else {
        "console"
    }
}

/// The session cookie (an empty value with `max_age` 0 removes it).
pub fn cookie(public_url: &url::Url, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(cookie_name(public_url), value)
        .path("/")
        .http_only(true)
        .secure(public_url.scheme() == "https")
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// The session of this request, if any and not expired.
pub async fn current(
    ctx: &Ctx,
    req: &HttpRequest,
) -> Result<Option<(String, Session)>, ConsoleError> {
    let Some(c) = req.cookie(cookie_name(&ctx.settings.public_url)) else {
        return Ok(None);
    };
    let sid = c.value().to_owned();
    let Some(raw) = ctx.cache.get(&session_key(&sid)).await? else {
        return Ok(None);
    };
    let Ok(s) = serde_json::from_slice::<Session>(&raw) else {
        return Ok(None);
    };
    Ok((s.expires_at > ctx.now()).then_some((sid, s)))
}

/// Store a session; a new one gets a fresh id (no fixation).
pub async fn save(ctx: &Ctx, sid: Option<&str>, s: &Session) -> Result<String, ConsoleError> {
    let sid = sid.map_or_else(|| random::token(32), str::to_owned);
    let ttl = (s.expires_at - ctx.now()).max(1) as u64;
    let raw = serde_json::to_vec(s).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    ctx.cache
        .put(&session_key(&sid), &raw, Duration::from_secs(ttl))
        .await?;
    Ok(sid)
}

/// End a session.
pub async fn end(ctx: &Ctx, sid: &str) -> Result<(), ConsoleError> {
    ctx.cache.delete(&session_key(sid)).await?;
    Ok(())
}

/// Start a sign-in: returns `state`.
pub async fn begin_login(ctx: &Ctx, slug: &str, verifier: String) -> Result<String, ConsoleError> {
    let state = random::token(32);
    let tx = LoginTx {
        slug: slug.to_owned(),
        verifier,
        expires_at: ctx.now() + LOGIN_TTL,
    };
    let raw = serde_json::to_vec(&tx).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    ctx.cache
        .put(
            &login_key(&state),
            &raw,
            Duration::from_secs(LOGIN_TTL as u64),
        )
        .await?;
    Ok(state)
}

/// Take a sign-in transaction once (a replayed callback finds nothing).
pub async fn take_login(ctx: &Ctx, state: &str) -> Result<Option<LoginTx>, ConsoleError> {
    let Some(raw) = ctx.cache.take(&login_key(state)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<LoginTx>(&raw)
        .ok()
        .filter(|t| t.expires_at > ctx.now()))
}

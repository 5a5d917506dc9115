//! Browser sessions, authorization transactions and the password first factor.
//!
//! A transaction holds a validated authorization request while the user logs in and
//! consents; it carries the CSRF token of the forms it renders and expires after five
//! minutes (SECURITY.md "auth/login transaction 5 min"). A session is created with a
//! fresh id at every successful login (no fixation) and lives in the ephemeral store.

use super::oauth::authorize::AuthzRequest;
use super::{Actor, Ctx, FlowError, audit, random};
use crate::domain::{Subscription, User, Username};
use crate::store::StoreError;
pub use crate::store::sign_in::Account;
use crate::store::user_sessions::SessionRow;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a login/consent transaction may take.
pub const TX_TTL: i64 = 300;

/// A pending authorization request between `/authorize` and the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthzTx {
    /// The validated request.
    pub request: AuthzRequest,
    /// Anti-CSRF token of the forms of this transaction.
    pub csrf: String,
    /// Creation time; reset when the first factor succeeds, so the second-factor step
    /// has its own five minutes.
    pub created_at: i64,
    /// Set after the first factor while a second-factor step is open.
    #[serde(default)]
    pub pending: Option<super::second_factor::Pending>,
    /// The browser that gave the first factor (recorded with the session it opens).
    #[serde(default)]
    pub device: Device,
}

/// Where a session was opened from, for the admin's list of a user's sessions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Device {
    /// Client IP address (as the trusted proxies report it).
    #[serde(default)]
    pub ip: Option<String>,
    /// `User-Agent`, at most [`Device::MAX_AGENT`] characters, control characters dropped.
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl Device {
    /// The longest user agent kept (real ones are far shorter; the rest is noise).
    pub const MAX_AGENT: usize = 512;

    /// A device from request facts; the user agent is sender-controlled text, so it is
    /// cut and stripped of control characters (it is shown in the console, escaped).
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Device {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_AGENT)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Device { ip, user_agent }
    }
}

/// An authenticated browser session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The user (`sub`).
    pub user_id: String,
    /// When the user last authenticated (OIDC `auth_time`).
    pub auth_time: i64,
    /// Authentication methods (`pwd`, …).
    pub amr: Vec<String>,
    /// Absolute expiry.
    pub expires_at: i64,
    /// Public id of the session: grants issued through it remember it, so logout can
    /// end those without `offline_access`.
    #[serde(default)]
    pub sid: String,
    /// OIDC `acr` (`1fa` / `2fa`, see [`crate::mfa::policy`]).
    #[serde(default)]
    pub acr: Option<String>,
    /// When the last second factor was given (local code or upstream MFA).
    #[serde(default)]
    pub mfa_at: Option<i64>,
    /// Anti-CSRF token of the account pages, bound to this session.
    #[serde(default)]
    pub csrf: String,
    /// Where the session was opened from.
    #[serde(default)]
    pub device: Device,
}

/// What a new session records about how the user authenticated.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    /// `amr` values.
    pub amr: Vec<String>,
    /// `acr` value.
    pub acr: Option<String>,
    /// Time of the second factor, if one was given.
    pub mfa_at: Option<i64>,
    /// The browser opening the session.
    pub device: Device,
}

fn tx_key(sub: &Subscription, id: &str) -> String {
    format!("authz:{}:{}", sub.id.0, id)
}

fn session_key(sub: &Subscription, id: &str) -> String {
    session_key_of(&sub.id, &crate::tokens::hash_token(id))
}

/// The cache key of the session whose cookie hashes to `key_hash` (the index of
/// sessions by user keeps only that hash).
pub fn session_key_of(sub: &crate::domain::SubscriptionId, key_hash: &str) -> String {
    format!("sess:{}:{key_hash}", sub.0)
}

/// Store a new transaction; returns its id.
pub async fn start_tx(
    ctx: &Ctx,
    sub: &Subscription,
    request: AuthzRequest,
) -> Result<(String, AuthzTx), FlowError> {
    let id = random::token(24);
    let tx = AuthzTx {
        request,
        csrf: random::token(24),
        created_at: ctx.now(),
        pending: None,
        device: Device::default(),
    };
    save_tx(ctx, sub, &id, &tx).await?;
    Ok((id, tx))
}

/// Store (replace) a transaction under its id.
pub async fn save_tx(
    ctx: &Ctx,
    sub: &Subscription,
    id: &str,
    tx: &AuthzTx,
) -> Result<(), FlowError> {
    let bytes = serde_json::to_vec(tx).map_err(anyhow::Error::from)?;
    ctx.cache
        .put(
            &tx_key(sub, id),
            &bytes,
            Duration::from_secs(TX_TTL as u64 + 60),
        )
        .await?;
    Ok(())
}

/// A live transaction, or `None` when unknown or older than five minutes.
pub async fn load_tx(
    ctx: &Ctx,
    sub: &Subscription,
    id: &str,
) -> Result<Option<AuthzTx>, FlowError> {
    let Some(bytes) = ctx.cache.get(&tx_key(sub, id)).await? else {
        return Ok(None);
    };
    let tx: AuthzTx = serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
    Ok((ctx.now() - tx.created_at <= TX_TTL).then_some(tx))
}

/// A transaction whatever its age (the second-factor step restarts an expired login
/// with the same authorization request), or `None` when unknown.
pub async fn load_tx_any(
    ctx: &Ctx,
    sub: &Subscription,
    id: &str,
) -> Result<Option<AuthzTx>, FlowError> {
    let Some(bytes) = ctx.cache.get(&tx_key(sub, id)).await? else {
        return Ok(None);
    };
    Ok(Some(
        serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?,
    ))
}

/// Consume a transaction (single use: a replayed consent form finds nothing).
pub async fn take_tx(
    ctx: &Ctx,
    sub: &Subscription,
    id: &str,
) -> Result<Option<AuthzTx>, FlowError> {
    let Some(bytes) = ctx.cache.take(&tx_key(sub, id)).await? else {
        return Ok(None);
    };
    let tx: AuthzTx = serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
    Ok((ctx.now() - tx.created_at <= TX_TTL).then_some(tx))
}

/// The session behind a cookie value, if live.
pub async fn session(
    ctx: &Ctx,
    sub: &Subscription,
    cookie: &str,
) -> Result<Option<Session>, FlowError> {
    let Some(bytes) = ctx.cache.get(&session_key(sub, cookie)).await? else {
        return Ok(None);
    };
    let s: Session = serde_json::from_slice(&bytes).map_err(anyhow::Error::from)?;
    Ok((s.expires_at > ctx.now()).then_some(s))
}

/// Create a session recording `facts` (always a new id); returns the cookie value and
/// the session.
pub async fn create_session_with(
    ctx: &Ctx,
    sub: &Subscription,
    user_id: &str,
    facts: SessionFacts,
) -> Result<(String, Session), FlowError> {
    let id = random::token(32);
    let now = ctx.now();
    let s = Session {
        user_id: user_id.to_owned(),
        auth_time: now,
        amr: facts.amr,
        expires_at: now + ctx.settings.session_ttl as i64,
        sid: random::token(16),
        acr: facts.acr,
        mfa_at: facts.mfa_at,
        csrf: random::token(24),
        device: facts.device,
    };
    put_session(ctx, sub, &id, &s).await?;
    Ok((id, s))
}

/// Rewrite a live session in place (step-up keeps its id and `sid`), and record it in
/// the index of sessions by user (so an admin can list and end it).
pub async fn put_session(
    ctx: &Ctx,
    sub: &Subscription,
    cookie: &str,
    s: &Session,
) -> Result<(), FlowError> {
    let bytes = serde_json::to_vec(s).map_err(anyhow::Error::from)?;
    let key_hash = crate::tokens::hash_token(cookie);
    // Indexed first: a session in the cache but not in the index could not be ended by
    // an admin; the reverse is harmless (a row without its entry is listed as nothing).
    if !s.sid.is_empty() {
        let row = SessionRow {
            sid: s.sid.clone(),
            user_id: s.user_id.clone(),
            key_hash: key_hash.clone(),
            auth_time: s.auth_time,
            amr: s.amr.clone(),
            acr: s.acr.clone(),
            created_at: ctx.now(),
            expires_at: s.expires_at,
            ip: s.device.ip.clone(),
            user_agent: s.device.user_agent.clone(),
        };
        ctx.db(&sub.id)
            .await?
            .repos()
            .user_sessions()
            .put(&sub.id, &row)
            .await?;
    }
    ctx.cache
        .put(
            &session_key_of(&sub.id, &key_hash),
            &bytes,
            Duration::from_secs(ctx.settings.session_ttl),
        )
        .await?;
    Ok(())
}

/// End a session, and revoke the grants made through it that did not ask for
/// `offline_access` (DESIGN.md: only those outlive the browser session).
pub async fn end_session(ctx: &Ctx, sub: &Subscription, cookie: &str) -> Result<(), FlowError> {
    let Some(session) = session(ctx, sub, cookie).await? else {
        return Ok(());
    };
    ctx.cache.delete(&session_key(sub, cookie)).await?;
    let db = ctx.db(&sub.id).await?;
    db.repos()
        .user_sessions()
        .delete_by_key(&sub.id, &crate::tokens::hash_token(cookie))
        .await?;
    if session.sid.is_empty() {
        return Ok(());
    }
    let revoked = db
        .repos()
        .tokens()
        .revoke_session(&sub.id, &session.user_id, &session.sid, ctx.now())
        .await?;
    if revoked > 0 {
        super::freshness::bump(ctx, &sub.id).await;
    }
    Ok(())
}

/// A verified first factor: who, and how (kept for the session, the ID token's
/// `amr`/`acr`, and the 2FA policy).
#[derive(Debug, Clone)]
pub struct FirstFactor {
    /// The user.
    pub user: User,
    /// Authentication methods (`pwd`; upstream values plus `fed` for SSO).
    pub amr: Vec<String>,
    /// Upstream `acr`, when the first factor came from an SSO provider.
    pub acr: Option<String>,
    /// The connection that verified it (`None` for a local password).
    pub connection_id: Option<String>,
    /// The user's 2FA standing, when the sign-in read it with the password hash (`None`:
    /// read it when it is needed).
    pub standing: Option<super::mfa::Standing>,
}

impl FirstFactor {
    /// A local password login of `account`, whose 2FA standing came with it.
    pub fn password(sub: &Subscription, account: Account) -> FirstFactor {
        FirstFactor {
            standing: account
                .factors
                .as_ref()
                .map(|f| super::mfa::standing_of(sub, f)),
            user: account.user,
            amr: vec!["pwd".into()],
            acr: None,
            connection_id: None,
        }
    }
}

/// The local user with login name `username`, if any (`None` too for a name that is not
/// a valid username).
pub async fn account(
    ctx: &Ctx,
    sub: &Subscription,
    username: &str,
) -> Result<Option<Account>, FlowError> {
    let Ok(name) = Username::parse(username) else {
        return Ok(None);
    };
    match ctx
        .db(&sub.id)
        .await?
        .repos()
        .users()
        .credentials(&sub.id, name.as_str())
        .await
    {
        Ok((user, password_hash)) => Ok(Some(Account {
            user,
            password_hash,
            factors: None,
        })),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Why a login failed. Only `BadCredentials` is shown before the password was verified.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: one generic message.
    #[error("invalid username or password")]
    BadCredentials,
    /// The password was right but the account is disabled.
    #[error("this account is disabled")]
    Disabled,
    /// The user's directory cannot be reached (local users are unaffected).
    #[error(
        "Your directory is unavailable right now, so your account cannot be checked. Try again in a few minutes."
    )]
    DirectoryUnavailable,
    /// A directory refused a correct password because of the account's state.
    #[error("{0}")]
    AccountState(&'static str),
    /// The name belongs to an SSO connection: continue there.
    #[error("sign in with your organisation's single sign-on")]
    UseSso(String),
    /// This directory does not know the name (the next one is tried; never shown).
    #[error("invalid username or password")]
    UnknownToDirectory,
    /// A flow failure (store down…).
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// Verify the password of `account`, the user `username` names (`None`: no such user).
/// Unknown users cost the same argon2 work as known ones.
pub async fn verify_password(
    ctx: &Ctx,
    sub: &Subscription,
    username: &str,
    password: &str,
    account: Option<Account>,
    actor: &Actor,
) -> Result<Account, LoginError> {
    let result = check_password(ctx, password, account).await;
    // Every outcome is a security event: the reason class, never the password.
    let (action, target, reason) = match &result {
        Ok(a) => ("login.succeeded", ("user", a.user.id.clone()), "password"),
        Err(LoginError::BadCredentials) => (
            "login.failed",
            ("username", username.chars().take(256).collect()),
            "bad_credentials",
        ),
        Err(LoginError::Disabled) => (
            "login.failed",
            ("username", username.chars().take(256).collect()),
            "disabled",
        ),
        Err(_) => return result,
    };
    let mut actor = actor.clone();
    if let Ok(a) = &result {
        actor.user_id = Some(a.user.id.clone());
    }
    audit::security(
        ctx,
        &sub.id,
        &actor,
        action,
        (target.0, &target.1),
        serde_json::json!({"reason": reason}),
    )
    .await;
    result
}

async fn check_password(
    ctx: &Ctx,
    password: &str,
    mut account: Option<Account>,
) -> Result<Account, LoginError> {
    // Taken out: the hash goes no further than the check.
    let hash = account.as_mut().and_then(|a| a.password_hash.take());
    let ok = ctx
        .passwords
        .verify(password, hash)
        .await
        .map_err(|e| LoginError::Flow(FlowError::Internal(e.into())))?;
    match account {
        Some(a) if ok && a.user.disabled => Err(LoginError::Disabled),
        Some(a) if ok => Ok(a),
        _ => Err(LoginError::BadCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::Device;

    #[test]
    fn a_device_keeps_a_bounded_user_agent_without_control_characters() {
        let d = Device::new(Some("10.0.0.1".into()), Some("A\r\nB\u{7}C"));
        assert_eq!(d.user_agent.as_deref(), Some("ABC"));
        assert_eq!(d.ip.as_deref(), Some("10.0.0.1"));
        let long = "x".repeat(Device::MAX_AGENT + 10);
        let d = Device::new(None, Some(&long));
        assert_eq!(d.user_agent.map(|u| u.len()), Some(Device::MAX_AGENT));
        assert_eq!(Device::new(None, Some("\n")).user_agent, None);
    }
}

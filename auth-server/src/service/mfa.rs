//! Second-factor credentials of a user: enrolment (pending secret, confirmed by a valid
//! code), verification of the one `code` field (TOTP or recovery code) with replay
//! protection and the attempt lock, recovery code sets, and removal (by the user after
//! a fresh code, or by an admin). RFC 6238 §5.2, RFC 4226 §7.3, SECURITY.md §4.1.
//!
//! The attempt lock lives in the ephemeral store so that every instance sharing Redis
//! counts the same attempts; the windows are computed from the injected clock, not
//! from key TTLs (which only bound memory).

use super::{Actor, Ctx, FlowError, audit};
use crate::domain::{Subscription, SubscriptionId, User};
use crate::mfa::recovery::{CODE_BYTES, hash as recovery_hash};
use crate::mfa::totp::SECRET_LEN;
use crate::mfa::{CodeInput, MfaPolicy, RECOVERY_CODES, RecoveryCode, Totp, effective_policy};
use crate::store::mfa::FactorFacts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use std::time::Duration;

/// Wrong codes that lock the second factor of a user…
pub const LOCK_THRESHOLD: i64 = 5;
/// …within this many seconds; the lock lasts as long.
pub const LOCK_WINDOW: i64 = 300;
/// A pending (unconfirmed) secret expires after this many seconds.
pub const ENROL_TTL: i64 = 300;
/// Granularity of the sliding attempt window.
const BUCKET: i64 = 60;

/// What a user sees when a code is refused. No message contains the code.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The code does not match.
    #[error("That code is not valid. Check your authenticator app and try again.")]
    WrongCode,
    /// The code matched a step that was already used.
    #[error("That code was already used. Wait for the next code in your authenticator app.")]
    Replayed,
    /// Not the shape of a code.
    #[error("{0}")]
    Malformed(&'static str),
    /// Too many wrong codes.
    #[error(
        "Too many wrong codes: two-factor sign-in for this account is locked for 5 minutes. Try again later."
    )]
    Locked,
    /// No confirmed TOTP.
    #[error("Two-factor authentication is not set up for this account.")]
    NotEnrolled,
    /// Already confirmed: remove the old one first.
    #[error("Two-factor authentication is already set up for this account.")]
    AlreadyEnrolled,
    /// The pending secret is older than five minutes.
    #[error("The setup expired. Scan the new QR code and enter a fresh code.")]
    EnrolmentExpired,
    /// The subscription's policy is `off`.
    #[error("Two-factor authentication is turned off for this organisation.")]
    PolicyOff,
    /// The policy requires 2FA, so the user may not remove it.
    #[error("Your organisation requires two-factor authentication; it cannot be turned off.")]
    Required,
    /// Store or cache failure.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<crate::store::StoreError> for MfaError {
    fn from(e: crate::store::StoreError) -> Self {
        MfaError::Flow(e.into())
    }
}

impl From<crate::cache::CacheError> for MfaError {
    fn from(e: crate::cache::CacheError) -> Self {
        MfaError::Flow(e.into())
    }
}

/// Which kind of code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A TOTP code.
    Totp,
    /// A recovery code; this many are left.
    Recovery(u64),
}

/// A user's 2FA state, for the account page and the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    /// A confirmed TOTP exists.
    pub enrolled: bool,
    /// When it was confirmed (Unix seconds).
    pub enrolled_at: Option<i64>,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
    /// The policy that applies to the user (`off | optional | required`).
    pub policy: String,
}

/// What the enrolment page shows (once): the URI and, for the page, nothing else secret.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// `otpauth://totp/…`.
    pub uri: String,
}

pub(crate) fn aad(sub: &SubscriptionId, user_id: &str) -> Vec<u8> {
    // AAD binds the ciphertext to its tenant and user: a secret copied into another
    // user's row does not decrypt (SECURITY.md §4.1).
    format!("mfa_totp:{}:{}", sub.0, user_id).into_bytes()
}

fn internal(e: impl std::fmt::Display) -> MfaError {
    MfaError::Flow(FlowError::Internal(anyhow::anyhow!("{e}")))
}

fn decrypt(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    stored: &str,
) -> Result<Vec<u8>, MfaError> {
    let blob = STANDARD.decode(stored).map_err(internal)?;
    ctx.master_key
        .decrypt(&blob, &aad(sub, user_id))
        .map_err(internal)
}

fn totp_for(sub: &Subscription, user: &User, secret: &[u8]) -> Result<Totp, MfaError> {
    Totp::new(secret, &sub.name, &user.username).map_err(internal)
}

/// A user's second-factor standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The policy that applies: the subscription's, overridden by the user's groups.
    pub policy: MfaPolicy,
    /// Whether the user has a confirmed TOTP.
    pub enrolled: bool,
}

/// The user's [`Standing`], in one read.
pub async fn standing(ctx: &Ctx, sub: &Subscription, user_id: &str) -> Result<Standing, FlowError> {
    let facts = ctx
        .db(&sub.id)
        .await?
        .repos()
        .mfa()
        .factor_facts(&sub.id, user_id)
        .await?;
    Ok(standing_of(sub, &facts))
}

/// The [`Standing`] that a user's stored second-factor facts give in `sub`.
pub fn standing_of(sub: &Subscription, facts: &FactorFacts) -> Standing {
    let base = MfaPolicy::parse(&sub.settings.mfa_policy).unwrap_or(MfaPolicy::Optional);
    let overrides: Vec<MfaPolicy> = facts
        .group_policies
        .iter()
        .filter_map(|p| MfaPolicy::parse(p))
        .collect();
    Standing {
        policy: effective_policy(base, &overrides),
        enrolled: facts.totp_confirmed,
    }
}

/// The user's 2FA state.
pub async fn status(ctx: &Ctx, sub: &Subscription, user_id: &str) -> Result<Status, FlowError> {
    let db = ctx.db(&sub.id).await?;
    let repos = db.repos();
    let row = repos.mfa().totp(&sub.id, user_id).await?;
    let enrolled_at = row.and_then(|t| t.confirmed_at);
    Ok(Status {
        enrolled: enrolled_at.is_some(),
        enrolled_at,
        recovery_codes_left: repos.mfa().recovery_codes_left(&sub.id, user_id).await?,
        policy: standing(ctx, sub, user_id)
            .await?
            .policy
            .as_str()
            .to_owned(),
    })
}

/// Start (or continue) enrolment: a pending secret younger than five minutes is
/// reused, so reloading the page keeps the QR code the app already scanned.
pub async fn begin_enrolment(
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
) -> Result<Enrolment, MfaError> {
    if standing(ctx, sub, &user.id).await?.policy == MfaPolicy::Off {
        return Err(MfaError::PolicyOff);
    }
    let db = ctx.db(&sub.id).await?;
    let repos = db.repos();
    let now = ctx.now();
    let secret = match repos.mfa().totp(&sub.id, &user.id).await? {
        Some(t) if t.confirmed_at.is_some() => return Err(MfaError::AlreadyEnrolled),
        Some(t) if now - t.created_at <= ENROL_TTL => decrypt(ctx, &sub.id, &user.id, &t.secret)?,
        _ => {
            let mut secret = vec![0u8; SECRET_LEN];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let blob = ctx
                .master_key
                .encrypt(&secret, &aad(&sub.id, &user.id))
                .map_err(internal)?;
            repos
                .mfa()
                .put_pending_totp(&sub.id, &user.id, &STANDARD.encode(blob), now)
                .await?;
            secret
        }
    };
    Ok(Enrolment {
        uri: totp_for(sub, user, &secret)?.uri().map_err(internal)?,
    })
}

/// Confirm enrolment with a code of the pending secret; returns the recovery codes
/// (shown once). The confirming code's step becomes the last used one, so it cannot
/// also log in.
pub async fn confirm_enrolment(
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
    code: &str,
    actor: &Actor,
) -> Result<Vec<String>, MfaError> {
    ensure_unlocked(ctx, &sub.id, &user.id).await?;
    let CodeInput::Totp(code) = CodeInput::parse(code) else {
        return Err(MfaError::Malformed(
            "Enter the 6-digit code from your authenticator app.",
        ));
    };
    let now = ctx.now();
    let row = match ctx
        .db(&sub.id)
        .await?
        .repos()
        .mfa()
        .totp(&sub.id, &user.id)
        .await?
    {
        Some(t) if t.confirmed_at.is_some() => return Err(MfaError::AlreadyEnrolled),
        Some(t) if now - t.created_at <= ENROL_TTL => t,
        _ => return Err(MfaError::EnrolmentExpired),
    };
    let secret = decrypt(ctx, &sub.id, &user.id, &row.secret)?;
    let Some(step) = totp_for(sub, user, &secret)?.matched_step(&code, now) else {
        return Err(failed(ctx, sub, &user.id, actor, MfaError::WrongCode).await);
    };
    let (codes, hashes) = new_recovery_codes(&user.id);
    let tx = ctx.begin(&sub.id).await?;
    if !tx
        .repos()
        .mfa()
        .confirm_totp(&sub.id, &user.id, step as i64, now)
        .await?
    {
        return Err(MfaError::AlreadyEnrolled);
    }
    tx.repos()
        .mfa()
        .replace_recovery_codes(&sub.id, &user.id, &hashes, now)
        .await?;
    let mut actor = actor.clone();
    actor.user_id = Some(user.id.clone());
    audit::record(
        &tx,
        &sub.id,
        &actor,
        "mfa.enrolled",
        ("user", &user.id),
        Some(serde_json::json!({"method": "totp", "recovery_codes": RECOVERY_CODES})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(codes)
}

fn new_recovery_codes(user_id: &str) -> (Vec<String>, Vec<String>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; CODE_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let code = RecoveryCode::from_random(&bytes);
            (code.display(), code.hash(user_id))
        })
        .unzip()
}

/// A new set of recovery codes (the old set stops working); returns them, shown once.
pub async fn regenerate_recovery_codes(
    ctx: &Ctx,
    sub: &Subscription,
    user_id: &str,
    actor: &Actor,
) -> Result<Vec<String>, MfaError> {
    if !standing(ctx, sub, user_id).await?.enrolled {
        return Err(MfaError::NotEnrolled);
    }
    let (codes, hashes) = new_recovery_codes(user_id);
    let tx = ctx.begin(&sub.id).await?;
    tx.repos()
        .mfa()
        .replace_recovery_codes(&sub.id, user_id, &hashes, ctx.now())
        .await?;
    audit::record(
        &tx,
        &sub.id,
        actor,
        "mfa.recovery_codes_regenerated",
        ("user", user_id),
        None,
        ctx.now(),
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(codes)
}

/// Remove the user's TOTP and recovery codes. `by_admin` is the audited admin reset
/// (allowed under any policy); a user may not remove a required second factor.
pub async fn remove(
    ctx: &Ctx,
    sub: &Subscription,
    user_id: &str,
    actor: &Actor,
    by_admin: bool,
) -> Result<bool, MfaError> {
    if !by_admin && standing(ctx, sub, user_id).await?.policy == MfaPolicy::Required {
        return Err(MfaError::Required);
    }
    let tx = ctx.begin(&sub.id).await?;
    let had = tx.repos().mfa().delete_all(&sub.id, user_id).await?;
    if had {
        let action = if by_admin {
            "mfa.reset"
        } else {
            "mfa.disabled"
        };
        audit::record(
            &tx,
            &sub.id,
            actor,
            action,
            ("user", user_id),
            None,
            ctx.now(),
        )
        .await?;
    }
    ctx.commit(tx).await?;
    Ok(had)
}

/// Verify the `code` field of a confirmed user: a TOTP code (accepted once: its step
/// must be later than the last accepted one) or an unused recovery code. Every
/// failure counts toward the lock; while locked even a right code is refused.
pub async fn verify(
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
    raw: &str,
    actor: &Actor,
) -> Result<Method, MfaError> {
    ensure_unlocked(ctx, &sub.id, &user.id).await?;
    let db = ctx.db(&sub.id).await?;
    let repos = db.repos();
    let now = ctx.now();
    let mut actor = actor.clone();
    actor.user_id = Some(user.id.clone());
    match CodeInput::parse(raw) {
        // A malformed input carries no guess, so it does not count toward the lock.
        CodeInput::Malformed(m) => Err(MfaError::Malformed(m)),
        CodeInput::Totp(code) => {
            let row = match repos.mfa().totp(&sub.id, &user.id).await? {
                Some(t) if t.confirmed_at.is_some() => t,
                _ => return Err(MfaError::NotEnrolled),
            };
            let secret = decrypt(ctx, &sub.id, &user.id, &row.secret)?;
            let Some(step) = totp_for(sub, user, &secret)?.matched_step(&code, now) else {
                return Err(failed(ctx, sub, &user.id, &actor, MfaError::WrongCode).await);
            };
            if !repos
                .mfa()
                .advance_step(&sub.id, &user.id, step as i64)
                .await?
            {
                return Err(failed(ctx, sub, &user.id, &actor, MfaError::Replayed).await);
            }
            audit::security(
                ctx,
                &sub.id,
                &actor,
                "mfa.succeeded",
                ("user", &user.id),
                serde_json::json!({"method": "totp"}),
            )
            .await;
            Ok(Method::Totp)
        }
        CodeInput::Recovery(code) => {
            let hash = recovery_hash(&user.id, &code);
            if !repos
                .mfa()
                .use_recovery_code(&sub.id, &user.id, &hash, now)
                .await?
            {
                return Err(failed(ctx, sub, &user.id, &actor, MfaError::WrongCode).await);
            }
            let left = repos.mfa().recovery_codes_left(&sub.id, &user.id).await?;
            audit::security(
                ctx,
                &sub.id,
                &actor,
                "mfa.recovery_code_used",
                ("user", &user.id),
                serde_json::json!({"remaining": left}),
            )
            .await;
            Ok(Method::Recovery(left))
        }
    }
}

fn lock_key(sub: &SubscriptionId, user_id: &str) -> String {
    format!("mfalock:{}:{}", sub.0, user_id)
}

fn fail_key(sub: &SubscriptionId, user_id: &str, bucket: i64) -> String {
    format!("mfafail:{}:{}:{}", sub.0, user_id, bucket)
}

/// Refuse while the user's second factor is locked (the lock holds its end time,
/// compared with the injected clock).
pub async fn ensure_unlocked(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
) -> Result<(), MfaError> {
    let Some(v) = ctx.cache.get(&lock_key(sub, user_id)).await? else {
        return Ok(());
    };
    let until: i64 = std::str::from_utf8(&v)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if until > ctx.now() {
        Err(MfaError::Locked)
    } else {
        Ok(())
    }
}

/// Count a failure (sliding window of one-minute buckets), lock at the threshold, and
/// audit. Returns the error to show: `Locked` when this failure locked the account.
async fn failed(
    ctx: &Ctx,
    sub: &Subscription,
    user_id: &str,
    actor: &Actor,
    why: MfaError,
) -> MfaError {
    let reason = match &why {
        MfaError::Replayed => "replayed",
        _ => "wrong_code",
    };
    audit::security(
        ctx,
        &sub.id,
        actor,
        "mfa.failed",
        ("user", user_id),
        serde_json::json!({"reason": reason}),
    )
    .await;
    let now = ctx.now();
    let bucket = now.div_euclid(BUCKET);
    let ttl = Duration::from_secs((LOCK_WINDOW + 2 * BUCKET) as u64);
    let count = async {
        let mut total = ctx
            .cache
            .incr(&fail_key(&sub.id, user_id, bucket), ttl)
            .await?;
        for b in (bucket - LOCK_WINDOW / BUCKET + 1)..bucket {
            if let Some(v) = ctx.cache.get(&fail_key(&sub.id, user_id, b)).await? {
                total += std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0);
            }
        }
        Ok::<i64, crate::cache::CacheError>(total)
    }
    .await;
    match count {
        Ok(n) if n >= LOCK_THRESHOLD => {
            let until = (now + LOCK_WINDOW).to_string();
            if let Err(e) = ctx
                .cache
                .put(&lock_key(&sub.id, user_id), until.as_bytes(), ttl)
                .await
            {
                return e.into();
            }
            // Old buckets are cleared so that the lock's end starts a clean window.
            for b in (bucket - LOCK_WINDOW / BUCKET)..=bucket {
                let _ = ctx.cache.delete(&fail_key(&sub.id, user_id, b)).await;
            }
            audit::security(
                ctx,
                &sub.id,
                actor,
                "mfa.locked",
                ("user", user_id),
                serde_json::json!({"failures": n, "seconds": LOCK_WINDOW}),
            )
            .await;
            MfaError::Locked
        }
        Ok(_) => why,
        Err(e) => e.into(),
    }
}

/// Set (`Some`) or remove (`None`) the 2FA policy override of a group; audited as
/// `group.mfa_policy_changed` with the old and new value.
pub async fn set_group_policy(
    ctx: &Ctx,
    sub: &SubscriptionId,
    group_id: &str,
    policy: Option<MfaPolicy>,
    actor: &Actor,
) -> Result<(), crate::store::StoreError> {
    let tx = ctx.begin(sub).await?;
    let old = tx.repos().mfa().group_policy(sub, group_id).await?;
    let now = ctx.now();
    match policy {
        Some(p) => {
            tx.repos()
                .mfa()
                .put_group_policy(sub, group_id, p.as_str(), now)
                .await?
        }
        None => {
            tx.repos().mfa().delete_group_policy(sub, group_id).await?;
        }
    }
    let new = policy.map(MfaPolicy::as_str);
    if old.as_deref() != new {
        let diff = serde_json::json!({"mfa_policy": {"old": old, "new": new}});
        audit::record(
            &tx,
            sub,
            actor,
            "group.mfa_policy_changed",
            ("group", group_id),
            Some(diff),
            now,
        )
        .await?;
    }
    ctx.commit(tx).await
}

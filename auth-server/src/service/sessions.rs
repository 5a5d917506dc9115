//! A user's browser sessions and grants, as an admin sees them (Keycloak's "Sessions"
//! tab of a user), and signing a user out: one session, or everywhere.
//!
//! Browser sessions live in the ephemeral store; the `user_sessions` table indexes them
//! by user ([`crate::store::user_sessions`]). A session is listed only while both its
//! row and its cache entry exist, so a flushed cache or an expired entry lists nothing.
//! Signing out one session does what logout does (its cache entry goes, and the grants
//! made through it without `offline_access` are revoked); signing out everywhere also
//! revokes every refresh-token family of the user, offline ones included.

use super::{Actor, AdminError, Ctx, audit, login};
use crate::domain::SubscriptionId;
use crate::store::StoreError;
use crate::store::tokens::Family;
use crate::store::user_sessions::SessionRow;
use std::collections::HashMap;

/// A live grant (refresh-token family) of the user.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The client holding it.
    pub client_id: String,
    /// The client's name (`None` when it is not a registered client any more).
    pub client_name: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// When it was granted.
    pub created_at: i64,
    /// Whether it asked for `offline_access` (it survives the end of its session).
    pub offline: bool,
}

/// A live browser session and the grants made through it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// The indexed session (never the cookie: only its hash, not shown).
    pub row: SessionRow,
    /// Grants made through it.
    pub grants: Vec<Grant>,
}

/// Everything a user is signed in with.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Live browser sessions, oldest first.
    pub sessions: Vec<LiveSession>,
    /// Live grants not made through a live browser session (offline access that
    /// outlived its session, token exchange, sessions from before the index).
    pub grants: Vec<Grant>,
}

/// The user's live sessions and grants; `NotFound` when the user is not one of `sub`.
pub async fn list(ctx: &Ctx, sub: &SubscriptionId, user_id: &str) -> Result<Overview, AdminError> {
    let now = ctx.now();
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    repos.users().get(sub, user_id).await?;
    let mut sessions = Vec::new();
    for row in repos.user_sessions().of_user(sub, user_id, now).await? {
        if ctx
            .cache
            .get(&login::session_key_of(sub, &row.key_hash))
            .await?
            .is_some()
        {
            sessions.push(LiveSession {
                row,
                grants: Vec::new(),
            });
        }
    }
    let access_since = now - i64::try_from(ctx.settings.access_token_ttl).unwrap_or(i64::MAX);
    let families = repos
        .tokens()
        .live_families_of_subject(sub, user_id, now, access_since)
        .await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut grants = Vec::new();
    for family in families {
        if !names.contains_key(&family.client_id) {
            let name = match repos.clients().get(sub, &family.client_id).await {
                Ok(c) => Some(c.name),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            names.insert(family.client_id.clone(), name);
        }
        let grant = grant_of(&family, names.get(&family.client_id).cloned().flatten());
        match sessions
            .iter_mut()
            .find(|s| Some(s.row.sid.as_str()) == family.sid())
        {
            Some(s) => s.grants.push(grant),
            None => grants.push(grant),
        }
    }
    Ok(Overview { sessions, grants })
}

fn grant_of(f: &Family, client_name: Option<String>) -> Grant {
    Grant {
        client_id: f.client_id.clone(),
        client_name,
        scope: f.scope.clone(),
        created_at: f.created_at,
        offline: f.offline(),
    }
}

/// Sign out one browser session of a user, as logout would: its cache entry goes (the
/// next `/authorize` in that browser shows the login form) and the grants made through
/// it without `offline_access` are revoked. Audited as `user.session_ended`.
/// `NotFound` when `sid` is not a session of this user.
pub async fn sign_out(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    sid: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let row = tx.repos().user_sessions().delete(sub, user_id, sid).await?;
    let revoked = tx
        .repos()
        .tokens()
        .revoke_session(sub, user_id, sid, now)
        .await?;
    let d = serde_json::json!({"session": {"old": sid, "new": null}, "revoked_families": revoked});
    audit::record(
        &tx,
        sub,
        actor,
        "user.session_ended",
        ("user", user_id),
        Some(d),
        now,
    )
    .await?;
    // The cache entry goes before the commit: were it the other way round, a failure in
    // between would leave a working session that is no longer listed.
    ctx.cache
        .delete(&login::session_key_of(sub, &row.key_hash))
        .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(())
}

/// Sign a user out everywhere: every indexed browser session ends and every
/// refresh-token family of the user is revoked, `offline_access` ones included.
/// Audited as `user.signed_out`. `NotFound` when the user is not one of `sub`.
pub async fn sign_out_everywhere(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos().users().get(sub, user_id).await?;
    let rows = tx
        .repos()
        .user_sessions()
        .delete_of_user(sub, user_id)
        .await?;
    let revoked = tx
        .repos()
        .tokens()
        .families_of_subject(sub, user_id)
        .await?
        .len();
    tx.repos()
        .tokens()
        .revoke_subject(sub, user_id, now)
        .await?;
    let d = serde_json::json!({"sessions_ended": rows.len(), "revoked_families": revoked});
    audit::record(
        &tx,
        sub,
        actor,
        "user.signed_out",
        ("user", user_id),
        Some(d),
        now,
    )
    .await?;
    for row in &rows {
        ctx.cache
            .delete(&login::session_key_of(sub, &row.key_hash))
            .await?;
    }
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(())
}

//! Federated first factors: the login form's routing between local users and directory
//! connections (DESIGN.md "Login and 2FA pages"), just-in-time provisioning linked by
//! (connection, external id), attribute refresh, and group-mapping reconciliation.
//!
//! Routing: a connection that claims the name (e-mail domain, AD domain, pattern) takes
//! it; otherwise a local user with a password; otherwise the enabled directories in
//! order, stopping at the first that knows the name. A directory that is down is
//! skipped, and its users get "directory unavailable" while local users are unaffected.
//! A directory user is never merged into a local user by name or e-mail.

use super::login::{self, FirstFactor, LoginError};
use super::throttle::{self, Outcome};
use super::{Actor, Ctx, FlowError, acl::facts, audit, random};
use crate::directory::diagnose::{self, Diagnosis};
use crate::directory::ldap::DirectoryError;
use crate::directory::rules::{self, Profile};
use crate::domain::connection::{Connection, ConnectionKind, home_realm};
use crate::domain::{Subscription, SubscriptionId, User, Username};
use crate::store::StoreError;
use serde_json::json;
use std::collections::BTreeSet;

fn flow(e: StoreError) -> LoginError {
    LoginError::Flow(FlowError::from(e))
}

/// The 2FA view of a verified first factor. A password (local or directory) is one
/// factor; an SSO login carries the upstream's `amr`/`acr`, and the connection decides
/// whether its MFA counts (`trust_upstream_mfa`, `mfa_amr_values`; "always ask for our
/// TOTP" is `trust_upstream_mfa: false`).
pub async fn mfa_first_factor(
    ctx: &Ctx,
    sub: &Subscription,
    first: &FirstFactor,
) -> Result<crate::mfa::FirstFactor, FlowError> {
    use crate::mfa::{FirstFactor as Mfa, UpstreamTrust};
    let Some(id) = &first.connection_id else {
        return Ok(Mfa::password());
    };
    let conn = ctx
        .db(&sub.id)
        .await?
        .repos()
        .connections()
        .get(&sub.id, id)
        .await?;
    if conn.kind != ConnectionKind::Oidc {
        return Ok(Mfa {
            amr: first.amr.clone(),
            ..Mfa::password()
        });
    }
    let mut trust = UpstreamTrust::default();
    if let Some(trusted) = conn.config.trust_upstream_mfa {
        trust.trust_upstream_mfa = trusted;
    }
    if let Some(values) = &conn.config.mfa_amr_values {
        trust.mfa_amr_values = values.clone();
    }
    Ok(Mfa::federated(first.amr.clone(), first.acr.clone(), trust))
}

/// Where a login name is checked.
enum Realm<'a> {
    /// A directory connection claims the name.
    Claimed(&'a Connection),
    /// No directory is configured: the name is local, and its account (if any) was read
    /// together with the name's failure record and the user's 2FA facts.
    Local(Option<login::Account>),
    /// Directories are configured: a local user with a password first, then each
    /// enabled directory in order.
    Search(Vec<&'a Connection>),
}

/// Verify the login form's username and password against the right realm.
pub async fn password_login(
    ctx: &Ctx,
    sub: &Subscription,
    username: &str,
    password: &str,
    actor: &Actor,
) -> Result<FirstFactor, LoginError> {
    let conns = super::connections::ordered(ctx, &sub.id)
        .await
        .map_err(LoginError::Flow)?;
    let directories: Vec<&Connection> = conns
        .iter()
        .filter(|c| c.enabled && c.kind.is_directory())
        .collect();
    let (realm, durable) = match home_realm(&conns, username) {
        Some(c) if c.kind == ConnectionKind::Oidc => {
            return Err(LoginError::UseSso(c.name.clone()));
        }
        Some(c) => (Realm::Claimed(c), None),
        None if directories.is_empty() => {
            // The common case: one statement for what the sign-in needs from the
            // database (each is a round trip).
            let facts = ctx
                .db(&sub.id)
                .await
                .map_err(flow)?
                .repos()
                .sign_ins()
                .facts(&sub.id, &throttle::counted_name(username))
                .await
                .map_err(flow)?;
            // The failure record is kept under any name; a user only under a valid one.
            let account = facts.account.filter(|_| Username::parse(username).is_ok());
            (Realm::Local(account), Some(facts.lock))
        }
        None => (Realm::Search(directories), None),
    };
    // Every password check, local or directory, is admitted and counted per
    // (subscription, normalised name): SECURITY.md §3.
    let admitted = match durable {
        Some(lock) => throttle::admit_with(ctx, &sub.id, username, lock).await,
        None => throttle::admit(ctx, &sub.id, username).await,
    };
    let attempt = match admitted.map_err(LoginError::Flow)? {
        Ok(a) => a,
        Err(gate) => {
            // The same argon2 work and answer as a wrong password: a refusal reveals
            // neither the lock nor whether the name exists.
            let _ = ctx.passwords.verify(password, None).await;
            failed(ctx, &sub.id, actor, username, gate.reason(), None).await;
            return Err(LoginError::BadCredentials);
        }
    };
    let result = checked_login(ctx, sub, realm, username, password, actor).await;
    let outcome = match &result {
        Ok(_) | Err(LoginError::Disabled | LoginError::AccountState(_)) => Outcome::Verified,
        Err(LoginError::BadCredentials | LoginError::UnknownToDirectory) => Outcome::Failed,
        Err(LoginError::DirectoryUnavailable | LoginError::Flow(_) | LoginError::UseSso(_)) => {
            Outcome::Unchecked
        }
    };
    throttle::settle(ctx, &sub.id, attempt, outcome, actor).await;
    result
}

/// The password check proper, once the throttle admitted the attempt.
async fn checked_login(
    ctx: &Ctx,
    sub: &Subscription,
    realm: Realm<'_>,
    username: &str,
    password: &str,
    actor: &Actor,
) -> Result<FirstFactor, LoginError> {
    let directories = match realm {
        Realm::Claimed(c) => {
            return directory_login(ctx, sub, c, username, password, actor).await;
        }
        Realm::Local(account) => {
            let account =
                login::verify_password(ctx, sub, username, password, account, actor).await?;
            return Ok(FirstFactor::password(sub, account));
        }
        Realm::Search(directories) => directories,
    };
    // A local user with a password is checked here; any other name goes to the
    // directories.
    let account = login::account(ctx, sub, username)
        .await
        .map_err(LoginError::Flow)?;
    if account.as_ref().is_some_and(|a| a.password_hash.is_some()) {
        let account = login::verify_password(ctx, sub, username, password, account, actor).await?;
        return Ok(FirstFactor::password(sub, account));
    }
    let mut unavailable = false;
    for c in directories {
        match directory_login(ctx, sub, c, username, password, actor).await {
            Err(LoginError::UnknownToDirectory) => continue,
            Err(LoginError::DirectoryUnavailable) => unavailable = true,
            other => return other,
        }
    }
    let (err, reason) = if unavailable {
        (LoginError::DirectoryUnavailable, "directory_unavailable")
    } else {
        (LoginError::BadCredentials, "bad_credentials")
    };
    failed(ctx, &sub.id, actor, username, reason, None).await;
    Err(err)
}

async fn failed(
    ctx: &Ctx,
    sub: &SubscriptionId,
    actor: &Actor,
    username: &str,
    reason: &str,
    connection: Option<&Connection>,
) {
    let name: String = username.chars().take(256).collect();
    audit::security(
        ctx,
        sub,
        actor,
        "login.failed",
        ("username", &name),
        json!({"reason": reason, "connection": connection.map(|c| c.name.as_str())}),
    )
    .await;
}

/// Log in through one directory connection. `UnknownToDirectory` (not audited) lets the
/// caller try the next directory.
async fn directory_login(
    ctx: &Ctx,
    sub: &Subscription,
    conn: &Connection,
    username: &str,
    password: &str,
    actor: &Actor,
) -> Result<FirstFactor, LoginError> {
    let pool = match directory_pool(ctx, sub, conn) {
        Some(p) => p,
        None => {
            failed(
                ctx,
                &sub.id,
                actor,
                username,
                "directory_unavailable",
                Some(conn),
            )
            .await;
            return Err(LoginError::DirectoryUnavailable);
        }
    };
    let found = match pool.authenticate(username, password).await {
        Ok(u) => u,
        Err(e) => {
            let (err, reason) = match e {
                DirectoryError::NotFound => return Err(LoginError::UnknownToDirectory),
                DirectoryError::Unavailable(why) => {
                    tracing::warn!(tenant = %sub.slug, connection = %conn.name, reason = %why, "directory unavailable");
                    (LoginError::DirectoryUnavailable, "directory_unavailable")
                }
                DirectoryError::Ambiguous => (LoginError::BadCredentials, "ambiguous_entry"),
                DirectoryError::BadCredentials => (LoginError::BadCredentials, "bad_credentials"),
                DirectoryError::Account(state) => {
                    (LoginError::AccountState(state.message()), "account_state")
                }
            };
            failed(ctx, &sub.id, actor, username, reason, Some(conn)).await;
            return Err(err);
        }
    };
    let profile = rules::map_attributes(&conn.config.attributes, &found.attributes);
    let user = provision(
        ctx,
        &sub.id,
        conn,
        username,
        &found.external_id,
        profile,
        &found.groups,
        true,
    )
    .await?;
    let mut actor = actor.clone();
    actor.user_id = Some(user.id.clone());
    audit::security(
        ctx,
        &sub.id,
        &actor,
        "login.succeeded",
        ("user", &user.id),
        json!({"reason": "directory", "connection": conn.name}),
    )
    .await;
    Ok(FirstFactor {
        user,
        amr: vec!["pwd".into()],
        acr: None,
        connection_id: Some(conn.id.clone()),
        standing: None,
    })
}

/// The connection's pool, or `None` (logged) when its settings or secret cannot be
/// resolved: nobody signs in through such a connection.
fn directory_pool(
    ctx: &Ctx,
    sub: &Subscription,
    conn: &Connection,
) -> Option<std::sync::Arc<crate::directory::ldap::LdapPool>> {
    match super::connections::directory_settings(ctx, &sub.id, conn) {
        Ok(settings) => Some(ctx.directories.pool(&conn.id, settings)),
        Err(reason) => {
            tracing::error!(tenant = %sub.slug, connection = %conn.name, %reason, "directory connection unusable");
            None
        }
    }
}

/// A username for a new federated user: the login name when free, else the name
/// qualified by the connection (never an existing user's: no merge by name).
async fn free_username(
    tx: &crate::store::Tx,
    sub: &SubscriptionId,
    login: &str,
    conn: &Connection,
) -> Result<String, LoginError> {
    let base = login.rsplit_once('\\').map_or(login, |(_, u)| u);
    let candidates = [
        Username::parse(base).ok().map(|u| u.as_str().to_owned()),
        Username::parse(&format!("{base}#{}", conn.name))
            .ok()
            .map(|u| u.as_str().to_owned()),
        Some(format!("{}#{}", conn.name, random::token(6).to_lowercase())),
    ];
    for name in candidates.into_iter().flatten() {
        match tx.repos().users().credentials(sub, &name).await {
            Err(StoreError::NotFound) => return Ok(name),
            Err(e) => return Err(flow(e)),
            Ok(_) => continue,
        }
    }
    Ok(random::id())
}

/// Create or refresh the user linked to (connection, external id) and reconcile its
/// mapped workspace groups, in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn provision(
    ctx: &Ctx,
    sub: &SubscriptionId,
    conn: &Connection,
    login: &str,
    external_id: &str,
    profile: Profile,
    groups: &BTreeSet<String>,
    dn_values: bool,
) -> Result<User, LoginError> {
    let now = ctx.now();
    let system = Actor {
        client_id: None,
        user_id: None,
        act: Some(json!({"connection": conn.name})),
        request_id: None,
        ip: None,
    };
    let tx = ctx.begin(sub).await.map_err(flow)?;
    let linked = tx
        .repos()
        .connections()
        .linked_user(sub, &conn.id, external_id)
        .await
        .map_err(flow)?;
    let user = match linked {
        Some(id) => {
            let before = tx.repos().users().get(sub, &id).await.map_err(flow)?;
            if before.disabled {
                return Err(LoginError::Disabled);
            }
            let mut after = before.clone();
            // Mapped attributes follow the directory: a value removed there goes here.
            for key in conn
                .config
                .attributes
                .keys()
                .chain(conn.config.claims.keys())
            {
                match key.as_str() {
                    "email" => after.email = profile.email.clone(),
                    "name" => after.name = profile.name.clone(),
                    k => {
                        match profile.attributes.get(k) {
                            Some(v) => after.attributes.insert(k.to_owned(), v.clone()),
                            None => after.attributes.remove(k),
                        };
                    }
                }
            }
            if after != before {
                tx.repos()
                    .users()
                    .update(sub, &after, now)
                    .await
                    .map_err(flow)?;
                audit::record(
                    &tx,
                    sub,
                    &system,
                    "user.updated",
                    ("user", &after.id),
                    audit::diff(
                        &super::users::audit_view(&before),
                        &super::users::audit_view(&after),
                    ),
                    now,
                )
                .await
                .map_err(flow)?;
            }
            after
        }
        None => {
            let user = User {
                id: random::id(),
                username: free_username(&tx, sub, login, conn).await?,
                email: profile.email.clone(),
                name: profile.name.clone(),
                attributes: profile.attributes.clone(),
                system_admin: false,
                subscription_admin: false,
                disabled: false,
            };
            tx.repos()
                .users()
                .insert(sub, &user, None, now)
                .await
                .map_err(flow)?;
            tx.repos()
                .connections()
                .link(
                    sub,
                    &crate::store::connections::UserLink {
                        connection_id: conn.id.clone(),
                        external_id: external_id.to_owned(),
                        user_id: user.id.clone(),
                    },
                    &random::id(),
                    now,
                )
                .await
                .map_err(flow)?;
            let mut view = super::users::audit_view(&user);
            if let Some(o) = view.as_object_mut() {
                o.insert("connection".into(), conn.name.clone().into());
            }
            audit::record(
                &tx,
                sub,
                &system,
                "user.created",
                ("user", &user.id),
                audit::diff(&json!({}), &view),
                now,
            )
            .await
            .map_err(flow)?;
            user
        }
    };
    let changed = reconcile_groups(&tx, sub, conn, &user.id, groups, dn_values, &system, now)
        .await
        .map_err(flow)?;
    ctx.commit(tx).await.map_err(flow)?;
    if changed {
        // Same invalidation as the admin API: the ACL evaluator sees it at once.
        facts::changed(ctx, sub).await;
    }
    Ok(user)
}

/// Add and remove memberships of the groups the connection's rules govern; other
/// memberships are left alone. Returns whether anything changed.
#[allow(clippy::too_many_arguments)]
async fn reconcile_groups(
    tx: &crate::store::Tx,
    sub: &SubscriptionId,
    conn: &Connection,
    user_id: &str,
    groups: &BTreeSet<String>,
    dn_values: bool,
    actor: &Actor,
    now: i64,
) -> Result<bool, StoreError> {
    let rules_ = &conn.config.group_mappings;
    if rules_.is_empty() {
        return Ok(false);
    }
    let desired = rules::desired_groups(rules_, groups, dn_values);
    let current: BTreeSet<String> = tx
        .repos()
        .acl()
        .user_group_ids(sub, user_id)
        .await?
        .into_iter()
        .collect();
    let mut changed = false;
    for (ws_slug, name) in rules::managed_groups(rules_) {
        let acl = tx.repos().acl();
        let group = match acl.workspace(sub, &ws_slug).await {
            Ok(ws) => acl.group(sub, &ws.id, &name).await,
            Err(e) => Err(e),
        };
        let group = match group {
            Ok(g) => g,
            Err(StoreError::NotFound) => {
                tracing::warn!(connection = %conn.name, workspace = %ws_slug, group = %name, "group mapping names a missing workspace group");
                continue;
            }
            Err(e) => return Err(e),
        };
        let want = desired.contains(&(ws_slug.clone(), name.clone()));
        let has = current.contains(&group.id);
        let target = format!("{ws_slug}/{name}");
        if want && !has {
            acl.add_member(sub, &group.id, user_id, now).await?;
            let diff = json!({"members": {"old": null, "new": user_id}});
            audit::record(
                tx,
                sub,
                actor,
                "group.member_added",
                ("group", &target),
                Some(diff),
                now,
            )
            .await?;
            changed = true;
        } else if !want && has {
            acl.remove_member(sub, &group.id, user_id).await?;
            let diff = json!({"members": {"old": user_id, "new": null}});
            audit::record(
                tx,
                sub,
                actor,
                "group.member_removed",
                ("group", &target),
                Some(diff),
                now,
            )
            .await?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Diagnose an OIDC connection: fetch and check the upstream discovery document.
pub async fn oidc_diagnosis(ctx: &Ctx, sub: &SubscriptionId, conn: &Connection) -> Diagnosis {
    if let Err(m) = super::connections::resolve_secret(ctx, sub, conn) {
        return diagnose::single("secret", Err(m));
    }
    let issuer = conn.config.issuer.as_deref().unwrap_or_default();
    let https = issuer.starts_with("https://");
    let trust = match (&conn.config.ca_pem, &conn.config.ca_file) {
        (None, None) => "the system roots",
        _ => "the connection's CA",
    };
    match super::sso::discover(conn).await {
        // An untrusted certificate is the TLS step's failure, so the administrator
        // knows to add `ca_pem` rather than to look at the issuer URL.
        Err(m) if https && super::sso::is_tls_failure(&m) => diagnose::single(
            "tls",
            Err(format!(
                "{m} (the upstream's certificate does not verify against {trust}: \
                 set the connection's ca_pem or ca_file to the CA that issued it)"
            )),
        ),
        result => {
            let discovery = diagnose::single(
                "discovery",
                result.map(|_| format!("{issuer} publishes a valid discovery document")),
            );
            match https {
                true => diagnose::prefixed(
                    "tls",
                    format!("certificate chain and host name verified against {trust}"),
                    discovery,
                ),
                false => discovery,
            }
        }
    }
}

/// Why a directory user's grant may no longer be refreshed (SECURITY.md F7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryRecheck {
    /// The entry is gone, or left the connection's user base.
    Gone,
    /// The directory forbids the account to sign in (disabled, locked, expired).
    Inactive(rules::AdAccountState),
    /// The connection was disabled or cannot be used: nobody signs in through it.
    ConnectionOff,
}

impl DirectoryRecheck {
    fn reason(self) -> &'static str {
        match self {
            DirectoryRecheck::Gone => "entry_gone",
            DirectoryRecheck::Inactive(rules::AdAccountState::Locked) => "locked",
            DirectoryRecheck::Inactive(rules::AdAccountState::AccountExpired) => "expired",
            DirectoryRecheck::Inactive(_) => "disabled",
            DirectoryRecheck::ConnectionOff => "connection_disabled",
        }
    }
}

/// Ask the directories a user is linked to whether the account may still sign in, at
/// most once per the connection's `account_recheck_secs` (SECURITY.md F7: a user
/// disabled in LDAP or AD loses the refresh grant at the next refresh, as a local user
/// disabled by an admin does). Upstream OIDC links are not re-checked here: the upstream
/// offers no account-state query, and its own tokens end the session there.
///
/// A directory that cannot be reached fails closed with `temporarily_unavailable`,
/// which leaves the refresh token unused for a retry.
pub async fn recheck_directory(
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
) -> Result<Option<DirectoryRecheck>, FlowError> {
    let links = ctx
        .db(&sub.id)
        .await?
        .repos()
        .connections()
        .links_of_user(&sub.id, &user.id)
        .await?;
    for link in links {
        let conn = match ctx
            .db(&sub.id)
            .await?
            .repos()
            .connections()
            .get(&sub.id, &link.connection_id)
            .await
        {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(Some(DirectoryRecheck::ConnectionOff)),
            Err(e) => return Err(e.into()),
        };
        if !conn.kind.is_directory() {
            continue;
        }
        if !conn.enabled {
            return Ok(Some(DirectoryRecheck::ConnectionOff));
        }
        let key = format!("dirok:{}:{}:{}", sub.id.0, user.id, conn.id);
        if ctx.cache.get(&key).await?.is_some() {
            continue;
        }
        let Some(pool) = directory_pool(ctx, sub, &conn) else {
            return Ok(Some(DirectoryRecheck::ConnectionOff));
        };
        match pool.account_state(&link.external_id, ctx.now()).await {
            Ok(Ok(())) => {
                let ttl = conn.config.account_recheck();
                if !ttl.is_zero() {
                    ctx.cache.put(&key, b"1", ttl).await?;
                }
            }
            Ok(Err(state)) => return Ok(Some(DirectoryRecheck::Inactive(state))),
            Err(DirectoryError::NotFound | DirectoryError::Ambiguous) => {
                return Ok(Some(DirectoryRecheck::Gone));
            }
            Err(e) => {
                tracing::warn!(tenant = %sub.slug, connection = %conn.name, reason = %e, "directory unavailable for the refresh re-check");
                return Err(FlowError::Unavailable);
            }
        }
    }
    Ok(None)
}

/// Refuse a refresh whose user the directory no longer admits: the family is revoked
/// (re-enabling the account in the directory does not revive it) and the refusal
/// audited.
pub async fn refuse_refresh(
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
    family_id: &str,
    why: DirectoryRecheck,
) -> Result<(), FlowError> {
    let now = ctx.now();
    let tx = ctx.begin(&sub.id).await?;
    tx.repos()
        .tokens()
        .revoke_family(&sub.id, family_id, now)
        .await?;
    let actor = Actor {
        user_id: Some(user.id.clone()),
        ..Actor::default()
    };
    audit::record(
        &tx,
        &sub.id,
        &actor,
        "token.refresh_refused",
        ("token_family", family_id),
        Some(json!({"reason": why.reason(), "cause": "directory_account_state"})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, &sub.id).await;
    Ok(())
}

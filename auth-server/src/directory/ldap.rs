//! LDAP and Active Directory logins over ldap3 (RFC 4511/4513), with a bounded pool of
//! service-bound connections per connection so a login does not open a TCP connection.
//!
//! Search-then-bind (SECURITY.md §4.2): the service account finds exactly one entry by
//! the escaped filter, the user's password is checked by binding as that DN on the same
//! pooled connection, and the connection is re-bound as the service account before it
//! returns to the pool (no privilege carry-over; a failed re-bind drops it). TLS
//! (`ldaps://` or StartTLS) always validates the chain and the host name against the
//! configured CA or the system roots; StartTLS failure aborts, never falls back.

use super::rules::{self, AdAccountState, GroupWalk};
use crate::domain::connection::{ConnectionConfig, ConnectionKind};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a directory login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory cannot be reached or refused the service account; the text is for
    /// logs and the admin diagnosis, never for the login page.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// No entry matched the login name.
    #[error("no such user")]
    NotFound,
    /// Several entries matched: refused (an ambiguous filter must not pick one).
    #[error("ambiguous user filter")]
    Ambiguous,
    /// Wrong password (or an unusable one, refused before any bind).
    #[error("invalid credentials")]
    BadCredentials,
    /// AD refused a correct password because of the account's state.
    #[error("account state {0:?}")]
    Account(AdAccountState),
}

/// A verified directory user.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    /// The entry's DN.
    pub dn: String,
    /// Stable id (entryUUID, objectGUID…).
    pub external_id: String,
    /// The entry's attributes, names lower-cased.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Every group the user is in, nested ones included (normalised DNs).
    pub groups: BTreeSet<String>,
}

/// What a pool needs: the connection's settings and its resolved service password.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// `ldap` or `active_directory`.
    pub kind: ConnectionKind,
    /// Settings.
    pub config: ConnectionConfig,
    /// Service account password (resolved from ciphertext or environment).
    pub bind_password: SecretString,
}

impl DirectorySettings {
    fn same_as(&self, other: &DirectorySettings) -> bool {
        self.kind == other.kind
            && self.config == other.config
            && self.bind_password.expose_secret() == other.bind_password.expose_secret()
    }

    fn timeout(&self) -> Duration {
        self.config.timeout()
    }
}

fn unavailable(stage: &str) -> impl Fn(ldap3::LdapError) -> DirectoryError + '_ {
    move |e| DirectoryError::Unavailable(format!("{stage}: {e}"))
}

/// The rustls configuration: the configured CA (PEM text or file), else the system
/// roots. Verification is never disabled.
pub fn tls_config(config: &ConnectionConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = match (&config.ca_pem, &config.ca_file) {
        (Some(p), _) => Some(p.clone().into_bytes()),
        (None, Some(f)) => {
            Some(std::fs::read(f).map_err(|e| format!("cannot read CA file {f}: {e}"))?)
        }
        (None, None) => None,
    };
    let certs = match pem {
        Some(pem) => crate::trust::pem_certificates(&pem)?,
        None => crate::trust::system_roots(),
    };
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Open a connection (TCP, TLS per settings) without binding.
pub async fn open(settings: &DirectorySettings) -> Result<Ldap, DirectoryError> {
    let cfg = &settings.config;
    let url = cfg.url.as_deref().unwrap_or_default();
    let mut conn_settings = LdapConnSettings::new()
        .set_conn_timeout(settings.timeout())
        .set_starttls(cfg.start_tls);
    if url.starts_with("ldaps:") || cfg.start_tls {
        conn_settings =
            conn_settings.set_config(tls_config(cfg).map_err(DirectoryError::Unavailable)?);
    }
    let (conn, ldap) = LdapConnAsync::with_settings(conn_settings, url)
        .await
        .map_err(unavailable("connect"))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// Bind as the service account; any refusal makes the directory unavailable for logins
/// (the text names the result code, never the password).
pub async fn service_bind(
    ldap: &mut Ldap,
    settings: &DirectorySettings,
) -> Result<(), DirectoryError> {
    let dn = settings.config.bind_dn.as_deref().unwrap_or_default();
    let res = ldap
        .with_timeout(settings.timeout())
        .simple_bind(dn, settings.bind_password.expose_secret())
        .await
        .map_err(unavailable("service bind"))?;
    if res.rc != 0 {
        return Err(DirectoryError::Unavailable(format!(
            "service bind refused: result {}{}",
            res.rc,
            if res.rc == 8 {
                " (strongerAuthRequired: use LDAPS or StartTLS)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// A bounded pool of service-bound connections to one directory.
#[derive(Debug)]
pub struct LdapPool {
    settings: DirectorySettings,
    idle: Mutex<Vec<Ldap>>,
    permits: Semaphore,
}

impl LdapPool {
    /// A pool of at most `pool_size` connections (default 4).
    pub fn new(settings: DirectorySettings) -> LdapPool {
        let size = settings.config.pool_size.unwrap_or(4) as usize;
        LdapPool {
            settings,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size),
        }
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let mut ldap = open(&self.settings).await?;
        service_bind(&mut ldap, &self.settings).await?;
        Ok(ldap)
    }

    fn take_idle(&self) -> Option<Ldap> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(mut l) = idle.pop() {
            if !l.is_closed() {
                return Some(l);
            }
        }
        None
    }

    fn give_back(&self, ldap: Ldap) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(ldap);
        }
    }

    /// Verify `login` / `password` and collect the user's entry and groups.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
    ) -> Result<DirectoryUser, DirectoryError> {
        if rules::unusable_password(password) {
            return Err(DirectoryError::BadCredentials);
        }
        let name = if self.settings.kind == ConnectionKind::ActiveDirectory {
            rules::ad_login_name(login, self.settings.config.domain.as_deref())
                .ok_or(DirectoryError::NotFound)?
        } else {
            login.to_owned()
        };
        let _permit = self.permit().await?;
        let mut ldap = match self.take_idle() {
            Some(l) => l,
            None => self.connect().await?,
        };
        let result = self.login_on(&mut ldap, &name, password).await;
        // Return the connection only when it is the service account's again.
        let reusable = match &result {
            Err(DirectoryError::Unavailable(_)) => false,
            _ => service_bind(&mut ldap, &self.settings).await.is_ok(),
        };
        if reusable {
            self.give_back(ldap);
        }
        result
    }

    /// Find a linked user again by its stable id, as the service account, and read the
    /// state of its account (SECURITY.md F7): `Ok(Err(state))` when the directory no
    /// longer lets it sign in, [`DirectoryError::NotFound`] when the entry is gone (or
    /// left the user base).
    pub async fn account_state(
        &self,
        external_id: &str,
        now: i64,
    ) -> Result<Result<(), AdAccountState>, DirectoryError> {
        let cfg = &self.settings.config;
        let filter = rules::id_filter(&cfg.id_attribute(self.settings.kind), external_id)
            .ok_or(DirectoryError::NotFound)?;
        let _permit = self.permit().await?;
        let mut ldap = match self.take_idle() {
            Some(l) => l,
            None => self.connect().await?,
        };
        let base = cfg.user_base_dn.as_deref().unwrap_or_default();
        let (entries, _) = ldap
            .with_search_options(self.search_options(2))
            .with_timeout(self.settings.timeout())
            .search(
                base,
                Scope::Subtree,
                &filter,
                rules::ACCOUNT_STATE_ATTRIBUTES.to_vec(),
            )
            .await
            .map_err(unavailable("account search"))?
            .success()
            .map_err(unavailable("account search"))?;
        // Only a connection whose search succeeded is known to be healthy and bound.
        self.give_back(ldap);
        let mut found: Vec<SearchEntry> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .collect();
        let entry = match found.len() {
            0 => return Err(DirectoryError::NotFound),
            1 => found.remove(0),
            _ => return Err(DirectoryError::Ambiguous),
        };
        let attrs = entry
            .attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        Ok(rules::account_state(&attrs, now))
    }

    /// Wait at most one timeout for a free connection: a flood of logins queues here
    /// instead of opening unbounded connections.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, DirectoryError> {
        tokio::time::timeout(self.settings.timeout(), self.permits.acquire())
            .await
            .map_err(|_| DirectoryError::Unavailable("pool exhausted".into()))?
            .map_err(|_| DirectoryError::Unavailable("pool closed".into()))
    }

    async fn login_on(
        &self,
        ldap: &mut Ldap,
        name: &str,
        password: &str,
    ) -> Result<DirectoryUser, DirectoryError> {
        let (dn, attrs, external_id) = self.find_user(ldap, name).await?;
        let res = ldap
            .with_timeout(self.settings.timeout())
            .simple_bind(&dn, password)
            .await
            .map_err(unavailable("user bind"))?;
        match res.rc {
            0 => {}
            49 if self.settings.kind == ConnectionKind::ActiveDirectory => {
                return Err(match rules::decode_ad_bind_error(&res.text) {
                    AdAccountState::BadCredentials => DirectoryError::BadCredentials,
                    state => DirectoryError::Account(state),
                });
            }
            // invalidCredentials, inappropriateAuthentication, unwillingToPerform.
            49 | 48 | 53 => return Err(DirectoryError::BadCredentials),
            rc => {
                return Err(DirectoryError::Unavailable(format!(
                    "user bind: result {rc}"
                )));
            }
        }
        // The password was right: AD's disabled bit is reported only now.
        if self.settings.kind == ConnectionKind::ActiveDirectory
            && rules::first(&attrs, "userAccountControl")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|uac| uac & 2 != 0)
        {
            return Err(DirectoryError::Account(AdAccountState::Disabled));
        }
        // Groups are read as the service account, not as the user.
        service_bind(ldap, &self.settings).await?;
        let groups = self.groups(ldap, &dn, &attrs, name).await?;
        Ok(DirectoryUser {
            dn,
            external_id,
            attributes: attrs,
            groups,
        })
    }

    fn wanted_attributes(&self) -> Vec<String> {
        let cfg = &self.settings.config;
        let mut a: Vec<String> = cfg.attributes.values().cloned().collect();
        a.extend(
            [
                cfg.id_attribute(self.settings.kind).as_str(),
                "memberOf",
                "uid",
                "sAMAccountName",
                "userPrincipalName",
                "userAccountControl",
                "cn",
            ]
            .map(String::from),
        );
        a
    }

    async fn find_user(
        &self,
        ldap: &mut Ldap,
        name: &str,
    ) -> Result<(String, BTreeMap<String, Vec<String>>, String), DirectoryError> {
        let cfg = &self.settings.config;
        let filter = rules::user_filter(&cfg.user_filter(self.settings.kind), name);
        let base = cfg.user_base_dn.as_deref().unwrap_or_default();
        let (entries, res) = ldap
            .with_search_options(self.search_options(2))
            .with_timeout(self.settings.timeout())
            .search(base, Scope::Subtree, &filter, self.wanted_attributes())
            .await
            .map_err(unavailable("user search"))?
            .non_error()
            .map_err(unavailable("user search"))?;
        // sizeLimitExceeded (4) means at least two entries: ambiguous.
        if res.rc == 4 {
            return Err(DirectoryError::Ambiguous);
        }
        // Referrals (AD returns them on subtree searches) are skipped, never chased.
        let mut found: Vec<SearchEntry> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .collect();
        let entry = match found.len() {
            0 => return Err(DirectoryError::NotFound),
            1 => found.remove(0),
            _ => return Err(DirectoryError::Ambiguous),
        };
        let id_attr = cfg.id_attribute(self.settings.kind);
        let external_id = external_id(&entry, &id_attr).ok_or_else(|| {
            DirectoryError::Unavailable(format!("the user entry has no {id_attr} attribute"))
        })?;
        let attrs = entry
            .attrs
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        Ok((entry.dn, attrs, external_id))
    }

    fn search_options(&self, size: i32) -> SearchOptions {
        let secs = self.settings.timeout().as_secs().max(1) as i32;
        SearchOptions::new().sizelimit(size).timelimit(secs)
    }

    fn group_base(&self) -> String {
        let cfg = &self.settings.config;
        cfg.groups
            .as_ref()
            .and_then(|g| g.base_dn.clone())
            .or_else(|| cfg.user_base_dn.clone())
            .unwrap_or_default()
    }

    async fn search_dns(
        &self,
        ldap: &mut Ldap,
        base: &str,
        scope: Scope,
        filter: &str,
        attr: &str,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let (entries, _) = ldap
            .with_search_options(self.search_options(rules::MAX_GROUPS as i32))
            .with_timeout(self.settings.timeout())
            .search(base, scope, filter, vec![attr])
            .await
            .map_err(unavailable("group search"))?
            .success()
            .map_err(unavailable("group search"))?;
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref())
            .map(SearchEntry::construct)
            .collect())
    }

    /// The user's groups: `memberOf` or a membership search, then nesting resolved by the
    /// in-chain rule (AD) or a bounded, cycle-safe walk.
    async fn groups(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        attrs: &BTreeMap<String, Vec<String>>,
        name: &str,
    ) -> Result<BTreeSet<String>, DirectoryError> {
        let kind = self.settings.kind;
        let g = self.settings.config.group_settings(kind);
        let object_filter = g
            .filter
            .clone()
            .unwrap_or_else(|| rules::GROUP_OBJECT_FILTER.to_owned());
        let member_attr = g
            .member_attribute
            .clone()
            .unwrap_or_else(|| "member".into());
        let base = self.group_base();
        let nested = g.nested.unwrap_or(true);
        let uses_uid = member_attr.eq_ignore_ascii_case("memberUid");
        let direct: Vec<String> = if g.use_member_of.unwrap_or(false) {
            attrs.get("memberof").cloned().unwrap_or_default()
        } else {
            let value = if uses_uid {
                rules::first(attrs, "uid").unwrap_or(name).to_owned()
            } else {
                dn.to_owned()
            };
            let filter = rules::member_filter(&object_filter, &member_attr, &value);
            self.search_dns(ldap, &base, Scope::Subtree, &filter, "1.1")
                .await?
                .into_iter()
                .map(|e| e.dn)
                .collect()
        };
        if kind == ConnectionKind::ActiveDirectory && nested && !uses_uid {
            let filter = rules::in_chain_filter(&object_filter, dn);
            match self
                .search_dns(ldap, &base, Scope::Subtree, &filter, "1.1")
                .await
            {
                // AD's answer always holds the direct groups; a server that ignores the
                // rule (OpenLDAP answers an empty success) is caught by that check.
                Ok(found) => {
                    let all: BTreeSet<String> = found
                        .into_iter()
                        .map(|e| rules::normalize_dn(&e.dn))
                        .collect();
                    if direct.iter().all(|d| all.contains(&rules::normalize_dn(d))) {
                        return Ok(all);
                    }
                    tracing::warn!(
                        "in-chain group query missed direct groups; resolving nesting client-side"
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "in-chain group query failed; resolving nesting client-side");
                }
            }
        }
        if !nested || uses_uid {
            return Ok(direct.iter().map(|d| rules::normalize_dn(d)).collect());
        }
        let mut walk = GroupWalk::new(direct);
        let by_member_of = g.use_member_of.unwrap_or(false);
        loop {
            // One search per batch of groups (a BFS level, at most GROUP_BATCH), not one
            // per group: depth-many round trips for a wide tree.
            let mut batch: Vec<(String, usize)> = Vec::new();
            while batch.len() < rules::GROUP_BATCH {
                match walk.next_group() {
                    Some(item) => batch.push(item),
                    None => break,
                }
            }
            let Some(depth) = batch.iter().map(|(_, d)| *d).max() else {
                break;
            };
            let parents: Vec<String> = if by_member_of {
                let mut found = Vec::new();
                for (group, _) in &batch {
                    found.extend(
                        self.search_dns(ldap, group, Scope::Base, "(objectClass=*)", "memberOf")
                            .await?
                            .into_iter()
                            .flat_map(|e| e.attrs.into_iter())
                            .filter(|(k, _)| k.eq_ignore_ascii_case("memberOf"))
                            .flat_map(|(_, v)| v),
                    );
                }
                found
            } else {
                let groups: Vec<String> = batch.into_iter().map(|(g, _)| g).collect();
                let filter = rules::member_any_filter(&object_filter, &member_attr, &groups);
                self.search_dns(ldap, &base, Scope::Subtree, &filter, "1.1")
                    .await?
                    .into_iter()
                    .map(|e| e.dn)
                    .collect()
            };
            walk.parents(parents, depth);
        }
        if walk.truncated {
            tracing::warn!("group nesting bound reached; deeper groups ignored");
        }
        Ok(walk.groups())
    }
}

/// The stable id: text attributes as they are, binary ones (objectGUID) as a UUID in
/// AD's byte order, other binary values as hex.
fn external_id(entry: &SearchEntry, attr: &str) -> Option<String> {
    let text = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned());
    if text.is_some() {
        return text;
    }
    let bin = entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())?;
    if bin.len() == 16 {
        let mut b = [0u8; 16];
        b.copy_from_slice(bin);
        return Some(uuid::Uuid::from_bytes_le(b).to_string());
    }
    Some(bin.iter().map(|x| format!("{x:02x}")).collect())
}

/// One pool per connection, rebuilt when the connection's settings or secret change.
#[derive(Debug, Default)]
pub struct Directories {
    pools: Mutex<HashMap<String, Arc<LdapPool>>>,
}

impl Directories {
    /// The pool of connection `id` for these settings.
    pub fn pool(&self, id: &str, settings: DirectorySettings) -> Arc<LdapPool> {
        let Ok(mut pools) = self.pools.lock() else {
            return Arc::new(LdapPool::new(settings));
        };
        if let Some(p) = pools.get(id)
            && p.settings.same_as(&settings)
        {
            return Arc::clone(p);
        }
        let p = Arc::new(LdapPool::new(settings));
        pools.insert(id.to_owned(), Arc::clone(&p));
        p
    }

    /// Forget a deleted connection's pool.
    pub fn forget(&self, id: &str) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.remove(id);
        }
    }
}

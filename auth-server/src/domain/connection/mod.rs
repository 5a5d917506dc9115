//! Identity connections of a subscription (DESIGN.md "Connections"): LDAP, Active
//! Directory and upstream OIDC. This module owns the validated shape of a connection,
//! the admin API's input and its validation (every error names its field), and the
//! pure home-realm rule that decides which connection a login name belongs to.

mod realm;
#[cfg(test)]
mod tests;

pub use realm::{claims, home_realm};

use super::ValidationError;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// A generic LDAP directory (OpenLDAP, 389 DS, …).
    Ldap,
    /// Microsoft Active Directory (or Samba AD).
    ActiveDirectory,
    /// An upstream OpenID Connect provider (SSO).
    Oidc,
}

impl ConnectionKind {
    /// The stored and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Ldap => "ldap",
            ConnectionKind::ActiveDirectory => "active_directory",
            ConnectionKind::Oidc => "oidc",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<ConnectionKind> {
        match s {
            "ldap" => Some(ConnectionKind::Ldap),
            "active_directory" => Some(ConnectionKind::ActiveDirectory),
            "oidc" => Some(ConnectionKind::Oidc),
            _ => None,
        }
    }

    /// LDAP or AD: the login form's password is checked by the directory.
    pub fn is_directory(self) -> bool {
        !matches!(self, ConnectionKind::Oidc)
    }
}

/// A secret as the admin API accepts it: the value itself, or the name of an
/// environment variable of the server holding it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SecretInput {
    /// Named environment variable, resolved at every use.
    Env {
        /// Variable name.
        env: String,
    },
    /// The secret value (write-only: never returned).
    #[schema(value_type = String)]
    Value(SecretString),
}

/// Where a stored connection's secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSecret {
    /// No secret (not valid for a directory or OIDC connection once validated).
    None,
    /// AES-256-GCM ciphertext under the master key.
    Encrypted(Vec<u8>),
    /// Name of an environment variable.
    Env(String),
}

/// Group lookup of a directory connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSettings {
    /// Where groups live (defaults to the user base DN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dn: Option<String>,
    /// Group object filter, no placeholder (default `(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Membership attribute of a group: `member`, `uniqueMember` (values are DNs) or
    /// `memberUid` (values are login names). Default `member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_attribute: Option<String>,
    /// Read groups from the user's `memberOf` instead of searching (default: true for AD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_member_of: Option<bool>,
    /// Resolve nested groups (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested: Option<bool>,
}

/// One rule: members of a directory group (DN, or an upstream `groups` claim value) are
/// members of a workspace group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// Group DN (LDAP/AD, compared case-insensitively) or claim value (OIDC, exact).
    pub directory_group: String,
    /// Workspace slug.
    pub workspace: String,
    /// Group name in that workspace.
    pub group: String,
}

/// The non-secret settings of a connection, stored as JSON. Fields not used by a kind are
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Directory URL, `ldap://` or `ldaps://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Upgrade `ldap://` with StartTLS (failure aborts, never falls back to plaintext).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_tls: bool,
    /// PEM of the CA(s) that sign the directory's or the upstream OIDC provider's
    /// certificate; replaces the system roots for this connection (default: system roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Path of a PEM CA file on the server, read at connection time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Service account DN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    /// Where users are searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_base_dn: Option<String>,
    /// Search filter with `{username}` (escaped by the server, RFC 4515).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// Attribute holding the stable external id (default `entryUUID`, AD `objectGUID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_attribute: Option<String>,
    /// User attribute (`email`, `name`, or any ACL attribute) → LDAP attribute or claim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Group lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupSettings>,
    /// AD NetBIOS domain (`CORP` in `CORP\alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// AD UPN suffix (`corp.example` in `alice@corp.example`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn_suffix: Option<String>,
    /// Connect and operation timeout, seconds (default 5, at most 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Pooled service connections (default 4, at most 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    /// Seconds for which a directory user's account state, checked on refresh, is
    /// trusted (default 60; 0 checks on every refresh; SECURITY.md F7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_recheck_secs: Option<u64>,
    /// Upstream issuer (OIDC discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Our client id at the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Scopes asked of the upstream (`openid` is always added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// User attribute → upstream claim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    /// Claim holding the user's upstream groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Upstream `amr` values counted as a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_amr_values: Option<Vec<String>>,
    /// Whether upstream MFA satisfies our 2FA policy (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_upstream_mfa: Option<bool>,
    /// Group mapping rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_mappings: Vec<GroupMapping>,
    /// E-mail domains this connection claims on the login form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Login-name patterns (`*` wildcard, case-insensitive) this connection claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub username_patterns: Vec<String>,
}

/// A stored, validated connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Id.
    pub id: String,
    /// Unique name in the subscription (used in URLs: `[a-z0-9][a-z0-9-]{0,62}`).
    pub name: String,
    /// Kind.
    pub kind: ConnectionKind,
    /// Disabled connections are skipped by the login form.
    pub enabled: bool,
    /// Order among the subscription's connections (ascending).
    pub order: i64,
    /// Settings.
    pub config: ConnectionConfig,
    /// The bind password or client secret.
    pub secret: StoredSecret,
    /// Last change (Unix seconds): pooled directory connections are rebuilt after it.
    pub updated_at: i64,
}

/// Default user filter of a generic LDAP connection.
pub const LDAP_DEFAULT_FILTER: &str = "(&(objectClass=person)(uid={username}))";
/// Default user filter of an AD connection: persons only, disabled accounts excluded by
/// LDAP_MATCHING_RULE_BIT_AND on userAccountControl bit 2 (SECURITY.md §4.3).
pub const AD_DEFAULT_FILTER: &str = "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={username})))";

impl ConnectionConfig {
    /// Timeout of connects and operations.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(5))
    }

    /// How long a checked directory account state is trusted on refresh.
    pub fn account_recheck(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.account_recheck_secs.unwrap_or(60))
    }

    /// The group settings with the kind's defaults applied.
    pub fn group_settings(&self, kind: ConnectionKind) -> GroupSettings {
        let mut g = self.groups.clone().unwrap_or_default();
        let ad = kind == ConnectionKind::ActiveDirectory;
        g.use_member_of.get_or_insert(ad);
        g.nested.get_or_insert(true);
        g.member_attribute.get_or_insert_with(|| "member".into());
        g
    }

    /// The attribute holding the stable external id.
    pub fn id_attribute(&self, kind: ConnectionKind) -> String {
        self.id_attribute.clone().unwrap_or_else(|| {
            if kind == ConnectionKind::ActiveDirectory {
                "objectGUID".into()
            } else {
                "entryUUID".into()
            }
        })
    }

    /// The user filter with the kind's default.
    pub fn user_filter(&self, kind: ConnectionKind) -> String {
        self.user_filter.clone().unwrap_or_else(|| {
            if kind == ConnectionKind::ActiveDirectory {
                AD_DEFAULT_FILTER.into()
            } else {
                LDAP_DEFAULT_FILTER.into()
            }
        })
    }
}

/// The admin API's body for creating (and, merged over the current values, patching) a
/// connection.
// Parsed with [`ConnectionInput::from_json`], not serde directly: `deny_unknown_fields`
// does not work beside `flatten`, and every error must name its member.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ConnectionInput {
    /// Unique name (`[a-z0-9][a-z0-9-]{0,62}`), shown in SSO URLs.
    pub name: String,
    /// `ldap`, `active_directory` or `oidc`.
    pub kind: ConnectionKind,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Order (default 0; ties by name).
    #[serde(default)]
    pub order: Option<i64>,
    /// Directory service account password (write-only).
    #[serde(default)]
    pub bind_password: Option<SecretInput>,
    /// Upstream client secret (write-only).
    #[serde(default)]
    pub client_secret: Option<SecretInput>,
    /// Everything else.
    #[serde(flatten)]
    pub config: ConnectionConfig,
}

/// The members that are not [`ConnectionConfig`] settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    name: String,
    kind: ConnectionKind,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    order: Option<i64>,
    #[serde(default)]
    bind_password: Option<SecretInput>,
    #[serde(default)]
    client_secret: Option<SecretInput>,
}

fn parse_part<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // The path already ends with an unknown member's name.
        let field = if let Some(rest) = message.strip_prefix("missing field `") {
            rest.split('`').next().unwrap_or_default().to_owned()
        } else if path.is_empty() || path == "." {
            "body".to_owned()
        } else {
            path
        };
        let message = if message.starts_with("data did not match any variant") {
            "must be a string or {\"env\": NAME}".to_owned()
        } else {
            message
        };
        ValidationError::new(field, message)
    })
}

impl ConnectionInput {
    /// Parse a JSON object; an unknown member, a wrong type or a missing `name`/`kind`
    /// is an error naming that member.
    pub fn from_json(
        mut body: serde_json::Map<String, serde_json::Value>,
    ) -> Result<ConnectionInput, ValidationError> {
        let mut head = serde_json::Map::new();
        for k in [
            "name",
            "kind",
            "enabled",
            "order",
            "bind_password",
            "client_secret",
        ] {
            if let Some(v) = body.remove(k) {
                head.insert(k.to_owned(), v);
            }
        }
        let h: Head = parse_part(serde_json::Value::Object(head))?;
        let config: ConnectionConfig = parse_part(serde_json::Value::Object(body))?;
        Ok(ConnectionInput {
            name: h.name,
            kind: h.kind,
            enabled: h.enabled,
            order: h.order,
            bind_password: h.bind_password,
            client_secret: h.client_secret,
            config,
        })
    }
}

fn invalid(field: &str, message: &str) -> ValidationError {
    ValidationError::new(field, message)
}

fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// Check a secret's shape; `None` when absent.
pub fn check_secret(field: &str, s: &SecretInput) -> Result<(), ValidationError> {
    use secrecy::ExposeSecret;
    match s {
        SecretInput::Env { env } if !is_env_name(env) => Err(invalid(
            field,
            "env must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)",
        )),
        SecretInput::Value(v) if v.expose_secret().trim().is_empty() => Err(invalid(
            field,
            "must not be empty: an empty bind password is an unauthenticated bind",
        )),
        _ => Ok(()),
    }
}

fn require<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, ValidationError> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(field, "is required for this kind")),
    }
}

fn unused(c: &ConnectionConfig, kind: ConnectionKind) -> Option<&'static str> {
    // `ca_pem`/`ca_file` belong to every kind: LDAPS/StartTLS and the upstream OIDC
    // provider's HTTPS alike.
    let dir = [
        ("url", c.url.is_some()),
        ("start_tls", c.start_tls),
        ("bind_dn", c.bind_dn.is_some()),
        ("user_base_dn", c.user_base_dn.is_some()),
        ("user_filter", c.user_filter.is_some()),
        ("id_attribute", c.id_attribute.is_some()),
        ("attributes", !c.attributes.is_empty()),
        ("groups", c.groups.is_some()),
        ("timeout_secs", false),
        ("pool_size", c.pool_size.is_some()),
        ("account_recheck_secs", c.account_recheck_secs.is_some()),
    ];
    let ad = [
        ("domain", c.domain.is_some()),
        ("upn_suffix", c.upn_suffix.is_some()),
    ];
    let oidc = [
        ("issuer", c.issuer.is_some()),
        ("client_id", c.client_id.is_some()),
        ("scopes", !c.scopes.is_empty()),
        ("claims", !c.claims.is_empty()),
        ("groups_claim", c.groups_claim.is_some()),
        ("mfa_amr_values", c.mfa_amr_values.is_some()),
        ("trust_upstream_mfa", c.trust_upstream_mfa.is_some()),
    ];
    let foreign: Vec<(&'static str, bool)> = match kind {
        ConnectionKind::Ldap => ad.iter().chain(oidc.iter()).copied().collect(),
        ConnectionKind::ActiveDirectory => oidc.to_vec(),
        ConnectionKind::Oidc => dir.iter().chain(ad.iter()).copied().collect(),
    };
    foreign.into_iter().find(|(_, set)| *set).map(|(f, _)| f)
}

/// Validate an input; `has_secret` says whether a secret is already stored (PATCH).
pub fn validate(input: &ConnectionInput, has_secret: bool) -> Result<(), ValidationError> {
    let c = &input.config;
    if !is_name(&input.name) {
        return Err(invalid(
            "name",
            "must be 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit",
        ));
    }
    if let Some(f) = unused(c, input.kind) {
        return Err(invalid(
            f,
            &format!("is not a setting of a {} connection", input.kind.as_str()),
        ));
    }
    if let Some(s) = &input.bind_password {
        if !input.kind.is_directory() {
            return Err(invalid(
                "bind_password",
                "is not a setting of an oidc connection",
            ));
        }
        check_secret("bind_password", s)?;
    }
    if let Some(s) = &input.client_secret {
        if input.kind.is_directory() {
            return Err(invalid(
                "client_secret",
                "is a setting of oidc connections only",
            ));
        }
        check_secret("client_secret", s)?;
    }
    for (i, d) in c.domains.iter().enumerate() {
        if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) || !d.contains('.') {
            return Err(invalid(
                &format!("domains[{i}]"),
                "must be a domain name such as corp.example",
            ));
        }
    }
    for (i, p) in c.username_patterns.iter().enumerate() {
        if p.trim().is_empty() || p.chars().all(|ch| ch == '*') {
            return Err(invalid(
                &format!("username_patterns[{i}]"),
                "must contain more than wildcards",
            ));
        }
    }
    for (i, m) in c.group_mappings.iter().enumerate() {
        if m.directory_group.trim().is_empty() {
            return Err(invalid(
                &format!("group_mappings[{i}].directory_group"),
                "must not be empty",
            ));
        }
        if !is_name(&m.workspace) {
            return Err(invalid(
                &format!("group_mappings[{i}].workspace"),
                "must be a workspace slug",
            ));
        }
        if m.group.trim().is_empty() {
            return Err(invalid(
                &format!("group_mappings[{i}].group"),
                "must not be empty",
            ));
        }
    }
    if let Some(t) = c.timeout_secs
        && !(1..=30).contains(&t)
    {
        return Err(invalid("timeout_secs", "must be between 1 and 30"));
    }
    if let Some(p) = c.pool_size
        && !(1..=32).contains(&p)
    {
        return Err(invalid("pool_size", "must be between 1 and 32"));
    }
    if c.account_recheck_secs.is_some_and(|s| s > 3600) {
        return Err(invalid(
            "account_recheck_secs",
            "must be between 0 and 3600",
        ));
    }
    if input.kind.is_directory() {
        validate_directory(input, has_secret)
    } else {
        validate_oidc(input, has_secret)
    }
}

fn validate_directory(input: &ConnectionInput, has_secret: bool) -> Result<(), ValidationError> {
    let c = &input.config;
    let url = require(&c.url, "url")?;
    let parsed =
        url::Url::parse(url).map_err(|_| invalid("url", "must be an ldap:// or ldaps:// URL"))?;
    match parsed.scheme() {
        "ldaps" if c.start_tls => {
            return Err(invalid(
                "start_tls",
                "cannot be combined with an ldaps:// URL",
            ));
        }
        "ldap" | "ldaps" => {}
        _ => return Err(invalid("url", "must be an ldap:// or ldaps:// URL")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", "must name a host"));
    }
    validate_ca(c)?;
    require(&c.bind_dn, "bind_dn")?;
    require(&c.user_base_dn, "user_base_dn")?;
    if input.bind_password.is_none() && !has_secret {
        // SECURITY.md §4.2: never rely on anonymous reads.
        return Err(invalid(
            "bind_password",
            "is required: the server searches with a service account, never anonymously",
        ));
    }
    if let Some(f) = &c.user_filter {
        let f = f.trim();
        if !(f.starts_with('(') && f.ends_with(')')) || f.matches("{username}").count() == 0 {
            return Err(invalid(
                "user_filter",
                "must be a parenthesised LDAP filter containing {username}",
            ));
        }
        if f.matches('(').count() != f.matches(')').count() {
            return Err(invalid("user_filter", "has unbalanced parentheses"));
        }
    }
    if let Some(g) = &c.groups {
        if let Some(a) = &g.member_attribute {
            let known = ["member", "uniquemember", "memberuid"];
            if !known.contains(&a.to_ascii_lowercase().as_str()) {
                return Err(invalid(
                    "groups.member_attribute",
                    "must be member, uniqueMember or memberUid",
                ));
            }
        }
        if let Some(f) = &g.filter
            && (f.contains("{username}") || !f.trim().starts_with('('))
        {
            return Err(invalid(
                "groups.filter",
                "must be a parenthesised group object filter without placeholders",
            ));
        }
    }
    for (k, v) in &c.attributes {
        if k.is_empty() || v.trim().is_empty() {
            return Err(invalid(
                &format!("attributes.{k}"),
                "must map a user attribute to an LDAP attribute name",
            ));
        }
    }
    Ok(())
}

/// The connection's own trust anchors: PEM text or a file, not both.
fn validate_ca(c: &ConnectionConfig) -> Result<(), ValidationError> {
    if let Some(pem) = &c.ca_pem
        && !pem.contains("-----BEGIN CERTIFICATE-----")
    {
        return Err(invalid("ca_pem", "must contain a PEM certificate"));
    }
    if c.ca_pem.is_some() && c.ca_file.is_some() {
        return Err(invalid(
            "ca_file",
            "give either ca_pem or ca_file, not both",
        ));
    }
    Ok(())
}

fn validate_oidc(input: &ConnectionInput, has_secret: bool) -> Result<(), ValidationError> {
    let c = &input.config;
    validate_ca(c)?;
    let issuer = require(&c.issuer, "issuer")?;
    let u = url::Url::parse(issuer).map_err(|_| invalid("issuer", "must be an https URL"))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
        return Err(invalid("issuer", "must be an https URL"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(invalid("issuer", "must not have a query or fragment"));
    }
    require(&c.client_id, "client_id")?;
    if input.client_secret.is_none() && !has_secret {
        return Err(invalid("client_secret", "is required"));
    }
    for (i, s) in c.scopes.iter().enumerate() {
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(invalid(&format!("scopes[{i}]"), "must be one scope token"));
        }
    }
    Ok(())
}

//! Request and response bodies of the admin API, and their conversion to validated
//! domain values (every error names its field).

use crate::domain::{
    AuthMethod, ClientSpec, GrantType, RedirectUri, Scope, TokenFormat, User, ValidationError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A page of results; pass `next` back as `?after=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, `null` at the end.
    pub next: Option<String>,
}

/// `?after=&limit=` of list calls.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Cursor from the previous page.
    pub after: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u64>,
}

impl PageQuery {
    /// The validated page size.
    pub fn limit(&self) -> Result<u64, ValidationError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ValidationError::new("limit", "must be between 1 and 200")),
        }
    }
}

/// Build a page from one extra item fetched beyond `limit`.
pub fn page<T>(mut items: Vec<T>, limit: u64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(&cursor)
    } else {
        None
    };
    Page { items, next }
}

/// `POST /subscriptions`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// `[a-z0-9][a-z0-9-]{1,62}`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The subscription's own database (`postgres://`, `postgresql://` or `sqlite:`),
    /// which will hold all its tenant data; omitted: the shared database. A secret: it
    /// is stored encrypted and never returned.
    #[schema(value_type = Option<String>)]
    pub database_url: Option<secrecy::SecretString>,
}

/// Credentials of the minted MCP client, returned once.
#[derive(Debug, Serialize, ToSchema)]
pub struct McpClient {
    /// Client id.
    pub client_id: String,
    /// Secret (shown once).
    pub client_secret: String,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// Internal id.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Its issuer URL.
    pub issuer: String,
    /// Policy settings.
    pub settings: crate::domain::SubscriptionSettings,
    /// Whether its tenant data lives in a dedicated database (the URL is never shown).
    pub dedicated_database: bool,
    /// Only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_client: Option<McpClient>,
}

/// `PATCH /subscriptions/{slug}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSubscription {
    /// New name.
    pub name: Option<String>,
    /// New settings (all members replace the old ones; omitted members keep theirs).
    pub settings: Option<PatchSettings>,
}

/// Partial settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSettings {
    /// `off | optional | required`.
    pub mfa_policy: Option<String>,
    /// `off | open | token`.
    pub registration: Option<String>,
    /// Client-id metadata documents.
    pub client_id_metadata_documents: Option<bool>,
    /// Allowed MCP resources.
    pub mcp_resources: Option<Vec<String>>,
    /// Scopes registered clients may get (space-separated).
    pub registration_scope: Option<String>,
    /// Registered clients allowed at once (0–100000).
    pub registration_max_clients: Option<u32>,
    /// Registrations per hour (1–100000).
    pub registration_per_hour: Option<u32>,
    /// Token requests per minute per AI client (1–100000).
    pub mcp_tokens_per_minute: Option<u32>,
    /// Active access tokens per AI client (1–1000000).
    pub mcp_max_active_tokens: Option<u32>,
    /// Audit retention in days (1–36500); `auth-server audit prune` applies it.
    pub audit_retention_days: Option<u32>,
    /// Login-page branding; each member given replaces the old one, `""` clears it.
    pub branding: Option<PatchBranding>,
    /// Page language when the request names none: `en | de`.
    pub default_language: Option<String>,
}

/// Partial branding: `""` clears a member, an omitted member keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBranding {
    /// Header name, 1–100 characters.
    pub display_name: Option<String>,
    /// `https://` URL or `data:image/png|jpeg|svg+xml;base64,…` (at most 64 KiB).
    pub logo: Option<String>,
    /// `#rgb` or `#rrggbb`.
    pub primary_color: Option<String>,
}

impl PatchBranding {
    /// Merge into `b`, naming the refused member as `settings.branding.{member}`.
    fn apply(
        self,
        mut b: crate::domain::branding::Branding,
    ) -> Result<crate::domain::branding::Branding, ValidationError> {
        use crate::domain::branding::{parse_color, parse_display_name, parse_logo};
        fn member(
            v: Option<String>,
            slot: &mut Option<String>,
            field: &str,
            parse: fn(&str) -> Result<String, crate::domain::branding::BrandingError>,
        ) -> Result<(), ValidationError> {
            match v.as_deref() {
                None => {}
                Some("") => *slot = None,
                Some(x) => {
                    *slot = Some(parse(x).map_err(|e| {
                        ValidationError::new(format!("settings.branding.{field}"), e.to_string())
                    })?)
                }
            }
            Ok(())
        }
        member(
            self.display_name,
            &mut b.display_name,
            "display_name",
            parse_display_name,
        )?;
        member(self.logo, &mut b.logo, "logo", parse_logo)?;
        member(
            self.primary_color,
            &mut b.primary_color,
            "primary_color",
            parse_color,
        )?;
        Ok(b)
    }
}

impl PatchSettings {
    /// Merge into `s`, validating each member.
    pub fn apply(
        self,
        mut s: crate::domain::SubscriptionSettings,
    ) -> Result<crate::domain::SubscriptionSettings, ValidationError> {
        if let Some(m) = self.mfa_policy {
            if !["off", "optional", "required"].contains(&m.as_str()) {
                return Err(ValidationError::new(
                    "settings.mfa_policy",
                    "must be off, optional or required",
                ));
            }
            s.mfa_policy = m;
        }
        if let Some(r) = self.registration {
            if !["off", "open", "token"].contains(&r.as_str()) {
                return Err(ValidationError::new(
                    "settings.registration",
                    "must be off, open or token",
                ));
            }
            s.registration = r;
        }
        if let Some(b) = self.client_id_metadata_documents {
            s.client_id_metadata_documents = b;
        }
        if let Some(list) = self.mcp_resources {
            for (i, r) in list.iter().enumerate() {
                if url::Url::parse(r)
                    .map(|u| u.fragment().is_some())
                    .unwrap_or(true)
                {
                    return Err(ValidationError::new(
                        format!("settings.mcp_resources[{i}]"),
                        "must be an absolute URI without fragment",
                    ));
                }
            }
            s.mcp_resources = list;
        }
        if let Some(sc) = self.registration_scope {
            let parsed = crate::domain::Scope::parse(&sc)
                .map_err(|e| ValidationError::new("settings.registration_scope", e.to_string()))?;
            if parsed.contains("admin") {
                return Err(ValidationError::new(
                    "settings.registration_scope",
                    "registered clients can never get admin",
                ));
            }
            s.registration_scope = parsed.to_string();
        }
        if let Some(n) = self.registration_max_clients {
            if n > 100_000 {
                return Err(ValidationError::new(
                    "settings.registration_max_clients",
                    "must be between 0 and 100000",
                ));
            }
            s.registration_max_clients = n;
        }
        if let Some(n) = self.registration_per_hour {
            if !(1..=100_000).contains(&n) {
                return Err(ValidationError::new(
                    "settings.registration_per_hour",
                    "must be between 1 and 100000",
                ));
            }
            s.registration_per_hour = n;
        }
        if let Some(n) = self.mcp_tokens_per_minute {
            if !(1..=100_000).contains(&n) {
                return Err(ValidationError::new(
                    "settings.mcp_tokens_per_minute",
                    "must be between 1 and 100000",
                ));
            }
            s.mcp_tokens_per_minute = n;
        }
        if let Some(n) = self.mcp_max_active_tokens {
            if !(1..=1_000_000).contains(&n) {
                return Err(ValidationError::new(
                    "settings.mcp_max_active_tokens",
                    "must be between 1 and 1000000",
                ));
            }
            s.mcp_max_active_tokens = n;
        }
        if let Some(days) = self.audit_retention_days {
            if !(1..=36_500).contains(&days) {
                return Err(ValidationError::new(
                    "settings.audit_retention_days",
                    "must be between 1 and 36500 days",
                ));
            }
            s.audit_retention_days = Some(days);
        }
        if let Some(b) = self.branding {
            s.branding = b.apply(s.branding)?;
        }
        if let Some(l) = self.default_language {
            let lang = crate::domain::branding::Lang::from_tag(&l)
                .filter(|lang| lang.code() == l)
                .ok_or_else(|| {
                    ValidationError::new("settings.default_language", "must be en or de")
                })?;
            s.default_language = lang.code().to_owned();
        }
        Ok(s)
    }
}

/// `POST /subscriptions/{slug}/clients` (and the full form of PATCH).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    /// Display name.
    pub name: String,
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// RP-initiated logout targets.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Space-separated scopes the client may ask for.
    #[serde(default)]
    pub scope: String,
    /// `client_secret_basic | client_secret_post | private_key_jwt | none`.
    pub token_endpoint_auth_method: AuthMethod,
    /// `jwt` (default) or `opaque`.
    pub access_token_format: Option<TokenFormat>,
    /// Access token signing alg (default ES256).
    pub access_token_signing_alg: Option<String>,
    /// ID token signing alg (default RS256).
    pub id_token_signed_response_alg: Option<String>,
    /// May call `/introspect`.
    #[serde(default)]
    pub introspection: bool,
    /// Default audience.
    #[serde(default)]
    pub audience: Vec<String>,
    /// RFC 8707 resources it may ask for.
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    /// First-party: no consent screen (unless the request has `prompt=consent`).
    #[serde(default)]
    pub skip_consent: bool,
    /// JWK set for private_key_jwt.
    pub jwks: Option<serde_json::Value>,
    /// May receive the `mcp` scope.
    #[serde(default)]
    pub ai_access: bool,
}

fn uris(list: &[String], field: &str) -> Result<Vec<RedirectUri>, ValidationError> {
    list.iter()
        .enumerate()
        .map(|(i, u)| RedirectUri::parse(u, &format!("{field}[{i}]")))
        .collect()
}

fn uri_list(list: &[String], field: &str) -> Result<(), ValidationError> {
    for (i, u) in list.iter().enumerate() {
        if u.is_empty() || u.len() > 2000 || u.chars().any(char::is_control) {
            return Err(ValidationError::new(
                format!("{field}[{i}]"),
                "must be 1 to 2000 printable characters",
            ));
        }
    }
    Ok(())
}

impl ClientBody {
    /// Validate into a spec.
    pub fn into_spec(self) -> Result<(String, ClientSpec, bool), ValidationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.len() > 200 {
            return Err(ValidationError::new("name", "must be 1 to 200 characters"));
        }
        uri_list(&self.audience, "audience")?;
        uri_list(&self.allowed_resources, "allowed_resources")?;
        if self
            .jwks
            .as_ref()
            .is_some_and(|j| !j.get("keys").is_some_and(serde_json::Value::is_array))
        {
            return Err(ValidationError::new(
                "jwks",
                "must be a JWK set {\"keys\": [...]}",
            ));
        }
        let spec = ClientSpec {
            redirect_uris: uris(&self.redirect_uris, "redirect_uris")?,
            post_logout_redirect_uris: uris(
                &self.post_logout_redirect_uris,
                "post_logout_redirect_uris",
            )?,
            grant_types: self.grant_types,
            scope: Scope::parse(&self.scope)?,
            auth_method: self.token_endpoint_auth_method,
            access_token_format: self.access_token_format.unwrap_or(TokenFormat::Jwt),
            access_token_signing_alg: self
                .access_token_signing_alg
                .unwrap_or_else(|| "ES256".into()),
            id_token_signed_response_alg: self
                .id_token_signed_response_alg
                .unwrap_or_else(|| "RS256".into()),
            introspection: self.introspection,
            audience: self.audience,
            allowed_resources: self.allowed_resources,
            skip_consent: self.skip_consent,
            jwks: self.jwks,
        };
        if spec.grant_types.contains(&GrantType::AuthorizationCode) && spec.redirect_uris.is_empty()
        {
            return Err(ValidationError::new(
                "redirect_uris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        Ok((name, spec, self.ai_access))
    }
}

/// `POST /clients` answer: the id and the secret, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    /// Client id.
    pub client_id: String,
    /// Secret (confidential clients; shown once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// `POST /clients/{client_id}/rotate-secret` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret (shown once).
    pub client_secret: String,
}

/// A client as the admin API shows it (never the secret or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// Client id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Allowed scope.
    pub scope: String,
    /// Authentication method.
    pub token_endpoint_auth_method: AuthMethod,
    /// Access token format.
    pub access_token_format: TokenFormat,
    /// AT signing alg.
    pub access_token_signing_alg: String,
    /// ID token signing alg.
    pub id_token_signed_response_alg: String,
    /// May introspect.
    pub introspection: bool,
    /// Default audience.
    pub audience: Vec<String>,
    /// Allowed resources.
    pub allowed_resources: Vec<String>,
    /// No consent screen (unless the request has `prompt=consent`).
    pub skip_consent: bool,
    /// May receive `mcp`.
    pub ai_access: bool,
    /// Enabled.
    pub enabled: bool,
}

impl From<&crate::domain::Client> for ClientView {
    fn from(c: &crate::domain::Client) -> Self {
        let s = &c.spec;
        ClientView {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            redirect_uris: s
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            post_logout_redirect_uris: s
                .post_logout_redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            grant_types: s.grant_types.clone(),
            scope: s.scope.to_string(),
            token_endpoint_auth_method: s.auth_method,
            access_token_format: s.access_token_format,
            access_token_signing_alg: s.access_token_signing_alg.clone(),
            id_token_signed_response_alg: s.id_token_signed_response_alg.clone(),
            introspection: s.introspection,
            audience: s.audience.clone(),
            allowed_resources: s.allowed_resources.clone(),
            skip_consent: s.skip_consent,
            ai_access: c.ai_access,
            enabled: c.enabled,
        }
    }
}

/// `PATCH /clients/{client_id}`: omitted members keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchClient {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types.
    pub grant_types: Option<Vec<GrantType>>,
    /// Scope.
    pub scope: Option<String>,
    /// Access token format.
    pub access_token_format: Option<TokenFormat>,
    /// AT signing alg.
    pub access_token_signing_alg: Option<String>,
    /// ID token signing alg.
    pub id_token_signed_response_alg: Option<String>,
    /// May introspect.
    pub introspection: Option<bool>,
    /// Default audience.
    pub audience: Option<Vec<String>>,
    /// Allowed resources.
    pub allowed_resources: Option<Vec<String>>,
    /// No consent screen (unless the request has `prompt=consent`).
    pub skip_consent: Option<bool>,
    /// JWK set.
    pub jwks: Option<serde_json::Value>,
    /// May receive `mcp`.
    pub ai_access: Option<bool>,
    /// Enabled.
    pub enabled: Option<bool>,
}

impl PatchClient {
    /// Apply to an existing client.
    pub fn apply(
        self,
        mut c: crate::domain::Client,
    ) -> Result<crate::domain::Client, ValidationError> {
        let s = &mut c.spec;
        if let Some(v) = self.name {
            if v.trim().is_empty() || v.len() > 200 {
                return Err(ValidationError::new("name", "must be 1 to 200 characters"));
            }
            c.name = v.trim().to_owned();
        }
        if let Some(v) = self.redirect_uris {
            s.redirect_uris = uris(&v, "redirect_uris")?;
        }
        if let Some(v) = self.post_logout_redirect_uris {
            s.post_logout_redirect_uris = uris(&v, "post_logout_redirect_uris")?;
        }
        if let Some(v) = self.grant_types {
            s.grant_types = v;
        }
        if let Some(v) = self.scope {
            s.scope = Scope::parse(&v)?;
        }
        if let Some(v) = self.access_token_format {
            s.access_token_format = v;
        }
        if let Some(v) = self.access_token_signing_alg {
            s.access_token_signing_alg = v;
        }
        if let Some(v) = self.id_token_signed_response_alg {
            s.id_token_signed_response_alg = v;
        }
        if let Some(v) = self.introspection {
            s.introspection = v;
        }
        if let Some(v) = self.audience {
            uri_list(&v, "audience")?;
            s.audience = v;
        }
        if let Some(v) = self.allowed_resources {
            uri_list(&v, "allowed_resources")?;
            s.allowed_resources = v;
        }
        if let Some(v) = self.skip_consent {
            s.skip_consent = v;
        }
        if let Some(v) = self.jwks {
            s.jwks = Some(v);
        }
        if let Some(v) = self.ai_access {
            c.ai_access = v;
        }
        if let Some(v) = self.enabled {
            c.enabled = v;
        }
        if c.spec.grant_types.contains(&GrantType::AuthorizationCode)
            && c.spec.redirect_uris.is_empty()
        {
            return Err(ValidationError::new(
                "redirect_uris",
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        Ok(c)
    }
}

/// `POST /users`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Login name (normalised: NFKC, lower case).
    pub username: String,
    /// Initial password.
    pub password: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Attributes for ACL rules.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// System administrator (system admins only may set it).
    #[serde(default)]
    pub system_admin: bool,
    /// Administrator of this subscription.
    #[serde(default)]
    pub subscription_admin: bool,
}

/// `POST /users` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    /// The user's id (its `sub`).
    pub id: String,
}

/// A user (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id (`sub`).
    pub id: String,
    /// Normalised username.
    pub username: String,
    /// E-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Attributes.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// System administrator.
    pub system_admin: bool,
    /// Subscription administrator.
    pub subscription_admin: bool,
    /// Disabled.
    pub disabled: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            attributes: u.attributes.clone(),
            system_admin: u.system_admin,
            subscription_admin: u.subscription_admin,
            disabled: u.disabled,
        }
    }
}

/// `PATCH /users/{id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    /// New login name.
    pub username: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Attributes (replaces all).
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// System administrator.
    pub system_admin: Option<bool>,
    /// Subscription administrator.
    pub subscription_admin: Option<bool>,
    /// Disabled (revokes the user's tokens).
    pub disabled: Option<bool>,
}

/// `POST /users/{id}/password`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The new password (1–4096 bytes).
    pub password: String,
}

/// The initial access token for RFC 7591 registration (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct InitialAccessToken {
    /// Send as `Authorization: Bearer` to `/t/{slug}/register`.
    pub initial_access_token: String,
}

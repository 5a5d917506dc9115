//! Pure domain values: identifiers, scopes, redirect URIs, clients, users and
//! subscriptions. Parsing happens once at the edge (`parse`); inside the server an
//! invalid value cannot exist.

pub mod branding;
pub mod cimd;
mod client;
pub mod connection;
mod ids;
mod proxies;
mod redirect;
pub mod registration;
mod scope;
mod user;

pub use client::{AuthMethod, Client, ClientSpec, GrantType, TokenFormat};
pub use ids::{Slug, SubscriptionId};
pub use proxies::TrustedProxies;
pub use redirect::RedirectUri;
pub use scope::Scope;
pub use user::{User, Username};

use serde::{Deserialize, Serialize};

/// A validation failure at the edge, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The field (JSON member or parameter) that is wrong.
    pub field: String,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A tenant: one issuer, its own keys, clients and users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Internal id (UUID).
    pub id: SubscriptionId,
    /// URL slug; the issuer is `{public_url}/t/{slug}`.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Per-subscription policy.
    pub settings: SubscriptionSettings,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Whether its tenant data lives in a dedicated database (whose URL never leaves
    /// the store and the routing: it is a secret).
    pub dedicated_database: bool,
}

/// Subscription policy set by PATCHing the subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// `off | optional | required`.
    #[serde(default = "default_mfa")]
    pub mfa_policy: String,
    /// RFC 7591 registration: `off | open | token`.
    #[serde(default = "default_off")]
    pub registration: String,
    /// Accept client-id metadata documents.
    #[serde(default)]
    pub client_id_metadata_documents: bool,
    /// Resources (RFC 8707) a token carrying `mcp` may be bound to.
    #[serde(default)]
    pub mcp_resources: Vec<String>,
    /// Scopes a dynamically registered client may get (space-separated).
    #[serde(default = "default_registration_scope")]
    pub registration_scope: String,
    /// Registered clients allowed at once.
    #[serde(default = "default_registration_max")]
    pub registration_max_clients: u32,
    /// Registrations per hour (per subscription).
    #[serde(default = "default_registration_rate")]
    pub registration_per_hour: u32,
    /// SHA-256 of the initial access token (`registration: token`); never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub registration_token_sha256: Option<String>,
    /// Token requests per minute allowed to each AI (`mcp`) client.
    #[serde(default = "default_mcp_rate")]
    pub mcp_tokens_per_minute: u32,
    /// Access tokens each AI client may hold at once (issued within one lifetime).
    #[serde(default = "default_mcp_active")]
    pub mcp_max_active_tokens: u32,
    /// Audit retention in days, applied by `auth-server audit prune` (never silently);
    /// `None` keeps events forever.
    #[serde(default)]
    pub audit_retention_days: Option<u32>,
    /// Look of the login pages.
    #[serde(default)]
    pub branding: branding::Branding,
    /// Page language when neither `ui_locales` nor `Accept-Language` picks one (`en | de`).
    #[serde(default = "default_language")]
    pub default_language: String,
}

fn default_language() -> String {
    "en".into()
}

fn default_mfa() -> String {
    "optional".into()
}
fn default_registration_scope() -> String {
    "mcp".into()
}
fn default_registration_max() -> u32 {
    100
}
fn default_registration_rate() -> u32 {
    20
}
fn default_mcp_rate() -> u32 {
    120
}
fn default_mcp_active() -> u32 {
    1000
}
fn default_off() -> String {
    "off".into()
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            mfa_policy: default_mfa(),
            registration: default_off(),
            client_id_metadata_documents: false,
            mcp_resources: Vec::new(),
            registration_scope: default_registration_scope(),
            registration_max_clients: default_registration_max(),
            registration_per_hour: default_registration_rate(),
            registration_token_sha256: None,
            mcp_tokens_per_minute: default_mcp_rate(),
            mcp_max_active_tokens: default_mcp_active(),
            audit_retention_days: None,
            branding: branding::Branding::default(),
            default_language: default_language(),
        }
    }
}

//! OIDC Discovery 1.0 and RFC 8414 metadata, at the issuer and at the RFC 8414 §3
//! path-inserted locations under the public root.

use crate::domain::Subscription;
use crate::http::extract::Tenant;
use crate::service::Ctx;
use crate::service::local::Front;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::sync::Arc;

/// The serialized metadata document per subscription. Discovery is fetched by every
/// client and resource server; building the JSON tree (some thirty strings) per request
/// cost more than the rest of the request. An entry belongs to the subscription it was
/// built from: when the tenant cache hands out a re-read subscription whose settings
/// changed, the document is built again. Bounded like the tenant cache, and fronted per
/// thread (see [`crate::service::local`]). A clone shares the entries (each worker holds
/// its own handle, see `startup`).
#[derive(Debug, Clone)]
pub struct MetadataCache(moka::sync::Cache<String, (Arc<Subscription>, Bytes)>);

impl Default for MetadataCache {
    fn default() -> Self {
        MetadataCache(moka::sync::Cache::new(
            crate::service::tenants::CACHED_TENANTS,
        ))
    }
}

thread_local! {
    /// This thread's documents, each with the thread's copy of the subscription it
    /// describes (from the tenant cache's front) and its own copy of the bytes, whose
    /// reference count no other core writes.
    static FRONT: RefCell<Front<(Arc<Subscription>, Bytes)>> = RefCell::default();
}

impl MetadataCache {
    fn document(&self, ctx: &Ctx, sub: &Arc<Subscription>) -> Bytes {
        let (owner, key) = (ctx.owner.id(), [sub.slug.as_str().as_bytes()]);
        let kept = FRONT.with_borrow(|front| match front.get(owner, &key) {
            Some((s, doc)) if Arc::ptr_eq(s, sub) => Some(doc.clone()),
            _ => None,
        });
        if let Some(doc) = kept {
            return doc;
        }
        // Each thread holds its own copy of a subscription, so the shared entry is
        // matched by content; this runs when a thread's copy is new (every few seconds).
        let slug = sub.slug.as_str();
        let doc = match self.0.get(slug) {
            Some((cached, doc)) if *cached == **sub => doc,
            _ => {
                let doc = Bytes::from(tenant_metadata(ctx, sub).to_string());
                self.0
                    .insert(slug.to_owned(), (Arc::clone(sub), doc.clone()));
                doc
            }
        };
        let own = Bytes::copy_from_slice(&doc);
        FRONT.with_borrow_mut(|front| front.put(owner, &key, (Arc::clone(sub), own.clone())));
        own
    }
}

/// The metadata document of `issuer`.
pub fn metadata(issuer: &str) -> Value {
    let e = |p: &str| format!("{issuer}{p}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": e("/authorize"),
        "token_endpoint": e("/token"),
        "userinfo_endpoint": e("/userinfo"),
        "jwks_uri": e("/jwks"),
        "introspection_endpoint": e("/introspect"),
        "revocation_endpoint": e("/revoke"),
        "end_session_endpoint": e("/logout"),
        "scopes_supported": ["openid", "profile", "email", "offline_access", "mcp", "admin"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "name", "preferred_username", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": [crate::mfa::ACR_SINGLE, crate::mfa::ACR_MFA],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "resource_indicators_supported": true,
    })
}

/// The metadata of `sub`'s issuer: the fixed part plus what its policy enables
/// (`registration_endpoint` only when registration is on).
fn tenant_metadata(ctx: &Ctx, sub: &Subscription) -> Value {
    let issuer = ctx.settings.issuer(sub.slug.as_str());
    let mut m = metadata(&issuer);
    m["client_id_metadata_document_supported"] = sub.settings.client_id_metadata_documents.into();
    if sub.settings.registration != "off" {
        m["registration_endpoint"] = format!("{issuer}/register").into();
    }
    m
}

fn respond(ctx: &Ctx, docs: &MetadataCache, sub: &Arc<Subscription>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .insert_header((header::CONTENT_TYPE, super::JSON))
        .body(docs.document(ctx, sub))
}

/// `GET /t/{slug}/.well-known/openid-configuration`
#[get("/.well-known/openid-configuration")]
pub async fn get_openid_configuration(
    ctx: web::Data<Ctx>,
    docs: web::Data<MetadataCache>,
    tenant: Tenant,
) -> HttpResponse {
    respond(&ctx, &docs, &tenant.0)
}

/// `GET /t/{slug}/.well-known/oauth-authorization-server`
#[get("/.well-known/oauth-authorization-server")]
pub async fn get_oauth_metadata(
    ctx: web::Data<Ctx>,
    docs: web::Data<MetadataCache>,
    tenant: Tenant,
) -> HttpResponse {
    respond(&ctx, &docs, &tenant.0)
}

/// `GET /.well-known/oauth-authorization-server/t/{slug}` (RFC 8414 §3.1 path insertion)
#[get("/.well-known/oauth-authorization-server/t/{slug}")]
pub async fn get_oauth_metadata_inserted(
    ctx: web::Data<Ctx>,
    docs: web::Data<MetadataCache>,
    tenant: Tenant,
) -> HttpResponse {
    respond(&ctx, &docs, &tenant.0)
}

/// `GET /.well-known/openid-configuration/t/{slug}` (the same form for OIDC)
#[get("/.well-known/openid-configuration/t/{slug}")]
pub async fn get_openid_configuration_inserted(
    ctx: web::Data<Ctx>,
    docs: web::Data<MetadataCache>,
    tenant: Tenant,
) -> HttpResponse {
    respond(&ctx, &docs, &tenant.0)
}

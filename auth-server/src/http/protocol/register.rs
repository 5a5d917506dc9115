//! `/t/{slug}/register`: RFC 7591 dynamic client registration and RFC 7592 read, update
//! and delete with the registration access token. Off unless the subscription enables it.
//!
//! Security: the initial access token, client secret and registration access token are
//! compared as hashes in constant time; the secrets appear only in the 201 answer,
//! which is `no-store`.

use super::error::OAuthError;
use crate::domain::Client;
use crate::domain::registration::{ClientMetadata, RegistrationError, UpdateRequest};
use crate::http::extract::{Tenant, bearer, meta};
use crate::service::registration::{self, RegisterError, Registered};
use crate::service::{Actor, AdminError, Ctx};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde_json::{Value, json};

/// Largest registration request accepted.
const MAX_BODY: usize = 16 * 1024;

fn error(e: RegisterError, realm: &str) -> OAuthError {
    let with_status = |code: &'static str, d: String, status: StatusCode| OAuthError {
        status,
        ..OAuthError::bad_request(code, d)
    };
    match e {
        RegisterError::Metadata(RegistrationError::InvalidRedirectUri(d)) => {
            OAuthError::bad_request("invalid_redirect_uri", d)
        }
        RegisterError::Metadata(RegistrationError::InvalidMetadata(d)) => {
            OAuthError::bad_request("invalid_client_metadata", d)
        }
        RegisterError::InvalidToken => OAuthError {
            www_authenticate: Some(format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")),
            ..with_status(
                "invalid_token",
                "a valid initial or registration access token is required".into(),
                StatusCode::UNAUTHORIZED,
            )
        },
        e @ RegisterError::Disabled => {
            with_status("access_denied", e.to_string(), StatusCode::FORBIDDEN)
        }
        e @ RegisterError::TooManyClients(_) => {
            with_status("access_denied", e.to_string(), StatusCode::FORBIDDEN)
        }
        RegisterError::RateLimited { limit, retry_after } => OAuthError {
            retry_after: Some(retry_after),
            ..with_status(
                "slow_down",
                format!("registration rate limit reached ({limit} per hour)"),
                StatusCode::TOO_MANY_REQUESTS,
            )
        },
        RegisterError::Admin(AdminError::Validation(v)) => {
            OAuthError::bad_request("invalid_client_metadata", v.to_string())
        }
        RegisterError::Admin(a) => {
            tracing::error!(error.cause_chain = ?a, "registration failed");
            with_status(
                "server_error",
                "registration failed".into(),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// The RFC 7591 §3.2.1 metadata of a client (no secrets).
fn metadata(c: &Client) -> Value {
    json!({
        "client_id": c.client_id,
        "client_name": c.name,
        "redirect_uris": c.spec.redirect_uris,
        "grant_types": c.spec.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": c.spec.auth_method,
        "scope": c.spec.scope.to_string(),
    })
}

fn client_uri(ctx: &Ctx, slug: &str, client_id: &str) -> String {
    format!("{}/register/{client_id}", ctx.settings.issuer(slug))
}

fn actor(req: &HttpRequest) -> Actor {
    let (request_id, ip) = meta(req);
    Actor {
        request_id,
        ip,
        ..Actor::default()
    }
}

/// Parse a JSON request body of at most [`MAX_BODY`] bytes.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OAuthError> {
    if body.len() > MAX_BODY {
        return Err(OAuthError::bad_request(
            "invalid_client_metadata",
            "the registration request is larger than 16 KiB",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        OAuthError::bad_request(
            "invalid_client_metadata",
            format!("the body must be a JSON object of client metadata: {e}"),
        )
    })
}

/// The RFC 7592 §3 client information response: the metadata, the configuration URI
/// and the registration access token the client just presented (we keep only its hash,
/// and it does not change). The secret is not repeated: only its hash is stored.
fn information(ctx: &Ctx, slug: &str, c: &Client, token: &str) -> HttpResponse {
    let mut out = metadata(c);
    out["registration_client_uri"] = client_uri(ctx, slug, &c.client_id).into();
    out["registration_access_token"] = token.into();
    super::credentials_json(out)
}

/// `POST /t/{slug}/register` (RFC 7591 §3.1).
#[post("/register")]
pub async fn post_register(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let realm = "register";
    let m: ClientMetadata = parse_body(&body)?;
    let sub = &tenant.0;
    let r: Registered =
        registration::register(&ctx, sub, bearer(&req).as_deref(), &m, &actor(&req))
            .await
            .map_err(|e| error(e, realm))?;
    let mut out = metadata(&r.client);
    out["client_id_issued_at"] = r.issued_at.into();
    out["registration_access_token"] = r.registration_access_token.into();
    out["registration_client_uri"] =
        client_uri(&ctx, sub.slug.as_str(), &r.client.client_id).into();
    if let Some(s) = r.secret {
        out["client_secret"] = s.into();
        out["client_secret_expires_at"] = 0.into();
    }
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, super::NO_STORE))
        .json(out))
}

/// `GET /t/{slug}/register/{client_id}` (RFC 7592 §2.1).
#[get("/register/{client_id}")]
pub async fn get_registration(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req);
    let c = registration::authorized(&ctx, &tenant.0, &path.1, token.as_deref())
        .await
        .map_err(|e| error(e, "register"))?;
    let token = token.unwrap_or_default();
    Ok(information(&ctx, tenant.0.slug.as_str(), &c, &token))
}

/// `PUT /t/{slug}/register/{client_id}` (RFC 7592 §2.2): replace the metadata.
#[put("/register/{client_id}")]
pub async fn put_registration(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req);
    // The token is checked before the body is looked at, so an unauthenticated caller
    // learns nothing from the validation errors.
    registration::authorized(&ctx, &tenant.0, &path.1, token.as_deref())
        .await
        .map_err(|e| error(e, "register"))?;
    let update: UpdateRequest = parse_body(&body)?;
    let c = registration::update(
        &ctx,
        &tenant.0,
        &path.1,
        token.as_deref(),
        &update,
        &actor(&req),
    )
    .await
    .map_err(|e| error(e, "register"))?;
    let token = token.unwrap_or_default();
    Ok(information(&ctx, tenant.0.slug.as_str(), &c, &token))
}

/// `DELETE /t/{slug}/register/{client_id}` (RFC 7592 §2.3): the client and its tokens.
#[delete("/register/{client_id}")]
pub async fn delete_registration(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OAuthError> {
    registration::delete(
        &ctx,
        &tenant.0,
        &path.1,
        bearer(&req).as_deref(),
        &actor(&req),
    )
    .await
    .map_err(|e| error(e, "register"))?;
    Ok(HttpResponse::NoContent().finish())
}

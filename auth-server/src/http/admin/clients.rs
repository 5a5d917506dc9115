//! `/admin/v1/subscriptions/{slug}/clients`: OAuth clients.

use super::dto::{
    ClientBody, ClientView, CreatedClient, InitialAccessToken, Page, PageQuery, PatchClient,
    RotatedSecret, page,
};
use super::error::ApiError;
use super::{Admin, Body};
use crate::http::protocol::NO_STORE;
use crate::service::clients::{self, NewClient};
use crate::service::registration;
use crate::service::{AdminError, Ctx};
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, delete, get, patch, post, web};

/// Register a client; the secret is in this response only.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/clients", request_body = ClientBody,
    responses((status = 201, body = CreatedClient), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
#[post("/subscriptions/{slug}/clients")]
pub async fn post_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<ClientBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let (name, spec, ai_access) = body.0.into_spec()?;
    let new = NewClient {
        client_id: None,
        secret: None,
        name,
        spec,
        ai_access,
    };
    let (client, secret) = clients::create(&ctx, &sub.id, new, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(CreatedClient {
        client_id: client.client_id,
        client_secret: secret,
    }))
}

/// List clients.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/clients", params(PageQuery), responses((status = 200, body = Page<ClientView>)))]
#[get("/subscriptions/{slug}/clients")]
pub async fn list_clients(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let limit = q.limit()?;
    let list = ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .list(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<ClientView> = list.iter().map(ClientView::from).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |c| c.client_id.clone())))
}

/// List the stored AI clients (those allowed the `mcp` scope): the minted
/// per-subscription client, admin-marked clients and registered clients. Metadata-document
/// clients are not stored clients: they are listed at `…/metadata-clients`.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/ai-clients", params(PageQuery), responses((status = 200, body = Page<ClientView>)))]
#[get("/subscriptions/{slug}/ai-clients")]
pub async fn list_ai_clients(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let limit = q.limit()?;
    let list = ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .list_ai(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<ClientView> = list.iter().map(ClientView::from).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |c| c.client_id.clone())))
}

/// List the dynamically registered clients (RFC 7591); delete them like any client.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/registered-clients", params(PageQuery), responses((status = 200, body = Page<ClientView>)))]
#[get("/subscriptions/{slug}/registered-clients")]
pub async fn list_registered_clients(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let limit = q.limit()?;
    let list = ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .list_registered(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<ClientView> = list.iter().map(ClientView::from).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |c| c.client_id.clone())))
}

/// Mint the initial access token for `registration: token` (the previous one stops
/// working); the token is in this response only.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/registration-token", responses((status = 200, body = InitialAccessToken), (status = 404, body = ApiError)))]
#[post("/subscriptions/{slug}/registration-token")]
pub async fn post_registration_token(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let token = registration::rotate_initial_token(&ctx, &sub, &admin.0.actor).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, NO_STORE))
        .json(InitialAccessToken {
            initial_access_token: token,
        }))
}

/// One client.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/clients/{client_id}", responses((status = 200, body = ClientView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/clients/{client_id}")]
pub async fn get_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let client = ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(ClientView::from(&client)))
}

/// Change a client.
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/clients/{client_id}", request_body = PatchClient, responses((status = 200, body = ClientView), (status = 400, body = ApiError)))]
#[patch("/subscriptions/{slug}/clients/{client_id}")]
pub async fn patch_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<PatchClient>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let current = ctx
        .db(&sub.id)
        .await?
        .repos()
        .clients()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    let updated = clients::update(&ctx, &sub.id, body.0.apply(current)?, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(ClientView::from(&updated)))
}

/// Delete a client; every token issued to it stops working at once (introspection
/// and refresh check that the client still exists), and the consents users gave it are
/// forgotten in the same transaction.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/clients/{client_id}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/clients/{client_id}")]
pub async fn delete_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    clients::delete(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a new secret; the old one stops working at once.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/clients/{client_id}/rotate-secret", responses((status = 200, body = RotatedSecret), (status = 404, body = ApiError)))]
#[post("/subscriptions/{slug}/clients/{client_id}/rotate-secret")]
pub async fn rotate_client_secret(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let secret = clients::rotate_secret(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, NO_STORE))
        .json(RotatedSecret {
            client_secret: secret,
        }))
}

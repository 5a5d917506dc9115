//! `/admin/v1/subscriptions/{slug}/metadata-clients`: the Client ID Metadata Document
//! clients (a `client_id` that is an https URL) the subscription has issued tokens to.
//! They are AI clients that were never registered, so they are listed here beside
//! `ai-clients`. `DELETE` revokes every token issued to one and blocks its URL
//! (`invalid_client` afterwards); `DELETE …/block` lifts the block. The URL is one path
//! segment, percent-encoded (`https%3A%2F%2Fagent.example%2Fclient.json`).

use super::Admin;
use super::dto::{Page, PageQuery, page};
use super::error::ApiError;
use crate::service::{AdminError, Ctx, metadata_clients};
use crate::store::metadata_clients::MetadataClient;
use actix_web::{HttpResponse, delete, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// A metadata-document client as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetadataClientView {
    /// The document URL, which is the `client_id`.
    pub client_id: String,
    /// The URL's host: whoever controls it controls the client.
    pub host: String,
    /// `client_name` of the document when it was last used (chosen by that host).
    pub name: String,
    /// First token issued (Unix seconds).
    pub first_used_at: i64,
    /// Last token issued (Unix seconds).
    pub last_used_at: i64,
    /// Whether an admin blocked it (its tokens were revoked, its URL is refused).
    pub blocked: bool,
    /// When it was blocked (Unix seconds), if it is.
    pub blocked_at: Option<i64>,
}

impl From<MetadataClient> for MetadataClientView {
    fn from(c: MetadataClient) -> Self {
        MetadataClientView {
            blocked: c.blocked_at.is_some(),
            client_id: c.client_id,
            host: c.host,
            name: c.name,
            first_used_at: c.first_used_at,
            last_used_at: c.last_used_at,
            blocked_at: c.blocked_at,
        }
    }
}

/// List the metadata-document clients that were issued tokens (blocked ones too).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/metadata-clients", params(PageQuery),
    responses((status = 200, body = Page<MetadataClientView>)))]
#[get("/subscriptions/{slug}/metadata-clients")]
pub async fn list_metadata_clients(
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
        .metadata_clients()
        .list(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<MetadataClientView> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |c| c.client_id.clone())))
}

/// One metadata-document client (`client_id` percent-encoded).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/metadata-clients/{client_id}",
    responses((status = 200, body = MetadataClientView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/metadata-clients/{client_id}")]
pub async fn get_metadata_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let client = ctx
        .db(&sub.id)
        .await?
        .repos()
        .metadata_clients()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(MetadataClientView::from(client)))
}

/// Remove a metadata-document client: every token issued to it stops working at once
/// and its URL is refused with `invalid_client` until the block is lifted (audited as
/// `client.blocked`).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/metadata-clients/{client_id}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/metadata-clients/{client_id}")]
pub async fn delete_metadata_client(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    metadata_clients::block(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lift the block of a removed metadata-document client: new authorizations work
/// again, the revoked tokens stay revoked (audited as `client.unblocked`); 404 when it
/// is not blocked.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/metadata-clients/{client_id}/block",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/metadata-clients/{client_id}/block")]
pub async fn delete_metadata_client_block(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    metadata_clients::unblock(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! `/admin/v1/subscriptions/{slug}/users/{id}/consents`: the applications a user
//! consented to, and revoking one (which also revokes the refresh-token families the
//! user granted that client; see `service::consents`).

use super::Admin;
use super::dto::{Page, PageQuery, page};
use super::error::ApiError;
use crate::service::{Ctx, consents};
use actix_web::{HttpResponse, delete, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// A remembered consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// The client the user consented to.
    pub client_id: String,
    /// Its display name (`null` when the client was deleted).
    pub client_name: Option<String>,
    /// Every scope the user granted it, space-separated.
    pub scope: String,
    /// When the consent was last widened (Unix seconds).
    pub granted_at: i64,
}

impl From<consents::Granted> for ConsentView {
    fn from(g: consents::Granted) -> Self {
        ConsentView {
            client_id: g.consent.client_id,
            client_name: g.client_name,
            scope: g.consent.scope.to_string(),
            granted_at: g.consent.granted_at,
        }
    }
}

/// A user's remembered consents, by client id.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}/consents", params(PageQuery),
    responses((status = 200, body = Page<ConsentView>), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}/consents")]
pub async fn list_user_consents(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let limit = q.limit()?;
    let list = consents::list(&ctx, &sub.id, &path.1, q.after.as_deref(), limit + 1).await?;
    let items: Vec<ConsentView> = list.into_iter().map(ConsentView::from).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |c| c.client_id.clone())))
}

/// Revoke a user's consent to a client (audited as `consent.revoked`): the next
/// authorization asks again, and the refresh tokens the user granted that client stop
/// working at once.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/consents/{client_id}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/consents/{client_id}")]
pub async fn delete_user_consent(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    consents::revoke(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

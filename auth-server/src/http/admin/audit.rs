//! `/admin/v1/subscriptions/{slug}/audit`: the audit log, oldest first.

use super::Admin;
use super::dto::{PageQuery, page};
use super::error::ApiError;
use crate::service::{AdminError, Ctx};
use crate::store::audit::AuditEvent;
use actix_web::{HttpResponse, get, web};

/// Page through the audit log.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/audit", params(PageQuery), responses((status = 200, body = Vec<AuditEvent>)))]
#[get("/subscriptions/{slug}/audit")]
pub async fn list_audit(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let limit = q.limit()?;
    let events = ctx
        .store
        .repos()
        .audit()
        .list(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let mut p = page(events, limit, |e| e.id.clone());
    for e in &mut p.items {
        e.actor["subscription"] = sub.slug.as_str().into();
    }
    Ok(HttpResponse::Ok().json(p))
}

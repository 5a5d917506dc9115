//! `/admin/v1/subscriptions/{slug}/audit` and per-entity history: the audit log, paged
//! by the chain's sequence number (stable under concurrent writes).

use super::Admin;
use super::dto::Page;
use super::error::ApiError;
use crate::domain::ValidationError;
use crate::service::{AdminError, Ctx};
use crate::store::audit::{AuditEvent, AuditFilter};
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;

/// Filters of the audit listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Target type: `client`, `user`, `subscription`, `keys`, …
    pub target_type: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// A user id or client id that acted.
    pub actor: Option<String>,
    /// Action, e.g. `client.updated`.
    pub action: Option<String>,
    /// From this time on (Unix seconds or RFC 3339).
    pub since: Option<String>,
    /// Up to this time (Unix seconds or RFC 3339).
    pub until: Option<String>,
    /// Cursor from the previous page's `next`.
    pub after: Option<String>,
    /// Page size 1–200 (default 50).
    pub limit: Option<u64>,
}

fn time(v: &Option<String>, field: &str) -> Result<Option<i64>, ValidationError> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Some(n));
    }
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(|t| Some(t.unix_timestamp()))
        .map_err(|_| ValidationError::new(field, "must be Unix seconds or an RFC 3339 time"))
}

fn filter(q: &AuditQuery, newest_first: bool) -> Result<AuditFilter, ValidationError> {
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ValidationError::new("limit", "must be between 1 and 200")),
    };
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<i64>()
                .map_err(|_| ValidationError::new("after", "must be a cursor from a previous page"))
        })
        .transpose()?;
    Ok(AuditFilter {
        target_type: q.target_type.clone(),
        target_id: q.target_id.clone(),
        actor: q.actor.clone(),
        action: q.action.clone(),
        since: time(&q.since, "since")?,
        until: time(&q.until, "until")?,
        after,
        newest_first,
        limit: limit + 1,
    })
}

async fn page(
    ctx: &Ctx,
    admin: &Admin,
    slug: &str,
    f: AuditFilter,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(ctx, slug).await?;
    let limit = f.limit - 1;
    let mut items = ctx
        .db(&sub.id)
        .await?
        .repos()
        .audit()
        .list(&sub.id, &f)
        .await
        .map_err(AdminError::from)?;
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    for e in &mut items {
        e.actor["subscription"] = sub.slug.as_str().into();
    }
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// Page through the audit log, oldest first, with filters.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/audit", params(AuditQuery), responses((status = 200, body = Page<AuditEvent>), (status = 400, body = ApiError)))]
#[get("/subscriptions/{slug}/audit")]
pub async fn list_audit(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let f = filter(&q, false)?;
    page(&ctx, &admin, &path, f).await
}

/// One entity's versions with their diffs, newest first
/// (`entity` ∈ `clients`, `users`, `workspaces`, `connections`, `run-as-grants`, `keys`).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/{entity}/{id}/history", params(AuditQuery), responses((status = 200, body = Page<AuditEvent>), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/{entity}/{id}/history")]
pub async fn get_history(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (slug, entity, id) = path.into_inner();
    let target_type = match entity.as_str() {
        "clients" => "client",
        "users" => "user",
        "workspaces" => "workspace",
        "connections" => "connection",
        "run-as-grants" => "run_as_grant",
        "keys" => "keys",
        _ => return Err(AdminError::NotFound.into()),
    };
    let mut f = filter(&q, true)?;
    f.target_type = Some(target_type.into());
    f.target_id = Some(id);
    page(&ctx, &admin, &slug, f).await
}

//! `/admin/v1/subscriptions/{slug}/keys`: signing key status and rotation.

use super::Admin;
use super::error::ApiError;
use crate::service::{AdminError, Ctx, keys};
use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;

/// A key's public status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// `next | active | retired`.
    pub status: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Until when a retired key stays published.
    pub publish_until: Option<i64>,
}

/// The keys of a subscription (public facts only).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/keys", responses((status = 200, body = Vec<KeyView>)))]
#[get("/subscriptions/{slug}/keys")]
pub async fn list_keys(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let keys = ctx
        .db(&sub.id)
        .await?
        .repos()
        .keys()
        .list(&sub.id)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<KeyView> = keys
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg,
            status: k.status,
            created_at: k.created_at,
            publish_until: k.publish_until,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items, "next": null})))
}

/// Rotate: the published next key becomes active, a new next key is published, the old
/// active key is retired but stays published until its tokens expire.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/keys/rotate", responses((status = 200)))]
#[post("/subscriptions/{slug}/keys/rotate")]
pub async fn rotate_keys(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let active = keys::rotate(&ctx, &sub.id, &admin.0.actor)
        .await
        .map_err(AdminError::Internal)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"active": active})))
}

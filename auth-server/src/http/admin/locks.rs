//! Login locks (SECURITY.md §3): a user's brute-force state and the audited admin
//! unlock that lifts the hard lock set after 100 consecutive failures. Names that were
//! never provisioned (a directory name guessed at) are listed and unlocked by name.

use super::Admin;
use super::error::ApiError;
use crate::service::throttle::{self, LockStatus};
use crate::service::{AdminError, Ctx, FlowError};
use actix_web::{HttpResponse, delete, get, web};

fn flow_error(e: FlowError) -> ApiError {
    match e {
        FlowError::Unavailable => AdminError::Unavailable.into(),
        other => AdminError::Internal(anyhow::anyhow!("{other}")).into(),
    }
}

async fn username(
    ctx: &Ctx,
    sub: &crate::domain::SubscriptionId,
    id: &str,
) -> Result<String, ApiError> {
    let user = ctx
        .db(sub)
        .await?
        .repos()
        .users()
        .get(sub, id)
        .await
        .map_err(AdminError::from)?;
    Ok(user.username)
}

/// A user's login lock state.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}/lock",
    responses((status = 200, body = LockStatus), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}/lock")]
pub async fn get_user_lock(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let name = username(&ctx, &sub.id, &path.1).await?;
    let status = throttle::status(&ctx, &sub.id, &name)
        .await
        .map_err(flow_error)?;
    Ok(HttpResponse::Ok().json(status))
}

/// Unlock a user: lifts the hard and the temporary lock and forgets the failures
/// (audited as `login.unlocked`).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/lock",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/lock")]
pub async fn delete_user_lock(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let name = username(&ctx, &sub.id, &path.1).await?;
    throttle::unlock(&ctx, &sub.id, &name, &admin.0.actor)
        .await
        .map_err(flow_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every hard-locked login name of the subscription (users and unprovisioned names).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/login-locks",
    responses((status = 200, body = [LockStatus])))]
#[get("/subscriptions/{slug}/login-locks")]
pub async fn list_login_locks(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let locks = throttle::hard_locked(&ctx, &sub.id)
        .await
        .map_err(flow_error)?;
    Ok(HttpResponse::Ok().json(locks))
}

/// Unlock a login name (for names without a local user); 404 when it is not locked
/// and has no failures.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/login-locks/{username}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/login-locks/{username}")]
pub async fn delete_login_lock(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let had = throttle::unlock(&ctx, &sub.id, &path.1, &admin.0.actor)
        .await
        .map_err(flow_error)?;
    if !had {
        return Err(AdminError::NotFound.into());
    }
    Ok(HttpResponse::NoContent().finish())
}

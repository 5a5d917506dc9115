//! 2FA administration: a user's enrolment status and the audited reset
//! (`/subscriptions/{slug}/users/{id}/mfa`, DESIGN.md "Contract details"), and a
//! workspace group's policy override (`…/workspaces/{ws}/groups/{name}/mfa-policy`).
//! Nothing here ever returns a secret or a recovery code.

use super::error::ApiError;
use super::{Admin, Body};
use crate::mfa::MfaPolicy;
use crate::service::acl::admin as acl;
use crate::service::mfa::{self, MfaError, Status};
use crate::service::{AdminError, Ctx, FlowError};
use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn admin_error(e: MfaError) -> ApiError {
    match e {
        MfaError::Flow(FlowError::Unavailable) => AdminError::Unavailable.into(),
        other => AdminError::Internal(anyhow::anyhow!("{other}")).into(),
    }
}

fn flow_error(e: FlowError) -> ApiError {
    admin_error(MfaError::Flow(e))
}

/// A group's 2FA policy override.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMfaPolicy {
    /// `off | optional | required`; replaces the subscription's `mfa_policy` for the
    /// group's members (with several groups, the strictest override wins).
    pub policy: String,
}

/// A user's 2FA enrolment status.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}/mfa",
    responses((status = 200, body = Status), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}/mfa")]
pub async fn get_user_mfa(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let user = ctx
        .db(&sub.id)
        .await?
        .repos()
        .users()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    let status = mfa::status(&ctx, &sub, &user.id)
        .await
        .map_err(flow_error)?;
    Ok(HttpResponse::Ok().json(status))
}

/// Reset a user's 2FA: removes the TOTP and recovery codes (audited as `mfa.reset`).
/// Under a `required` policy the user enrols again at the next login.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/mfa",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/mfa")]
pub async fn delete_user_mfa(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let user = ctx
        .db(&sub.id)
        .await?
        .repos()
        .users()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    mfa::remove(&ctx, &sub, &user.id, &admin.0.actor, true)
        .await
        .map_err(admin_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A group's 2FA policy override (404 when it has none).
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy",
    responses((status = 200, body = GroupMfaPolicy), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy")]
pub async fn get_group_mfa_policy(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let g = acl::get_group(&ctx, &sub.id, &path.1, &path.2).await?;
    let policy = ctx
        .db(&sub.id)
        .await?
        .repos()
        .mfa()
        .group_policy(&sub.id, &g.id)
        .await
        .map_err(AdminError::from)?;
    let policy = policy.ok_or(AdminError::NotFound)?;
    Ok(HttpResponse::Ok().json(GroupMfaPolicy { policy }))
}

/// Set a group's 2FA policy override.
#[utoipa::path(put, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy",
    request_body = GroupMfaPolicy,
    responses((status = 200, body = GroupMfaPolicy), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[put("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy")]
pub async fn put_group_mfa_policy(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: Body<GroupMfaPolicy>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let policy = MfaPolicy::parse(&body.0.policy).ok_or_else(|| {
        AdminError::Validation(crate::domain::ValidationError::new(
            "policy",
            "must be off, optional or required",
        ))
    })?;
    let g = acl::get_group(&ctx, &sub.id, &path.1, &path.2).await?;
    mfa::set_group_policy(&ctx, &sub.id, &g.id, Some(policy), &admin.0.actor)
        .await
        .map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(GroupMfaPolicy {
        policy: policy.as_str().to_owned(),
    }))
}

/// Remove a group's 2FA policy override (its members follow the subscription again).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/mfa-policy")]
pub async fn delete_group_mfa_policy(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let g = acl::get_group(&ctx, &sub.id, &path.1, &path.2).await?;
    mfa::set_group_policy(&ctx, &sub.id, &g.id, None, &admin.0.actor)
        .await
        .map_err(AdminError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

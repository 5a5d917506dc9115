//! `/admin/v1/subscriptions/{slug}/users`: local users.

use super::dto::{CreatedUser, Page, PageQuery, PasswordBody, PatchUser, UserBody, UserView, page};
use super::error::ApiError;
use super::{Admin, Body};
use crate::domain::Username;
use crate::service::users::{self, NewUser};
use crate::service::{AdminError, Ctx};
use actix_web::{HttpResponse, delete, get, patch, post, web};

/// Create a user; the answer's `id` is its `sub`.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/users", request_body = UserBody,
    responses((status = 201, body = CreatedUser), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions/{slug}/users")]
pub async fn post_user(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<UserBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let b = body.0;
    if b.system_admin && !admin.0.system {
        return Err(AdminError::Forbidden.into());
    }
    let new = NewUser {
        username: Username::parse(&b.username)?,
        password: b.password,
        email: b.email,
        name: b.name,
        attributes: b.attributes,
        system_admin: b.system_admin,
        subscription_admin: b.subscription_admin,
    };
    let user = users::create(&ctx, &sub.id, new, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(CreatedUser { id: user.id }))
}

/// List users.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users", params(PageQuery), responses((status = 200, body = Page<UserView>)))]
#[get("/subscriptions/{slug}/users")]
pub async fn list_users(
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
        .users()
        .list(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<UserView> = list.iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |u| u.id.clone())))
}

/// One user.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}", responses((status = 200, body = UserView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}")]
pub async fn get_user(
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
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Change a user; `disabled: true` revokes every token of the user.
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/users/{id}", request_body = PatchUser, responses((status = 200, body = UserView), (status = 400, body = ApiError)))]
#[patch("/subscriptions/{slug}/users/{id}")]
pub async fn patch_user(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<PatchUser>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let mut user = ctx
        .db(&sub.id)
        .await?
        .repos()
        .users()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    let b = body.0;
    if b.system_admin.is_some() && !admin.0.system {
        return Err(AdminError::Forbidden.into());
    }
    if let Some(u) = b.username {
        user.username = Username::parse(&u)?.as_str().to_owned();
    }
    if b.email.is_some() {
        user.email = b.email;
    }
    if b.name.is_some() {
        user.name = b.name;
    }
    if let Some(a) = b.attributes {
        user.attributes = a;
    }
    if let Some(v) = b.system_admin {
        user.system_admin = v;
    }
    if let Some(v) = b.subscription_admin {
        user.subscription_admin = v;
    }
    if let Some(v) = b.disabled {
        user.disabled = v;
    }
    let user = users::update(&ctx, &sub.id, user, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Delete a user, revoke their tokens and forget their consents.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}")]
pub async fn delete_user(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    users::delete(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Set a user's password (revokes the user's tokens).
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/users/{id}/password", request_body = PasswordBody, responses((status = 204), (status = 400, body = ApiError)))]
#[post("/subscriptions/{slug}/users/{id}/password")]
pub async fn post_user_password(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    users::set_password(&ctx, &sub.id, &path.1, &body.0.password, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

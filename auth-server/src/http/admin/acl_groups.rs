//! `/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups` and their members. Group
//! names are workspace-specific and are the item path (`groups/{name}`).

use super::acl_dto::{GroupBody, GroupView, MemberView};
use super::acl_workspaces::ask;
use super::dto::{Page, PageQuery, page};
use super::error::ApiError;
use super::{Admin, Body};
use crate::service::Ctx;
use crate::service::acl::admin as acl;
use crate::service::acl::group_name;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};

/// Create a group.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups", request_body = GroupBody,
    responses((status = 201, body = GroupView), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions/{slug}/workspaces/{ws}/groups")]
pub async fn post_group(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let name = group_name(&body.0.name, "name")?;
    let g = acl::create_group(&ctx, &sub.id, &path.1, name, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(GroupView::from(&g)))
}

/// List groups.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups", params(PageQuery), responses((status = 200, body = Page<GroupView>)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/groups")]
pub async fn list_groups(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<GroupView> = acl::list_groups(&ctx, &sub.id, &path.1, pa)
        .await?
        .iter()
        .map(GroupView::from)
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |g| g.name.clone())))
}

/// One group.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}", responses((status = 200, body = GroupView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/groups/{name}")]
pub async fn get_group(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let g = acl::get_group(&ctx, &sub.id, &path.1, &path.2).await?;
    Ok(HttpResponse::Ok().json(GroupView::from(&g)))
}

/// Rename a group (the workspace's grants and field policies follow the new name).
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}", request_body = GroupBody,
    responses((status = 200, body = GroupView), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
#[patch("/subscriptions/{slug}/workspaces/{ws}/groups/{name}")]
pub async fn patch_group(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: Body<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let name = group_name(&body.0.name, "name")?;
    let g = acl::rename_group(&ctx, &sub.id, &path.1, &path.2, name, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(GroupView::from(&g)))
}

/// Delete a group (its grants and field-policy entries are removed from the apps).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}/groups/{name}")]
pub async fn delete_group(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    acl::delete_group(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a group's members.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members", params(PageQuery), responses((status = 200, body = Page<MemberView>)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members")]
pub async fn list_members(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<MemberView> = acl::list_members(&ctx, &sub.id, &path.1, &path.2, pa)
        .await?
        .into_iter()
        .map(|user_id| MemberView { user_id })
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |m| m.user_id.clone())))
}

/// Add a member (201 when added, 200 when already one).
#[utoipa::path(put, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members/{user_id}",
    responses((status = 201, body = MemberView), (status = 200, body = MemberView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[put("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members/{user_id}")]
pub async fn put_member(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let added = acl::add_member(&ctx, &sub.id, &path.1, &path.2, &path.3, &admin.0.actor).await?;
    let view = MemberView {
        user_id: path.3.clone(),
    };
    Ok(if added {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Remove a member.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members/{user_id}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}/groups/{name}/members/{user_id}")]
pub async fn delete_member(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    acl::remove_member(&ctx, &sub.id, &path.1, &path.2, &path.3, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

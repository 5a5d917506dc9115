//! `/admin/v1/subscriptions/{slug}/workspaces` and their participants (DESIGN.md
//! "Admin API", "ACL model"). Handlers only parse, call one service function, respond.

use super::acl_dto::{
    ParticipantBody, ParticipantView, PatchWorkspace, WorkspaceBody, WorkspaceView,
};
use super::dto::{Page, PageQuery, page};
use super::error::ApiError;
use super::{Admin, Body};
use crate::domain::Slug;
use crate::service::Ctx;
use crate::service::acl::admin::{self as acl, PageAsk};
use crate::service::acl::display_name;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};

/// The page request of `q`: one item more than the page size, to know if there is more.
pub(super) fn ask(q: &PageQuery) -> Result<(PageAsk<'_>, u64), ApiError> {
    let limit = q.limit()?;
    Ok((
        PageAsk {
            after: q.after.as_deref(),
            limit: limit + 1,
        },
        limit,
    ))
}

/// Create a workspace.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/workspaces", request_body = WorkspaceBody,
    responses((status = 201, body = WorkspaceView), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions/{slug}/workspaces")]
pub async fn post_workspace(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<WorkspaceBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let slug = Slug::parse(&body.0.slug, "slug")?;
    let name = display_name(&body.0.name, "name")?;
    let ws = acl::create_workspace(&ctx, &sub.id, slug, name, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(WorkspaceView::from(&ws)))
}

/// List workspaces.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces", params(PageQuery), responses((status = 200, body = Page<WorkspaceView>)))]
#[get("/subscriptions/{slug}/workspaces")]
pub async fn list_workspaces(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<WorkspaceView> = acl::list_workspaces(&ctx, &sub.id, pa)
        .await?
        .iter()
        .map(WorkspaceView::from)
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |w| w.slug.clone())))
}

/// One workspace.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}", responses((status = 200, body = WorkspaceView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/workspaces/{ws}")]
pub async fn get_workspace(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let ws = acl::get_workspace(&ctx, &sub.id, &path.1).await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(&ws)))
}

/// Rename a workspace.
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}", request_body = PatchWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[patch("/subscriptions/{slug}/workspaces/{ws}")]
pub async fn patch_workspace(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<PatchWorkspace>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let name = display_name(&body.0.name, "name")?;
    let ws = acl::rename_workspace(&ctx, &sub.id, &path.1, name, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(&ws)))
}

/// Delete a workspace with its participants, groups and apps.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}")]
pub async fn delete_workspace(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    acl::delete_workspace(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the participants of a workspace.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/participants", params(PageQuery), responses((status = 200, body = Page<ParticipantView>)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/participants")]
pub async fn list_participants(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<ParticipantView> = acl::list_participants(&ctx, &sub.id, &path.1, pa)
        .await?
        .iter()
        .map(ParticipantView::from)
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |p| p.user_id.clone())))
}

/// One participant.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}", responses((status = 200, body = ParticipantView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}")]
pub async fn get_participant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let p = acl::get_participant(&ctx, &sub.id, &path.1, &path.2).await?;
    Ok(HttpResponse::Ok().json(ParticipantView::from(&p)))
}

/// Make a user a participant with a role, or change the role (201 when added).
#[utoipa::path(put, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}", request_body = ParticipantBody,
    responses((status = 201, body = ParticipantView), (status = 200, body = ParticipantView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[put("/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}")]
pub async fn put_participant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: Body<ParticipantBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let role = body.0.role;
    let created =
        acl::put_participant(&ctx, &sub.id, &path.1, &path.2, role, &admin.0.actor).await?;
    let view = ParticipantView {
        user_id: path.2.clone(),
        role,
    };
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Remove a participant (and their memberships in the workspace's groups).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}/participants/{user_id}")]
pub async fn delete_participant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    acl::delete_participant(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

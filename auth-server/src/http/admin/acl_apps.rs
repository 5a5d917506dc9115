//! `/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps` (grants and field policies)
//! and `/admin/v1/subscriptions/{slug}/run-as-grants`.

use super::acl_dto::{AppBody, AppView, CreatedRunAs, PatchApp, RunAsBody, RunAsGrantView};
use super::acl_workspaces::ask;
use super::dto::{Page, PageQuery, page};
use super::error::ApiError;
use super::{Admin, Body};
use crate::domain::Slug;
use crate::service::Ctx;
use crate::service::acl::apps::{self, AppPatch, NewApp};
use crate::service::acl::{display_name, run_as};
use actix_web::{HttpResponse, delete, get, patch, post, web};

/// Create an app; unknown group names are 400 naming the field (`grants[0].group`).
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps", request_body = AppBody,
    responses((status = 201, body = AppView), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions/{slug}/workspaces/{ws}/apps")]
pub async fn post_app(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<AppBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let b = body.0;
    let new = NewApp {
        slug: Slug::parse(&b.slug, "slug")?,
        name: display_name(&b.name, "name")?,
        grants: b.grants,
        fields: b.fields,
    };
    let app = apps::create_app(&ctx, &sub.id, &path.1, new, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(AppView::from(&app)))
}

/// List apps.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps", params(PageQuery), responses((status = 200, body = Page<AppView>)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/apps")]
pub async fn list_apps(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<AppView> = apps::list_apps(&ctx, &sub.id, &path.1, pa)
        .await?
        .iter()
        .map(AppView::from)
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |a| a.slug.clone())))
}

/// One app.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps/{app}", responses((status = 200, body = AppView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/workspaces/{ws}/apps/{app}")]
pub async fn get_app(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let app = apps::get_app(&ctx, &sub.id, &path.1, &path.2).await?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}

/// Change an app (lists replace).
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps/{app}", request_body = PatchApp,
    responses((status = 200, body = AppView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[patch("/subscriptions/{slug}/workspaces/{ws}/apps/{app}")]
pub async fn patch_app(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: Body<PatchApp>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let b = body.0;
    let name = b
        .name
        .as_deref()
        .map(|n| display_name(n, "name"))
        .transpose()?;
    let patch = AppPatch {
        name,
        grants: b.grants,
        fields: b.fields,
    };
    let app = apps::update_app(&ctx, &sub.id, &path.1, &path.2, patch, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(AppView::from(&app)))
}

/// Delete an app.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/workspaces/{ws}/apps/{app}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/workspaces/{ws}/apps/{app}")]
pub async fn delete_app(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    apps::delete_app(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Create a run-as grant `{principal: {user_id}|{client_id}, target: {user_id}|{workspace, group}|"*"}`.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/run-as-grants", request_body = RunAsBody,
    responses((status = 201, body = CreatedRunAs), (status = 400, body = ApiError)))]
#[post("/subscriptions/{slug}/run-as-grants")]
pub async fn post_run_as_grant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<RunAsBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let (principal, target) = body.0.parse()?;
    let grant = run_as::create(&ctx, &sub.id, principal, target, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(CreatedRunAs { id: grant.id }))
}

/// List run-as grants.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/run-as-grants", params(PageQuery), responses((status = 200, body = Page<RunAsGrantView>)))]
#[get("/subscriptions/{slug}/run-as-grants")]
pub async fn list_run_as_grants(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let (pa, limit) = ask(&q)?;
    let items: Vec<RunAsGrantView> = run_as::list(&ctx, &sub.id, pa)
        .await?
        .iter()
        .map(RunAsGrantView::from)
        .collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |g| g.id.clone())))
}

/// One run-as grant.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/run-as-grants/{id}", responses((status = 200, body = RunAsGrantView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/run-as-grants/{id}")]
pub async fn get_run_as_grant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let grant = run_as::get(&ctx, &sub.id, &path.1).await?;
    Ok(HttpResponse::Ok().json(RunAsGrantView::from(&grant)))
}

/// Delete a run-as grant (tokens already exchanged run until they expire).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/run-as-grants/{id}", responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/run-as-grants/{id}")]
pub async fn delete_run_as_grant(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    run_as::delete(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! `/admin/v1/subscriptions`: tenants.

use super::dto::{
    CreateSubscription, McpClient, Page, PageQuery, PatchSubscription, SubscriptionView, page,
};
use super::error::ApiError;
use super::{Admin, Body};
use crate::domain::{Slug, Subscription};
use crate::service::{AdminError, Ctx, tenants};
use actix_web::{HttpResponse, delete, get, patch, post, web};

fn view(ctx: &Ctx, s: &Subscription) -> SubscriptionView {
    SubscriptionView {
        id: s.id.0.clone(),
        slug: s.slug.to_string(),
        name: s.name.clone(),
        issuer: ctx.settings.issuer(s.slug.as_str()),
        settings: crate::domain::SubscriptionSettings {
            registration_token_sha256: None,
            ..s.settings.clone()
        },
        dedicated_database: s.dedicated_database,
        mcp_client: None,
    }
}

/// Create a subscription with its keys and MCP client (system admins only).
#[utoipa::path(post, path = "/admin/v1/subscriptions", request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionView), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions")]
pub async fn post_subscription(
    ctx: web::Data<Ctx>,
    admin: Admin,
    body: Body<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    if !admin.0.system {
        return Err(AdminError::Forbidden.into());
    }
    let slug = Slug::parse(&body.0.slug, "slug")?;
    let created = tenants::create(
        &ctx,
        slug,
        &body.0.name,
        body.0.database_url.as_ref(),
        &admin.0.actor,
    )
    .await?;
    let mut v = view(&ctx, &created.subscription);
    v.mcp_client = Some(McpClient {
        client_id: created.mcp_client_id,
        client_secret: created.mcp_client_secret,
    });
    Ok(HttpResponse::Created().json(v))
}

/// List subscriptions: every one for system admins, only its own for a tenant admin.
#[utoipa::path(get, path = "/admin/v1/subscriptions", params(PageQuery), responses((status = 200, body = Page<SubscriptionView>)))]
#[get("/subscriptions")]
pub async fn list_subscriptions(
    ctx: web::Data<Ctx>,
    admin: Admin,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit()?;
    if !admin.0.system {
        return Ok(HttpResponse::Ok().json(Page {
            items: vec![view(&ctx, &admin.0.home)],
            next: None,
        }));
    }
    let subs = ctx
        .store
        .subscriptions()
        .list_all(q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<SubscriptionView> = subs.iter().map(|s| view(&ctx, s)).collect();
    Ok(HttpResponse::Ok().json(page(items, limit, |v| v.slug.clone())))
}

/// One subscription.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}", responses((status = 200, body = SubscriptionView), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}")]
pub async fn get_subscription(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &sub)))
}

/// Change name or settings.
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}", request_body = PatchSubscription, responses((status = 200, body = SubscriptionView), (status = 400, body = ApiError)))]
#[patch("/subscriptions/{slug}")]
pub async fn patch_subscription(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<PatchSubscription>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let settings = body
        .0
        .settings
        .map(|s| s.apply(sub.settings.clone()))
        .transpose()?;
    if let Some(n) = &body.0.name
        && (n.trim().is_empty() || n.len() > 200)
    {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let updated = tenants::update(&ctx, &sub, body.0.name, settings, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(view(&ctx, &updated)))
}

/// Delete a subscription and everything it owns (system admins only).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}", responses((status = 204), (status = 403, body = ApiError)))]
#[delete("/subscriptions/{slug}")]
pub async fn delete_subscription(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !admin.0.system {
        return Err(AdminError::Forbidden.into());
    }
    let sub = admin.0.tenant(&ctx, &path).await?;
    tenants::delete(&ctx, &sub).await?;
    Ok(HttpResponse::NoContent().finish())
}

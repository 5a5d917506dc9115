//! `/admin/v1/subscriptions/{slug}/connections`: LDAP, Active Directory and upstream
//! OIDC connections (secrets write-only), their diagnosis, and user links.

use super::dto::{CreatedUser, Page, PageQuery, page};
use super::error::ApiError;
use super::{Admin, Body};
use crate::directory::diagnose::Diagnosis;
use crate::domain::connection::ConnectionInput;
use crate::service::{AdminError, Ctx, connections};
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A connection as the API shows it: the settings, and for the secret only `{"set":
/// true}` or `{"env": NAME}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct ConnectionView(pub serde_json::Value);

/// `PUT …/users/{id}/links/{connection_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The identity's stable id at the connection (entryUUID, objectGUID, upstream `sub`).
    pub external_id: String,
}

/// One link of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// Connection id.
    pub connection_id: String,
    /// External id.
    pub external_id: String,
}

/// Create a connection; the answer's `id` names it in later calls.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/connections", request_body = ConnectionInput,
    responses((status = 201, body = CreatedUser), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
#[post("/subscriptions/{slug}/connections")]
pub async fn post_connection(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<serde_json::Map<String, serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let input = ConnectionInput::from_json(body.0)?;
    let conn = connections::create(&ctx, &sub.id, input, &admin.0.actor).await?;
    Ok(HttpResponse::Created().json(CreatedUser { id: conn.id }))
}

/// List connections.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/connections", params(PageQuery),
    responses((status = 200, body = Page<ConnectionView>)))]
#[get("/subscriptions/{slug}/connections")]
pub async fn list_connections(
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
        .connections()
        .list(&sub.id, q.after.as_deref(), limit + 1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<(String, serde_json::Value)> = list
        .iter()
        .map(|c| (c.id.clone(), connections::view(c)))
        .collect();
    let p = page(items, limit, |(id, _)| id.clone());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "items": p.items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "next": p.next,
    })))
}

/// One connection.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/connections/{id}",
    responses((status = 200, body = ConnectionView), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/connections/{id}")]
pub async fn get_connection(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let conn = ctx
        .db(&sub.id)
        .await?
        .repos()
        .connections()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    Ok(HttpResponse::Ok().json(connections::view(&conn)))
}

/// Change a connection (JSON merge patch: `null` removes a setting; secrets omitted are
/// kept).
#[utoipa::path(patch, path = "/admin/v1/subscriptions/{slug}/connections/{id}", request_body = Object,
    responses((status = 200, body = ConnectionView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
#[patch("/subscriptions/{slug}/connections/{id}")]
pub async fn patch_connection(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
    body: Body<serde_json::Map<String, serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let conn = connections::update(&ctx, &sub.id, &path.1, body.0, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(connections::view(&conn)))
}

/// Delete a connection and its user links (the users stay).
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/connections/{id}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/connections/{id}")]
pub async fn delete_connection(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    connections::delete(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Check reachability and credentials stage by stage (DNS, TCP, TLS, bind, search; or
/// OIDC discovery). Always 200 with the diagnosis; never shows a secret.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/connections/{id}/test",
    responses((status = 200, body = Diagnosis), (status = 404, body = ApiError)))]
#[post("/subscriptions/{slug}/connections/{id}/test")]
pub async fn test_connection(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let d = connections::test(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::Ok().json(d))
}

/// A user's links to connection identities.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}/links",
    responses((status = 200, body = Page<LinkView>), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}/links")]
pub async fn list_links(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let db = ctx.db(&sub.id).await?;
    let repos = db.repos();
    repos
        .users()
        .get(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?;
    let items: Vec<LinkView> = repos
        .connections()
        .links_of_user(&sub.id, &path.1)
        .await
        .map_err(AdminError::from)?
        .into_iter()
        .map(|l| LinkView {
            connection_id: l.connection_id,
            external_id: l.external_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { items, next: None }))
}

/// Pre-link a user to an identity of a connection (its next login lands in this user).
#[utoipa::path(put, path = "/admin/v1/subscriptions/{slug}/users/{id}/links/{connection_id}", request_body = LinkBody,
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
#[put("/subscriptions/{slug}/users/{id}/links/{connection_id}")]
pub async fn put_link(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
    body: Body<LinkBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    connections::link(
        &ctx,
        &sub.id,
        &path.1,
        &path.2,
        &body.0.external_id,
        &admin.0.actor,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unlink a user from a connection.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/links/{connection_id}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/links/{connection_id}")]
pub async fn delete_link(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    connections::unlink(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

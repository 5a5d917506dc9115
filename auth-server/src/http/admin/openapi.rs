//! The OpenAPI 3.1 document of the admin API, generated from the handlers.

use super::{audit, clients, dto, error, keys, subscriptions, users};
use actix_web::{HttpResponse, get};
use utoipa::OpenApi;

/// The admin API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "auth-server admin API", version = "1"),
    paths(
        subscriptions::post_subscription, subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::patch_subscription, subscriptions::delete_subscription,
        clients::post_client, clients::list_clients, clients::get_client, clients::patch_client,
        clients::delete_client, clients::rotate_client_secret,
        users::post_user, users::list_users, users::get_user, users::patch_user, users::delete_user, users::post_user_password,
        keys::list_keys, keys::rotate_keys, audit::list_audit, audit::get_history,
    ),
    components(schemas(error::ApiError, dto::CreateSubscription, dto::SubscriptionView, dto::McpClient, dto::PatchSubscription,
        dto::PatchSettings, dto::ClientBody, dto::ClientView, dto::CreatedClient, dto::PatchClient, dto::RotatedSecret,
        dto::UserBody, dto::UserView, dto::CreatedUser, dto::PatchUser, dto::PasswordBody, keys::KeyView,
        crate::store::audit::AuditEvent)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct AdminApi;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /admin/v1/openapi.json`
#[get("/openapi.json")]
pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok().json(AdminApi::openapi())
}

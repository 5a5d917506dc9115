//! The OpenAPI 3.1 document of the admin API, generated from the handlers.

use super::{
    acl_apps, acl_dto, acl_explain, acl_groups, acl_workspaces, audit, clients, connections,
    consents, dto, error, keys, locks, metadata_clients, mfa, sessions, subscriptions, users,
};
use actix_web::{HttpResponse, get};
use utoipa::OpenApi;

/// The admin API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "auth-server admin API", version = "1"),
    paths(
        subscriptions::post_subscription, subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::patch_subscription, subscriptions::delete_subscription,
        clients::post_client, clients::list_clients, clients::list_ai_clients, clients::list_registered_clients, clients::post_registration_token, clients::get_client, clients::patch_client,
        clients::delete_client, clients::rotate_client_secret,
        metadata_clients::list_metadata_clients, metadata_clients::get_metadata_client,
        metadata_clients::delete_metadata_client, metadata_clients::delete_metadata_client_block,
        users::post_user, users::list_users, users::get_user, users::patch_user, users::delete_user, users::post_user_password,
        consents::list_user_consents, consents::delete_user_consent,
        sessions::list_user_sessions, sessions::delete_user_session, sessions::delete_user_sessions,
        connections::post_connection, connections::list_connections, connections::get_connection,
        connections::patch_connection, connections::delete_connection, connections::test_connection,
        connections::list_links, connections::put_link, connections::delete_link,
        keys::list_keys, keys::rotate_keys, audit::list_audit, audit::get_history,
        acl_workspaces::post_workspace, acl_workspaces::list_workspaces, acl_workspaces::get_workspace,
        acl_workspaces::patch_workspace, acl_workspaces::delete_workspace, acl_workspaces::list_participants,
        acl_workspaces::get_participant, acl_workspaces::put_participant, acl_workspaces::delete_participant,
        acl_groups::post_group, acl_groups::list_groups, acl_groups::get_group, acl_groups::patch_group,
        acl_groups::delete_group, acl_groups::list_members, acl_groups::put_member, acl_groups::delete_member,
        acl_apps::post_app, acl_apps::list_apps, acl_apps::get_app, acl_apps::patch_app, acl_apps::delete_app,
        acl_apps::post_run_as_grant, acl_apps::list_run_as_grants, acl_apps::get_run_as_grant, acl_apps::delete_run_as_grant,
        mfa::get_user_mfa, mfa::delete_user_mfa, mfa::get_group_mfa_policy, mfa::put_group_mfa_policy,
        mfa::delete_group_mfa_policy, acl_explain::post_acl_explain,
        locks::get_user_lock, locks::delete_user_lock, locks::list_login_locks, locks::delete_login_lock,
    ),
    components(schemas(error::ApiError, dto::CreateSubscription, dto::SubscriptionView, dto::McpClient, dto::PatchSubscription,
        dto::PatchSettings, dto::PatchBranding, crate::domain::branding::Branding, dto::ClientBody, dto::ClientView, dto::CreatedClient, dto::PatchClient, dto::RotatedSecret, dto::InitialAccessToken,
        metadata_clients::MetadataClientView,
        dto::UserBody, dto::UserView, dto::CreatedUser, dto::PatchUser, dto::PasswordBody, consents::ConsentView, sessions::UserSessions, sessions::SessionView, sessions::GrantView, keys::KeyView,
        crate::store::audit::AuditEvent, acl_dto::WorkspaceBody, acl_dto::PatchWorkspace, acl_dto::WorkspaceView,
        acl_dto::ParticipantBody, acl_dto::ParticipantView, acl_dto::GroupBody, acl_dto::GroupView, acl_dto::MemberView,
        acl_dto::AppBody, acl_dto::PatchApp, acl_dto::AppView, acl_dto::RunAsBody, acl_dto::RunAsGrantView, acl_dto::CreatedRunAs,
        crate::service::mfa::Status, mfa::GroupMfaPolicy, crate::service::throttle::LockStatus,
        crate::domain::connection::ConnectionInput, crate::domain::connection::ConnectionConfig,
        crate::domain::connection::ConnectionKind, crate::domain::connection::SecretInput,
        crate::domain::connection::GroupSettings, crate::domain::connection::GroupMapping,
        connections::ConnectionView, connections::LinkBody, connections::LinkView,
        crate::directory::diagnose::Diagnosis, crate::directory::diagnose::Step, acl_explain::ExplainBody)),
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

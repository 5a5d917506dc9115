//! The admin API `/admin/v1` (DESIGN.md "Admin API"): JSON, bearer tokens with scope
//! `admin`, one file per resource, OpenAPI generated from the handlers.

pub mod acl_apps;
pub mod acl_dto;
pub mod acl_explain;
pub mod acl_groups;
pub mod acl_workspaces;
pub mod audit;
pub mod clients;
pub mod connections;
pub mod consents;
pub mod dto;
pub mod error;
pub mod keys;
pub mod locks;
pub mod metadata_clients;
pub mod mfa;
pub mod openapi;
pub mod sessions;
pub mod subscriptions;
pub mod users;

use crate::http::extract::{bearer, meta};
use crate::service::Ctx;
use crate::service::admin::{self, Principal};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use error::ApiError;
use futures_util::StreamExt;
use std::future::Future;
use std::pin::Pin;

/// Largest admin request body.
const MAX_BODY: usize = 256 * 1024;

/// An authenticated admin caller.
pub struct Admin(pub Principal);

/// The caller of a request dispatched in-process by the command line (`cli::api`): a
/// request extension, which only code running in this process can attach. No header,
/// cookie or token maps to it, so nothing that arrives over the network can carry it,
/// and the server's own listener never inserts it.
#[derive(Debug, Clone)]
pub struct InProcess(Principal);

impl InProcess {
    /// Mark a request as made in-process by `principal`.
    pub fn new(principal: Principal) -> InProcess {
        InProcess(principal)
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(InProcess(principal)) = req.extensions().get::<InProcess>().cloned() {
            return Box::pin(async move { Ok(Admin(principal)) });
        }
        let token = bearer(req);
        let (request_id, ip) = meta(req);
        let ctx = req
            .app_data::<web::Data<Ctx>>()
            .map(|c| c.get_ref().clone());
        Box::pin(async move {
            let ctx = ctx.ok_or_else(|| ApiError::from(crate::service::AdminError::Unavailable))?;
            let token = token.ok_or_else(|| ApiError::from(admin::AdminAuthError::Unauthorized))?;
            Ok(Admin(
                admin::authenticate(&ctx, &token, request_id, ip).await?,
            ))
        })
    }
}

/// A JSON body parsed strictly: unknown members, wrong types and malformed JSON are 400
/// naming the field; over 256 KiB is 413.
pub struct Body<T>(pub T);

fn field_of(path: &str, message: &str) -> String {
    // serde_path_to_error's path already ends with an unknown member's name; a missing
    // or repeated member is named only in the message (the path is its parent's).
    if let Some(rest) = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
        && let Some(name) = rest.split('`').next()
    {
        return name.to_owned();
    }
    path.to_owned()
}

/// Parse an admin JSON body strictly: a wrong or unknown member is an error naming it
/// (`grants[1].group`), malformed or truncated JSON an error naming the `body`.
pub fn decode<T: serde::de::DeserializeOwned>(buf: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(buf);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // Malformed or truncated JSON is the body's fault, not a member's: the path of a
        // syntax error is only where the parser stopped (`?`).
        let field = if e.inner().is_syntax() || e.inner().is_eof() {
            String::new()
        } else {
            field_of(&path, &message)
        };
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        ApiError::invalid(
            if field.is_empty() || field == "." || field == "?" {
                "body".to_owned()
            } else {
                field
            },
            message,
        )
    })
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Body<T>, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::invalid(
                    "body",
                    "Content-Type must be application/json",
                ));
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|_| ApiError::invalid("body", "could not read the body"))?;
                if buf.len() + chunk.len() > MAX_BODY {
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        None,
                        "the body exceeds 256 KiB",
                    ));
                }
                buf.extend_from_slice(&chunk);
            }
            decode(&buf).map(Body)
        })
    }
}

/// Register the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::invalid("query", e.to_string()).into()),
            )
            .service(openapi::get_openapi)
            .service(subscriptions::post_subscription)
            .service(subscriptions::list_subscriptions)
            .service(subscriptions::get_subscription)
            .service(subscriptions::patch_subscription)
            .service(subscriptions::delete_subscription)
            .service(clients::post_client)
            .service(clients::list_clients)
            .service(clients::list_ai_clients)
            .service(clients::list_registered_clients)
            .service(clients::post_registration_token)
            .service(clients::get_client)
            .service(clients::patch_client)
            .service(clients::delete_client)
            .service(clients::rotate_client_secret)
            .service(metadata_clients::list_metadata_clients)
            .service(metadata_clients::get_metadata_client)
            .service(metadata_clients::delete_metadata_client)
            .service(metadata_clients::delete_metadata_client_block)
            .service(users::post_user)
            .service(users::list_users)
            .service(users::get_user)
            .service(users::patch_user)
            .service(users::delete_user)
            .service(users::post_user_password)
            .service(locks::get_user_lock)
            .service(locks::delete_user_lock)
            .service(locks::list_login_locks)
            .service(locks::delete_login_lock)
            .service(consents::list_user_consents)
            .service(consents::delete_user_consent)
            .service(sessions::list_user_sessions)
            .service(sessions::delete_user_session)
            .service(sessions::delete_user_sessions)
            .service(mfa::get_user_mfa)
            .service(mfa::delete_user_mfa)
            .service(mfa::get_group_mfa_policy)
            .service(mfa::put_group_mfa_policy)
            .service(mfa::delete_group_mfa_policy)
            .service(connections::post_connection)
            .service(connections::list_connections)
            .service(connections::get_connection)
            .service(connections::patch_connection)
            .service(connections::delete_connection)
            .service(connections::test_connection)
            .service(connections::list_links)
            .service(connections::put_link)
            .service(connections::delete_link)
            .service(keys::list_keys)
            .service(keys::rotate_keys)
            .service(audit::list_audit)
            .service(audit::get_history)
            .configure(configure_acl),
    );
}

/// Register the ACL routes (workspaces, participants, groups, members, apps, run-as).
fn configure_acl(cfg: &mut web::ServiceConfig) {
    use {acl_apps as a, acl_groups as g, acl_workspaces as w};
    cfg.service(w::post_workspace)
        .service(w::list_workspaces)
        .service(w::get_workspace)
        .service(w::patch_workspace)
        .service(w::delete_workspace)
        .service(w::list_participants)
        .service(w::get_participant)
        .service(w::put_participant)
        .service(w::delete_participant)
        .service(g::post_group)
        .service(g::list_groups)
        .service(g::get_group)
        .service(g::patch_group)
        .service(g::delete_group)
        .service(g::list_members)
        .service(g::put_member)
        .service(g::delete_member)
        .service(a::post_app)
        .service(a::list_apps)
        .service(a::get_app)
        .service(a::patch_app)
        .service(a::delete_app)
        .service(a::post_run_as_grant)
        .service(a::list_run_as_grants)
        .service(a::get_run_as_grant)
        .service(a::delete_run_as_grant)
        .service(acl_explain::post_acl_explain);
}

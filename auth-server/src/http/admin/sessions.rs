//! `/admin/v1/subscriptions/{slug}/users/{id}/sessions`: a user's live browser sessions
//! and grants, and signing the user out of one session or everywhere (see
//! `service::sessions`). Never shows a session cookie or its hash: a session is named
//! by its public `sid` (the `sid` claim of the tokens issued through it).

use super::Admin;
use super::error::ApiError;
use crate::service::{Ctx, sessions};
use actix_web::{HttpResponse, delete, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// A live grant (refresh-token family) of the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// The client holding it.
    pub client_id: String,
    /// Its display name (`null` when it is not a registered client any more).
    pub client_name: Option<String>,
    /// Granted scope, space-separated.
    pub scope: String,
    /// When it was granted (Unix seconds).
    pub created_at: i64,
    /// It asked for `offline_access`: signing out its session leaves it alive.
    pub offline: bool,
}

/// A live browser session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Public session id (the `sid` claim of the tokens issued through it).
    pub sid: String,
    /// When the session was created (Unix seconds).
    pub created_at: i64,
    /// Absolute expiry (Unix seconds).
    pub expires_at: i64,
    /// When the user last authenticated (OIDC `auth_time`).
    pub auth_time: i64,
    /// How the user authenticated (`pwd`, `otp`, `fed`, …).
    pub amr: Vec<String>,
    /// Authentication context class (`1fa` / `2fa`).
    pub acr: Option<String>,
    /// Client IP address at sign-in (`null` for sessions from before it was recorded).
    pub ip: Option<String>,
    /// Browser `User-Agent` at sign-in (sender-controlled text, at most 512 characters).
    pub user_agent: Option<String>,
    /// Grants made through this session.
    pub clients: Vec<GrantView>,
}

/// A user's sessions and the grants that outlive (or never had) a browser session.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSessions {
    /// Live browser sessions, oldest first.
    pub sessions: Vec<SessionView>,
    /// Live grants not made through a live browser session (offline access, token
    /// exchange, sessions started before the session index existed).
    pub grants: Vec<GrantView>,
}

impl From<sessions::Grant> for GrantView {
    fn from(g: sessions::Grant) -> Self {
        GrantView {
            client_id: g.client_id,
            client_name: g.client_name,
            scope: g.scope,
            created_at: g.created_at,
            offline: g.offline,
        }
    }
}

impl From<sessions::Overview> for UserSessions {
    fn from(o: sessions::Overview) -> Self {
        UserSessions {
            sessions: o
                .sessions
                .into_iter()
                .map(|s| SessionView {
                    sid: s.row.sid,
                    created_at: s.row.created_at,
                    expires_at: s.row.expires_at,
                    auth_time: s.row.auth_time,
                    amr: s.row.amr,
                    acr: s.row.acr,
                    ip: s.row.ip,
                    user_agent: s.row.user_agent,
                    clients: s.grants.into_iter().map(GrantView::from).collect(),
                })
                .collect(),
            grants: o.grants.into_iter().map(GrantView::from).collect(),
        }
    }
}

/// A user's live browser sessions (with the clients holding grants made through each)
/// and their other live grants.
#[utoipa::path(get, path = "/admin/v1/subscriptions/{slug}/users/{id}/sessions",
    responses((status = 200, body = UserSessions), (status = 404, body = ApiError)))]
#[get("/subscriptions/{slug}/users/{id}/sessions")]
pub async fn list_user_sessions(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    let overview = sessions::list(&ctx, &sub.id, &path.1).await?;
    Ok(HttpResponse::Ok().json(UserSessions::from(overview)))
}

/// Sign out one browser session (audited as `user.session_ended`): the next
/// authorization in that browser asks the user to sign in, and the grants made through
/// it without `offline_access` are revoked, as logout does.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/sessions/{sid}",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/sessions/{sid}")]
pub async fn delete_user_session(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    sessions::sign_out(&ctx, &sub.id, &path.1, &path.2, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign the user out everywhere (audited as `user.signed_out`): every browser session
/// ends and every refresh-token family of the user is revoked, offline ones included.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{slug}/users/{id}/sessions",
    responses((status = 204), (status = 404, body = ApiError)))]
#[delete("/subscriptions/{slug}/users/{id}/sessions")]
pub async fn delete_user_sessions(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path.0).await?;
    sessions::sign_out_everywhere(&ctx, &sub.id, &path.1, &admin.0.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}

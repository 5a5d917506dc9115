//! Upstream SSO pages: `GET /t/{slug}/sso/{connection}?tx=…` sends the browser to the
//! upstream provider; `GET /t/{slug}/sso/{connection}/callback` finishes the login.
//! Every failure (cancel at the upstream, forged or replayed callback) is an error page.

use super::{PageError, login::complete, same_browser, see_other};
use crate::http::extract::Tenant;
use crate::service::Ctx;
use crate::service::login::{self, LoginError};
use crate::service::sso::{self, SsoError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

fn page_error(e: SsoError) -> PageError {
    match e {
        SsoError::Flow(f) | SsoError::Login(LoginError::Flow(f)) => PageError::from_flow(f),
        SsoError::Upstream(why) | SsoError::InvalidToken(why) => {
            tracing::warn!(reason = %why, "SSO login failed");
            let message = if why.starts_with("discovery") {
                SsoError::Upstream(String::new()).to_string()
            } else {
                e_message(&why)
            };
            PageError {
                status: StatusCode::BAD_GATEWAY,
                message,
            }
        }
        SsoError::UnknownConnection => PageError {
            status: StatusCode::NOT_FOUND,
            message: SsoError::UnknownConnection.to_string(),
        },
        other => PageError::bad_request(other.to_string()),
    }
}

fn e_message(why: &str) -> String {
    if why.starts_with("code exchange") {
        SsoError::Upstream(String::new()).to_string()
    } else {
        SsoError::InvalidToken(String::new()).to_string()
    }
}

/// `GET /t/{slug}/sso/{connection}?tx=…`
pub async fn get_sso_start(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let sub = &tenant.0;
    let tx_id = q
        .get("tx")
        .ok_or_else(|| PageError::bad_request("Start signing in from your application."))?;
    let tx = login::load_tx(&ctx, sub, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| {
            PageError::bad_request(
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    if !same_browser(&req, sub.slug.as_str(), &tx.request.browser) {
        return Err(PageError::forbidden());
    }
    let url = sso::start(&ctx, sub, &path.1, tx_id)
        .await
        .map_err(page_error)?;
    Ok(see_other(&url))
}

/// `GET /t/{slug}/sso/{connection}/callback`
pub async fn get_sso_callback(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let sub = &tenant.0;
    let (request_id, ip) = crate::http::extract::meta(&req);
    let actor = crate::service::Actor {
        request_id,
        ip,
        ..Default::default()
    };
    let (tx_id, first) = sso::finish(&ctx, sub, &path.1, &q, &actor)
        .await
        .map_err(page_error)?;
    // The authorization transaction must belong to this browser, like the login form.
    let tx = login::load_tx(&ctx, sub, &tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| {
            PageError::bad_request(
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    if !same_browser(&req, sub.slug.as_str(), &tx.request.browser) {
        return Err(PageError::forbidden());
    }
    complete(&ctx, sub, &tx_id, tx, &first, super::device(&req)).await
}

//! The account's applications page (`/t/{slug}/account/consents`) for a signed-in
//! browser: the applications the user consented to, each with a button that revokes the
//! consent (DESIGN.md: remembered "until the user or an admin revokes it"). Revoking
//! also ends the refresh tokens the user granted that application (`service::consents`).
//! The form carries the session's CSRF token and is refused cross-origin (SECURITY.md
//! X1/X2); a successful post answers 303 back to the list (RFC 9700 §4.12).

use super::account::signed_in;
use super::{Chrome, PageError, branded, check_origin, page_with, see_other};
use crate::domain::{Subscription, User};
use crate::http::extract::{Params, Tenant};
use crate::service::login::Session;
use crate::service::{Actor, AdminError, Ctx, consents};
use crate::tokens::constant_time_eq;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

/// The most consents the page lists (a user consents to a handful of applications).
const MAX_LISTED: u64 = 200;

fn page_error(e: AdminError) -> PageError {
    match e {
        AdminError::NotFound => PageError {
            status: StatusCode::NOT_FOUND,
            message: "That application has no access to revoke.".into(),
        },
        AdminError::Unavailable => PageError::from_flow(crate::service::FlowError::Unavailable),
        other => PageError::from_flow(crate::service::FlowError::Internal(anyhow::anyhow!(
            "{other}"
        ))),
    }
}

async fn render(
    chrome: &Chrome<'_>,
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
    s: &Session,
) -> Result<Markup, PageError> {
    let list = consents::list(ctx, &sub.id, &user.id, None, MAX_LISTED)
        .await
        .map_err(page_error)?;
    let action = format!("/t/{}/account/consents", sub.slug);
    let t = chrome.t;
    Ok(branded(
        chrome,
        t.applications,
        html! {
            h1 { (t.applications_heading) }
            @if list.is_empty() {
                p id="no-consents" { (t.no_consents) }
            } @else {
                ul {
                    @for g in &list {
                        li class="consent" data-client-id=(g.consent.client_id) {
                            strong { (g.client_name.as_deref().unwrap_or(&g.consent.client_id)) }
                            (t.may_use) code { (g.consent.scope) }
                            form method="post" action=(action) {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input type="hidden" name="client_id" value=(g.consent.client_id);
                                button type="submit" { (t.revoke_access) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /t/{slug}/account/consents`
pub async fn get_account_consents(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    let (session, user) = signed_in(&req, &ctx, &tenant.0).await?;
    let chrome = Chrome::of(&req, &tenant.0, None);
    Ok(page_with(
        StatusCode::OK,
        &chrome,
        render(&chrome, &ctx, &tenant.0, &user, &session).await?,
        false,
    ))
}

/// `POST /t/{slug}/account/consents` with `csrf` and `client_id`: revoke, then 303 to
/// the list.
pub async fn post_account_consents(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &ctx.settings.public_url)?;
    let sub = &tenant.0;
    let (session, user) = signed_in(&req, &ctx, sub).await?;
    let p = Params::parse(std::str::from_utf8(&body).unwrap_or(""))
        .map_err(|_| PageError::bad_request("Malformed form."))?;
    if session.csrf.is_empty()
        || !constant_time_eq(
            p.get("csrf").unwrap_or_default().as_bytes(),
            session.csrf.as_bytes(),
        )
    {
        return Err(PageError::forbidden());
    }
    let client_id = p
        .get("client_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| PageError::bad_request("Choose the application whose access to revoke."))?;
    let (request_id, ip) = crate::http::extract::meta(&req);
    let actor = Actor {
        user_id: Some(user.id.clone()),
        client_id: None,
        act: None,
        request_id,
        ip,
    };
    consents::revoke(&ctx, &sub.id, &user.id, client_id, &actor)
        .await
        .map_err(page_error)?;
    Ok(see_other(&format!("/t/{}/account/consents", sub.slug)))
}

//! The consent page: which client asks for which scopes; `decision` = `allow | deny`.
//! The transaction is taken on POST (single use), so a replayed form finds nothing.

use super::{Chrome, PageError, branded, check_origin, see_other};
use crate::http::extract::{Params, Tenant};
use crate::http::protocol::authorize::{current_session, location};
use crate::service::Ctx;
use crate::service::login;
use crate::service::oauth::authorize;
use crate::tokens::constant_time_eq;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

/// `GET /t/{slug}/consent?tx=…`
pub async fn get_consent(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let sub = &tenant.0;
    let tx_id = q
        .get("tx")
        .ok_or_else(|| PageError::bad_request("Start from your application."))?;
    let tx = login::load_tx(&ctx, sub, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| {
            PageError::bad_request("This request has expired. Start again from the application.")
        })?;
    current_session(&req, &ctx, sub).await?.ok_or_else(|| {
        PageError::bad_request("You are not signed in. Start again from the application.")
    })?;
    let client = crate::service::clients::lookup(&ctx, &sub.id, &tx.request.client_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| PageError::bad_request("This application is no longer known."))?;
    // A metadata-document client names itself: the host that serves the document is
    // the only thing the user can trust, so it comes first.
    let host = crate::domain::cimd::looks_like_url(&client.client_id)
        .then(|| url::Url::parse(&client.client_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let chrome = Chrome::of(&req, sub, tx.request.ui_locales.as_deref());
    let t = chrome.t;
    let markup = branded(
        &chrome,
        t.allow_access,
        html! {
            @if let Some(h) = &host {
                p class="client-host" { (t.application_from) " " strong { (h) } }
            }
            h1 { (t.allow_q) " " (client.name) "?" }
            @if host.is_some() {
                p { (t.unregistered_by) " " (host.as_deref().unwrap_or_default()) (t.unregistered_end) }
            }
            p { (client.name) " " (t.asks_for) }
            ul { @for s in tx.request.scope.split(' ').filter(|s| !s.is_empty()) { li { (s) } } }
            form method="post" action={ "/t/" (sub.slug) "/consent" } {
                input type="hidden" name="tx" value=(tx_id);
                input type="hidden" name="csrf" value=(tx.csrf);
                button type="submit" name="decision" value="allow" { (t.allow) }
                button type="submit" name="decision" value="deny" { (t.deny) }
            }
        },
    );
    Ok(super::page_to(
        StatusCode::OK,
        &chrome,
        markup,
        &tx.request.redirect_uri,
        false,
    ))
}

/// `POST /t/{slug}/consent`
pub async fn post_consent(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &ctx.settings.public_url)?;
    let sub = &tenant.0;
    let p = Params::parse(std::str::from_utf8(&body).unwrap_or(""))
        .map_err(|_| PageError::bad_request("Malformed form."))?;
    let tx_id = p.get("tx").unwrap_or_default();
    let expired = || PageError::bad_request("This request has expired or was already answered.");
    // Checked before it is consumed: a forged or cross-site post must not burn the
    // user's consent handle (SECURITY.md X2).
    let tx = login::load_tx(&ctx, sub, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(expired)?;
    // A transaction whose second factor is still open was never authenticated.
    if tx.pending.is_some()
        || !constant_time_eq(
            p.get("csrf").unwrap_or_default().as_bytes(),
            tx.csrf.as_bytes(),
        )
    {
        return Err(PageError::forbidden());
    }
    if !super::same_browser(&req, sub.slug.as_str(), &tx.request.browser) {
        return Err(PageError::forbidden());
    }
    // Single use: of two genuine posts only one finds it.
    let tx = login::take_tx(&ctx, sub, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(expired)?;
    let session = current_session(&req, &ctx, sub).await?.ok_or_else(|| {
        PageError::bad_request("You are not signed in. Start again from the application.")
    })?;
    let issuer = ctx.settings.issuer(sub.slug.as_str());
    let location = match p.get("decision") {
        Some("allow") => {
            let meta = crate::http::extract::meta(&req);
            let next = authorize::grant_consent(&ctx, sub, &tx.request, &session, meta)
                .await
                .map_err(PageError::from_flow)?;
            location(&ctx, sub, next).await?
        }
        Some("deny") => authorize::deny(&tx.request, &issuer).map_err(PageError::from_flow)?,
        _ => return Err(PageError::bad_request("Choose allow or deny.")),
    };
    Ok(see_other(&location))
}

//! The login form (`username`, `password`, hidden `csrf` and `tx`). Failures show one
//! generic message; account-state messages appear only after the password was right.

use super::{Chrome, PageError, branded, check_origin, page_to, see_other, session_cookie};
use crate::http::extract::{Params, Tenant};
use crate::http::state::Metrics;
use crate::service::Ctx;
use crate::service::federation;
use crate::service::login::{self, LoginError};
use crate::service::oauth::authorize;
use crate::service::second_factor::{self, AfterFirstFactor};
use crate::tokens::constant_time_eq;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

/// An upstream SSO connection offered on the login page.
pub struct SsoLink {
    /// Connection name (`data-connection`).
    pub name: String,
}

fn form(
    chrome: &Chrome<'_>,
    slug: &str,
    tx: &str,
    csrf: &str,
    username: &str,
    alert: Option<&str>,
    sso: &[SsoLink],
) -> maud::Markup {
    let t = chrome.t;
    branded(
        chrome,
        t.sign_in,
        html! {
            h1 { (t.sign_in) }
            @if let Some(a) = alert { p role="alert" { (a) } }
            @if !sso.is_empty() {
                ul class="sso" {
                    @for l in sso {
                        li { a href={ "/t/" (slug) "/sso/" (l.name) "?tx=" (tx) } data-connection=(l.name) { (t.sign_in_with) " " (l.name) } }
                    }
                }
            }
            form method="post" action={ "/t/" (slug) "/login" } {
                input type="hidden" name="tx" value=(tx);
                input type="hidden" name="csrf" value=(csrf);
                label { (t.username) " " input name="username" autocomplete="username" value=(username) required; }
                label { (t.password) " " input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" name="action" value="login" { (t.sign_in) }
                button type="submit" name="action" value="cancel" formnovalidate { (t.cancel) }
            }
        },
    )
}

/// `GET /t/{slug}/login?tx=…`
pub async fn get_login(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let tx_id = q
        .get("tx")
        .ok_or_else(|| PageError::bad_request("Start signing in from your application."))?;
    let tx = login::load_tx(&ctx, &tenant.0, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| {
            PageError::bad_request(
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    let hint = tx.request.login_hint.clone().unwrap_or_default();
    let sso = sso_links(&ctx, &tenant.0).await?;
    let chrome = Chrome::of(&req, &tenant.0, tx.request.ui_locales.as_deref());
    Ok(page_to(
        StatusCode::OK,
        &chrome,
        form(
            &chrome,
            tenant.0.slug.as_str(),
            tx_id,
            &tx.csrf,
            &hint,
            None,
            &sso,
        ),
        &tx.request.redirect_uri,
        false,
    ))
}

async fn sso_links(
    ctx: &Ctx,
    sub: &crate::domain::Subscription,
) -> Result<Vec<SsoLink>, PageError> {
    Ok(crate::service::connections::ordered(ctx, &sub.id)
        .await
        .map_err(PageError::from_flow)?
        .iter()
        .filter(|c| c.enabled && c.kind == crate::domain::connection::ConnectionKind::Oidc)
        .map(|c| SsoLink {
            name: c.name.clone(),
        })
        .collect())
}

/// `POST /t/{slug}/login`
pub async fn post_login(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &ctx.settings.public_url)?;
    let p = Params::parse(std::str::from_utf8(&body).unwrap_or(""))
        .map_err(|_| PageError::bad_request("Malformed form."))?;
    let sub = &tenant.0;
    let tx_id = p.get("tx").unwrap_or_default();
    let tx = login::load_tx(&ctx, sub, tx_id)
        .await
        .map_err(PageError::from_flow)?
        .ok_or_else(|| {
            PageError::bad_request(
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    if !constant_time_eq(
        p.get("csrf").unwrap_or_default().as_bytes(),
        tx.csrf.as_bytes(),
    ) {
        return Err(PageError::forbidden());
    }
    if !super::same_browser(&req, sub.slug.as_str(), &tx.request.browser) {
        return Err(PageError::forbidden());
    }
    let issuer = ctx.settings.issuer(sub.slug.as_str());
    if p.get("action") == Some("cancel") {
        let tx = login::take_tx(&ctx, sub, tx_id)
            .await
            .map_err(PageError::from_flow)?
            .ok_or_else(PageError::forbidden)?;
        return Ok(see_other(
            &authorize::deny(&tx.request, &issuer).map_err(PageError::from_flow)?,
        ));
    }
    let (request_id, ip) = crate::http::extract::meta(&req);
    let actor = crate::service::Actor {
        user_id: None,
        client_id: Some(tx.request.client_id.clone()),
        act: None,
        request_id,
        ip,
    };
    let username = p.get("username").unwrap_or_default();
    let first = match federation::password_login(
        &ctx,
        sub,
        username,
        p.get("password").unwrap_or_default(),
        &actor,
    )
    .await
    {
        Ok(f) => f,
        Err(LoginError::Flow(e)) => return Err(PageError::from_flow(e)),
        Err(LoginError::UseSso(name)) => {
            return Ok(see_other(&format!(
                "/t/{}/sso/{name}?tx={tx_id}",
                sub.slug.as_str()
            )));
        }
        Err(e) => {
            let sso = sso_links(&ctx, sub).await?;
            metrics.login_failures.inc();
            tracing::info!(tenant = %sub.slug, reason = ?e, "login failed");
            let chrome = Chrome::of(&req, sub, tx.request.ui_locales.as_deref());
            // One catalogue message for every credential failure, whatever its kind, so
            // the page never tells which part was wrong (DESIGN.md HTML contract).
            let message = match e {
                LoginError::BadCredentials | LoginError::UnknownToDirectory => {
                    chrome.t.login_failed.to_owned()
                }
                LoginError::Disabled => chrome.t.account_disabled.to_owned(),
                other => chrome.say(&other.to_string()).to_owned(),
            };
            return Ok(page_to(
                StatusCode::OK,
                &chrome,
                form(
                    &chrome,
                    sub.slug.as_str(),
                    tx_id,
                    &tx.csrf,
                    username,
                    Some(&message),
                    &sso,
                ),
                &tx.request.redirect_uri,
                false,
            ));
        }
    };
    complete(&ctx, sub, tx_id, tx, &first, super::device(&req)).await
}

/// Finish a verified first factor (password, directory or SSO) on the live transaction
/// `tx` (already loaded and checked by the caller): the second-factor
/// decision, and when no further step is needed a fresh session (no fixation) and the
/// rest of the authorization; otherwise on to the code step.
pub async fn complete(
    ctx: &Ctx,
    sub: &crate::domain::Subscription,
    tx_id: &str,
    mut tx: login::AuthzTx,
    first: &login::FirstFactor,
    device: login::Device,
) -> Result<HttpResponse, PageError> {
    tx.device = device;
    let issuer = ctx.settings.issuer(sub.slug.as_str());
    let factor = federation::mfa_first_factor(ctx, sub, first)
        .await
        .map_err(PageError::from_flow)?;
    let after = second_factor::after_first_factor(
        ctx,
        sub,
        &issuer,
        tx_id,
        tx,
        &first.user,
        factor,
        first.standing,
    )
    .await
    .map_err(PageError::from_flow)?;
    let (sid, next) = match after {
        AfterFirstFactor::SecondStep(tx) => {
            return Ok(see_other(&format!("/t/{}/login/2fa?tx={tx}", sub.slug)));
        }
        AfterFirstFactor::Session { cookie, next } => (cookie, next),
    };
    let mut resp = see_other(&crate::http::protocol::authorize::location(ctx, sub, next).await?);
    resp.add_cookie(&session_cookie(
        &ctx.settings.public_url,
        sub.slug.as_str(),
        sid,
        ctx.settings.session_ttl as i64,
    ))
    .map_err(|_| PageError::bad_request("cookie"))?;
    Ok(resp)
}

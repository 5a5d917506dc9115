//! The second-factor step of a login (`/t/{slug}/login/2fa?tx=…`): the `code` form for
//! enrolled users, forced enrolment when the policy requires 2FA, and the pages that
//! show recovery codes once (or how many are left) before "continue". Same CSRF,
//! browser binding and origin checks as the login form.

use super::account::{enrolment_block, qr_data_uri, recovery_codes_block};
use super::{Chrome, PageError, branded, check_origin, see_other, session_cookie};
use crate::http::extract::{Params, Tenant};
use crate::http::protocol::authorize::location;
use crate::service::Ctx;
use crate::service::second_factor::{self, Step, StepError, StepOutcome};
use crate::tokens::constant_time_eq;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

fn step_error(slug: &str, e: StepError) -> Result<HttpResponse, PageError> {
    match e {
        StepError::Restart(tx) => Ok(see_other(&format!("/t/{slug}/login?tx={tx}"))),
        StepError::Gone => Err(PageError::bad_request(StepError::Gone.to_string())),
        StepError::Flow(f) => Err(PageError::from_flow(f)),
    }
}

fn code_form(c: &Chrome<'_>, slug: &str, tx: &str, csrf: &str, alert: Option<&str>) -> Markup {
    let t = c.t;
    branded(
        c,
        t.two_factor,
        html! {
            h1 { (t.enter_code) }
            @if let Some(a) = alert { p role="alert" { (a) } }
            p { (t.code_hint) }
            form method="post" action={ "/t/" (slug) "/login/2fa" } {
                input type="hidden" name="tx" value=(tx);
                input type="hidden" name="csrf" value=(csrf);
                label { (t.code) " " input name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus; }
                button type="submit" { (t.verify) }
            }
        },
    )
}

fn enrol_page(
    c: &Chrome<'_>,
    slug: &str,
    tx: &str,
    csrf: &str,
    uri: &str,
    alert: Option<&str>,
) -> Markup {
    let t = c.t;
    branded(
        c,
        t.set_up_2fa,
        html! {
            h1 { (t.set_up_2fa) }
            @if let Some(a) = alert { p role="alert" { (a) } }
            p { (t.enrol_required) }
            (enrolment_block(t, uri, &qr_data_uri(uri)))
            form method="post" action={ "/t/" (slug) "/login/2fa" } {
                input type="hidden" name="tx" value=(tx);
                input type="hidden" name="csrf" value=(csrf);
                label { (t.code) " " input name="code" autocomplete="one-time-code" inputmode="numeric" required; }
                button type="submit" { (t.confirm) }
            }
        },
    )
}

fn continue_page(c: &Chrome<'_>, slug: &str, tx: &str, csrf: &str, body: Markup) -> Markup {
    branded(
        c,
        c.t.two_factor,
        html! {
            (body)
            form method="post" action={ "/t/" (slug) "/login/2fa" } {
                input type="hidden" name="tx" value=(tx);
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" name="action" value="continue" { (c.t.continue_) }
            }
        },
    )
}

/// `GET /t/{slug}/login/2fa?tx=…`
pub async fn get_second_factor(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let sub = &tenant.0;
    let slug = sub.slug.as_str();
    let tx_id = q.get("tx").map(String::as_str).unwrap_or_default();
    let (tx, pending) = match second_factor::open_step(&ctx, sub, tx_id).await {
        Ok(v) => v,
        Err(e) => return step_error(slug, e),
    };
    let chrome = Chrome::of(&req, sub, tx.request.ui_locales.as_deref());
    let qr = pending.step == Step::Enrol;
    let markup = match pending.step {
        Step::Totp => code_form(&chrome, slug, tx_id, &tx.csrf, None),
        Step::Enrol => {
            let user = ctx
                .db(&sub.id)
                .await
                .map_err(|e| PageError::from_flow(e.into()))?
                .repos()
                .users()
                .get(&sub.id, &pending.user_id)
                .await
                .map_err(|e| PageError::from_flow(e.into()))?;
            let enrolment = crate::service::mfa::begin_enrolment(&ctx, sub, &user)
                .await
                .map_err(|e| PageError::bad_request(e.to_string()))?;
            enrol_page(&chrome, slug, tx_id, &tx.csrf, &enrolment.uri, None)
        }
        Step::Done => continue_page(
            &chrome,
            slug,
            tx_id,
            &tx.csrf,
            html! { h1 { (chrome.t.verified) } },
        ),
    };
    Ok(super::page_to(
        StatusCode::OK,
        &chrome,
        markup,
        &tx.request.redirect_uri,
        qr,
    ))
}

/// `POST /t/{slug}/login/2fa`
pub async fn post_second_factor(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &ctx.settings.public_url)?;
    let sub = &tenant.0;
    let slug = sub.slug.as_str();
    let p = Params::parse(std::str::from_utf8(&body).unwrap_or(""))
        .map_err(|_| PageError::bad_request("Malformed form."))?;
    let tx_id = p.get("tx").unwrap_or_default();
    let (tx, pending) = match second_factor::open_step(&ctx, sub, tx_id).await {
        Ok(v) => v,
        Err(e) => return step_error(slug, e),
    };
    if !constant_time_eq(
        p.get("csrf").unwrap_or_default().as_bytes(),
        tx.csrf.as_bytes(),
    ) || !super::same_browser(&req, slug, &tx.request.browser)
    {
        return Err(PageError::forbidden());
    }
    let (request_id, ip) = crate::http::extract::meta(&req);
    let actor = crate::service::Actor {
        user_id: Some(pending.user_id.clone()),
        client_id: Some(tx.request.client_id.clone()),
        act: None,
        request_id,
        ip,
    };
    let cookie_name = super::session_cookie_name(&ctx.settings.public_url, slug);
    let cookie = req.cookie(&cookie_name).map(|c| c.value().to_owned());
    let csrf = tx.csrf.clone();
    let redirect_uri = tx.request.redirect_uri.clone();
    let chrome = Chrome::of(&req, sub, tx.request.ui_locales.as_deref());
    let step = pending.step;
    let user_id = pending.user_id.clone();
    let issuer = ctx.settings.issuer(slug);
    let code = p.get("code").unwrap_or_default();
    let outcome = second_factor::submit(
        &ctx,
        sub,
        &issuer,
        tx_id,
        tx,
        pending,
        code,
        &actor,
        cookie.as_deref(),
    )
    .await
    .map_err(PageError::from_flow)?;
    match outcome {
        StepOutcome::Done { cookie, next } => {
            let mut resp = see_other(&location(&ctx, sub, next).await?);
            if let Some(c) = cookie {
                resp.add_cookie(&session_cookie(
                    &ctx.settings.public_url,
                    slug,
                    c,
                    ctx.settings.session_ttl as i64,
                ))
                .map_err(|_| PageError::bad_request("cookie"))?;
            }
            Ok(resp)
        }
        StepOutcome::RecoveryCodes(codes) => Ok(super::page_to(
            StatusCode::OK,
            &chrome,
            continue_page(
                &chrome,
                slug,
                tx_id,
                &csrf,
                html! {
                    h1 { (chrome.t.mfa_on) }
                    (recovery_codes_block(chrome.t, &codes))
                },
            ),
            &redirect_uri,
            false,
        )),
        StepOutcome::RecoveryUsed(left) => Ok(super::page_to(
            StatusCode::OK,
            &chrome,
            continue_page(
                &chrome,
                slug,
                tx_id,
                &csrf,
                html! {
                    h1 { (chrome.t.recovery_accepted) }
                    p id="recovery-codes-left" { (chrome.t.codes_left.0) (left) (chrome.t.codes_left.1) }
                    @if left <= 3 { p { (chrome.t.regenerate_soon) } }
                },
            ),
            &redirect_uri,
            false,
        )),
        StepOutcome::Refused(e) => {
            let markup = match step {
                Step::Enrol => {
                    let user = ctx
                        .db(&sub.id)
                        .await
                        .map_err(|e| PageError::from_flow(e.into()))?
                        .repos()
                        .users()
                        .get(&sub.id, &user_id)
                        .await
                        .map_err(|e| PageError::from_flow(e.into()))?;
                    let enrolment = crate::service::mfa::begin_enrolment(&ctx, sub, &user)
                        .await
                        .map_err(|e| PageError::bad_request(e.to_string()))?;
                    enrol_page(
                        &chrome,
                        slug,
                        tx_id,
                        &csrf,
                        &enrolment.uri,
                        Some(chrome.say(&e.to_string())),
                    )
                }
                _ => code_form(
                    &chrome,
                    slug,
                    tx_id,
                    &csrf,
                    Some(chrome.say(&e.to_string())),
                ),
            };
            Ok(super::page_to(
                StatusCode::OK,
                &chrome,
                markup,
                &redirect_uri,
                step == Step::Enrol,
            ))
        }
    }
}

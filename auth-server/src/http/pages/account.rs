//! The account's 2FA page (`/t/{slug}/account/2fa`) for a signed-in browser: enrolment
//! (QR code + `otpauth://` URI in `id="otpauth-uri"`, confirmed by a code; needs a
//! first factor under five minutes old), then status, recovery-code regeneration and
//! turning 2FA off, each only after a fresh code (SECURITY.md §4.1 "re-enrollment
//! requires recent auth"). Forms carry the session's CSRF token; the page is `no-store`.

use super::i18n::Text;
use super::{Chrome, PageError, branded, check_origin, page_with};
use crate::domain::{Subscription, User};
use crate::http::extract::{Params, Tenant};
use crate::http::protocol::authorize::current_session;
use crate::service::login::{self, Session};
use crate::service::mfa::{self, MfaError};
use crate::service::{Actor, Ctx};
use crate::tokens::constant_time_eq;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use maud::{Markup, html};

/// How old the first factor may be for enrolment (DESIGN.md: under five minutes).
const FRESH: i64 = 300;

/// The QR code of `uri` as an inline SVG data URI (the CSP allows `img-src data:`).
pub fn qr_data_uri(uri: &str) -> String {
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// The URI and its QR code, side by side.
pub fn enrolment_block(t: &Text, uri: &str, qr: &str) -> Markup {
    html! {
        figure {
            img src=(qr) alt=(t.qr_alt) width="200" height="200";
            figcaption { (t.or_enter) " " code id="otpauth-uri" { (uri) } }
        }
    }
}

/// The recovery codes, each in `class="recovery-code"`, shown once.
pub fn recovery_codes_block(t: &Text, codes: &[String]) -> Markup {
    html! {
        p { (t.recovery_notice) }
        ul { @for c in codes { li { code class="recovery-code" { (c) } } } }
    }
}

fn code_field(t: &Text) -> Markup {
    html! { label { (t.code_from_app) " " input name="code" autocomplete="one-time-code" inputmode="numeric" required; } }
}

/// The account page and whether it shows the enrolment QR code (for the CSP).
async fn render(
    chrome: &Chrome<'_>,
    ctx: &Ctx,
    sub: &Subscription,
    user: &User,
    s: &Session,
    alert: Option<&str>,
) -> Result<(Markup, bool), PageError> {
    let t = chrome.t;
    let mut qr = false;
    let status = mfa::status(ctx, sub, &user.id)
        .await
        .map_err(PageError::from_flow)?;
    let action = format!("/t/{}/account/2fa", sub.slug);
    let body = if status.enrolled {
        html! {
            p id="mfa-status" { (t.mfa_on) }
            p id="recovery-codes-left" { (t.codes_left.0) (status.recovery_codes_left) (t.codes_left.1) }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(s.csrf);
                (code_field(t))
                button type="submit" name="action" value="regenerate" { (t.regenerate) }
                @if status.policy != "required" {
                    button type="submit" name="action" value="disable" { (t.turn_off) }
                }
            }
        }
    } else if status.policy == "off" {
        html! { p id="mfa-status" { (chrome.say(&MfaError::PolicyOff.to_string())) } }
    } else if ctx.now() - s.auth_time > FRESH {
        html! { p id="mfa-status" { (t.sign_in_again) } }
    } else {
        let enrolment = match mfa::begin_enrolment(ctx, sub, user).await {
            Ok(e) => e,
            Err(MfaError::Flow(e)) => return Err(PageError::from_flow(e)),
            Err(e) => return Err(PageError::bad_request(e.to_string())),
        };
        qr = true;
        html! {
            p id="mfa-status" { (t.mfa_off) }
            p { (t.scan_hint) }
            (enrolment_block(t, &enrolment.uri, &qr_data_uri(&enrolment.uri)))
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(s.csrf);
                (code_field(t))
                button type="submit" name="action" value="enrol" { (t.turn_on) }
            }
        }
    };
    Ok((
        branded(
            chrome,
            t.two_factor,
            html! {
                h1 { (t.two_factor) }
                @if let Some(a) = alert { p role="alert" { (a) } }
                (body)
            },
        ),
        qr,
    ))
}

/// The signed-in, enabled user of this browser, or a 401 page.
pub(super) async fn signed_in(
    req: &HttpRequest,
    ctx: &Ctx,
    sub: &Subscription,
) -> Result<(Session, User), PageError> {
    let not_signed_in = || PageError {
        status: StatusCode::UNAUTHORIZED,
        message: "You are not signed in. Sign in through an application first.".into(),
    };
    let session = current_session(req, ctx, sub)
        .await?
        .ok_or_else(not_signed_in)?;
    match ctx
        .db(&sub.id)
        .await
        .map_err(|e| PageError::from_flow(e.into()))?
        .repos()
        .users()
        .get(&sub.id, &session.user_id)
        .await
    {
        Ok(u) if !u.disabled => Ok((session, u)),
        Ok(_) | Err(crate::store::StoreError::NotFound) => Err(not_signed_in()),
        Err(e) => Err(PageError::from_flow(e.into())),
    }
}

/// `GET /t/{slug}/account/2fa`
pub async fn get_account_2fa(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    let (session, user) = signed_in(&req, &ctx, &tenant.0).await?;
    let chrome = Chrome::of(&req, &tenant.0, None);
    let (markup, qr) = render(&chrome, &ctx, &tenant.0, &user, &session, None).await?;
    Ok(page_with(StatusCode::OK, &chrome, markup, qr))
}

/// `POST /t/{slug}/account/2fa` with `action` = `enrol | regenerate | disable` and `code`.
pub async fn post_account_2fa(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    check_origin(&req, &ctx.settings.public_url)?;
    let sub = &tenant.0;
    let (mut session, user) = signed_in(&req, &ctx, sub).await?;
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
    let (request_id, ip) = crate::http::extract::meta(&req);
    let actor = Actor {
        user_id: Some(user.id.clone()),
        client_id: None,
        act: None,
        request_id,
        ip,
    };
    let code = p.get("code").unwrap_or_default();
    let chrome = Chrome::of(&req, sub, None);
    let t = chrome.t;
    let result: Result<Markup, MfaError> = async {
        match p.get("action") {
            Some("enrol") => {
                if ctx.now() - session.auth_time > FRESH {
                    return Err(MfaError::EnrolmentExpired);
                }
                let codes = mfa::confirm_enrolment(&ctx, sub, &user, code, &actor).await?;
                // The user just proved the new factor: the session has it now.
                if let Some(cookie) = req.cookie(&super::session_cookie_name(&ctx.settings.public_url, sub.slug.as_str())) {
                    if !session.amr.iter().any(|a| a == "otp") {
                        session.amr.push("otp".into());
                    }
                    session.acr = Some(crate::mfa::ACR_MFA.to_owned());
                    session.mfa_at = Some(ctx.now());
                    login::put_session(&ctx, sub, cookie.value(), &session).await?;
                }
                Ok(html! { h1 { (t.mfa_on) } (recovery_codes_block(t, &codes)) })
            }
            Some("regenerate") => {
                mfa::verify(&ctx, sub, &user, code, &actor).await?;
                let codes = mfa::regenerate_recovery_codes(&ctx, sub, &user.id, &actor).await?;
                Ok(html! { h1 { (t.new_codes) } p { (t.old_codes_void) } (recovery_codes_block(t, &codes)) })
            }
            Some("disable") => {
                mfa::verify(&ctx, sub, &user, code, &actor).await?;
                mfa::remove(&ctx, sub, &user.id, &actor, false).await?;
                Ok(html! { h1 { (t.mfa_off) } p id="mfa-status" { (t.mfa_off) } })
            }
            _ => Err(MfaError::Malformed("Choose an action.")),
        }
    }
    .await;
    match result {
        Ok(body) => Ok(page_with(
            StatusCode::OK,
            &chrome,
            branded(&chrome, t.two_factor, body),
            false,
        )),
        Err(MfaError::Flow(e)) => Err(PageError::from_flow(e)),
        Err(e) => {
            let (markup, qr) = render(
                &chrome,
                &ctx,
                sub,
                &user,
                &session,
                Some(chrome.say(&e.to_string())),
            )
            .await?;
            Ok(page_with(StatusCode::OK, &chrome, markup, qr))
        }
    }
}

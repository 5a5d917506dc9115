//! The authorization endpoint (GET and POST, OIDC Core §3.1.2.1). Before the client and
//! redirect URI are validated every error is a 400 page; after, a redirect carrying
//! `error`, `state` and `iss`.

use crate::domain::Subscription;
use crate::http::extract::{Params, Tenant};
use crate::http::pages::{PageError, browser_binding, session_cookie_name};
use crate::service::Ctx;
use crate::service::login::{self, Session};
use crate::service::oauth::authorize::{self, Next};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// Where the browser goes next; a granted authorization stores its code first
/// (through oxide-auth's `Authorizer`, see [`oxide`](super::oxide)).
pub async fn location(ctx: &Ctx, sub: &Subscription, next: Next) -> Result<String, PageError> {
    let slug = sub.slug.as_str();
    Ok(match next {
        Next::Login(tx) => format!("/t/{slug}/login?tx={tx}"),
        Next::Consent(tx) => format!("/t/{slug}/consent?tx={tx}"),
        Next::SecondFactor(tx) => format!("/t/{slug}/login/2fa?tx={tx}"),
        Next::Redirect(url) => url,
        Next::Code(grant) => {
            let code = super::oxide::store_code(ctx, sub, &grant.record, &grant.redirect_uri)
                .await
                .map_err(PageError::from_flow)?;
            authorize::code_redirect(&grant, &code, &ctx.settings.issuer(slug))
                .map_err(PageError::from_flow)?
        }
    })
}

/// The browser's live session at this tenant, if any.
pub async fn current_session(
    req: &HttpRequest,
    ctx: &Ctx,
    sub: &Subscription,
) -> Result<Option<Session>, PageError> {
    let Some(cookie) = req.cookie(&session_cookie_name(
        &ctx.settings.public_url,
        sub.slug.as_str(),
    )) else {
        return Ok(None);
    };
    login::session(ctx, sub, cookie.value())
        .await
        .map_err(PageError::from_flow)
}

/// The longest authorization request URL we read (SECURITY.md §6.1 "URL > 8 KB → 414"):
/// a legitimate request (a 4 KB `state`, S2, plus the rest) fits; anything longer is
/// refused before parsing instead of being carried through login into stored
/// transactions. A POST body is capped separately (64 KB, like every form).
const MAX_URL: usize = 8 * 1024;

/// `GET|POST /t/{slug}/authorize`
pub async fn authorize(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    let raw = if req.method() == actix_web::http::Method::POST {
        std::str::from_utf8(&body).unwrap_or("").to_owned()
    } else {
        if req.uri().to_string().len() > MAX_URL {
            return Err(PageError {
                status: actix_web::http::StatusCode::URI_TOO_LONG,
                message: "The request is too long.".into(),
            });
        }
        req.query_string().to_owned()
    };
    let p = Params::parse(&raw).map_err(|name| {
        PageError::bad_request(format!("The parameter {name} appears more than once."))
    })?;
    let mut map = p.map;
    if !p.resources.is_empty() {
        map.insert("resource".into(), p.resources.join(" "));
    }
    let sub = &tenant.0;
    let issuer = ctx.settings.issuer(sub.slug.as_str());
    let (client, redirect_uri) = authorize::validate_client(&ctx, sub, &map)
        .await
        .map_err(PageError::from_flow)?;
    let mut request = match authorize::validate_request(sub, &client, redirect_uri, &map) {
        Ok(r) => r,
        Err(e) => {
            return Ok(found(
                &authorize::error_redirect(&e, &issuer).map_err(PageError::from_flow)?,
            ));
        }
    };
    let (browser, new_cookie) = browser_binding(&req, &ctx.settings.public_url, sub.slug.as_str());
    request.browser = crate::tokens::hash_token(&browser);
    let session = current_session(&req, &ctx, sub).await?;
    let next = authorize::decide(&ctx, sub, &client, &issuer, request, session, false)
        .await
        .map_err(PageError::from_flow)?;
    let mut resp = found(&location(&ctx, sub, next).await?);
    if let Some(c) = new_cookie {
        let _ = resp.add_cookie(&c);
    }
    Ok(resp)
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

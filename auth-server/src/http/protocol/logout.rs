//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). The browser is sent
//! back only to a `post_logout_redirect_uri` registered for the client named by
//! `client_id` or `id_token_hint`; otherwise a page says the user is signed out, so the
//! endpoint is no open redirector (RFC 9700 §4.11).

use crate::http::extract::{Params, Tenant};
use crate::http::pages::{PageError, layout, page, session_cookie, session_cookie_name};
use crate::service::{Ctx, keys, login};
use crate::tokens::jwt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

/// `GET|POST /t/{slug}/logout`
pub async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, PageError> {
    let raw = if req.method() == actix_web::http::Method::POST {
        std::str::from_utf8(&body).unwrap_or("").to_owned()
    } else {
        req.query_string().to_owned()
    };
    let p = Params::parse(&raw).map_err(|n| {
        PageError::bad_request(format!("The parameter {n} appears more than once."))
    })?;
    let sub = &tenant.0;
    let slug = sub.slug.as_str();
    if let Some(c) = req.cookie(&session_cookie_name(&ctx.settings.public_url, slug)) {
        login::end_session(&ctx, sub, c.value())
            .await
            .map_err(PageError::from_flow)?;
    }
    let hinted_client = match p.get("id_token_hint") {
        Some(hint) => {
            let ring = keys::verifying_ring(&ctx, &sub.id, hint)
                .await
                .map_err(|e| PageError::from_flow(e.into()))?;
            // An expired hint still names the client (OIDC RP-Initiated Logout §2).
            jwt::verify(&ring, hint, "JWT", ctx.now(), i64::from(u32::MAX))
                .ok()
                .and_then(|c| c.get("aud").and_then(|a| a.as_str()).map(str::to_owned))
        }
        None => None,
    };
    let client_id = p.get("client_id").map(str::to_owned).or(hinted_client);
    let mut target = None;
    if let (Some(uri), Some(cid)) = (p.get("post_logout_redirect_uri"), client_id)
        && let Ok(db) = ctx.db(&sub.id).await
        && let Ok(client) = db.repos().clients().get(&sub.id, &cid).await
        && client
            .spec
            .post_logout_redirect_uris
            .iter()
            .any(|r| r.as_str() == uri)
        && let Ok(mut url) = url::Url::parse(uri)
    {
        if let Some(state) = p.get("state") {
            url.query_pairs_mut().append_pair("state", state);
        }
        target = Some(url.to_string());
    }
    let mut resp = match target {
        Some(t) => crate::http::pages::see_other(&t),
        None => page(
            StatusCode::OK,
            layout("Signed out", html! { h1 { "You are signed out." } }),
        ),
    };
    let _ = resp.add_cookie(&session_cookie(
        &ctx.settings.public_url,
        slug,
        String::new(),
        0,
    ));
    Ok(resp)
}

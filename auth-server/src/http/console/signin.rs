//! Signing in to the console: this server's own authorization code flow with PKCE
//! (RFC 7636 S256) and `state`, as the first-party public client
//! `auth-server-console` of the chosen issuer (`system`, or a tenant's issuer for its
//! own admins). The code is redeemed server-side; the tokens never reach the browser.

use super::session::{self, Session};
use super::{Admin, ConsoleError, Form, layout, render, see_other};
use crate::service::{Ctx, console, random, tenants};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use maud::html;
use serde_json::Value;
use sha2::Digest;
use std::collections::HashMap;

/// `GET /admin`: the console home when signed in, else the sign-in choice.
pub async fn get_home(ctx: web::Data<Ctx>, req: HttpRequest) -> Result<HttpResponse, ConsoleError> {
    if session::current(&ctx, &req).await?.is_some() {
        return Ok(see_other("/admin/subscriptions"));
    }
    Ok(render(
        StatusCode::OK,
        layout(
            "Sign in",
            None,
            None,
            html! {
                h1 { "Sign in to the console" }
                p { "System administrators sign in at the system issuer; a tenant's administrators at their subscription's issuer." }
                p { a class="button" href="/admin/login?tenant=system" { "Sign in as a system administrator" } }
                form method="get" action="/admin/login" {
                    label for="tenant" { "Subscription (slug)" }
                    input id="tenant" name="tenant" required pattern="[a-z0-9][a-z0-9\\-]{1,62}" autocomplete="off";
                    button type="submit" { "Sign in as a tenant administrator" }
                }
            },
        ),
    ))
}

fn pkce() -> (String, String) {
    let verifier = random::token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `GET /admin/login?tenant=slug`: start the authorization request.
pub async fn get_login(
    ctx: web::Data<Ctx>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let slug = q.get("tenant").map_or("system", |s| s.trim());
    let sub = match tenants::resolve(&ctx, slug).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => {
            return Err(ConsoleError::BadRequest(
                "There is no subscription with this slug.".into(),
            ));
        }
        Err(_) => return Err(ConsoleError::Unavailable),
    };
    console::ensure_client(&ctx, &sub)
        .await
        .map_err(|e| match e {
            crate::service::AdminError::Unavailable => ConsoleError::Unavailable,
            other => ConsoleError::Internal(other.to_string()),
        })?;
    let (verifier, challenge) = pkce();
    let state = session::begin_login(&ctx, sub.slug.as_str(), verifier).await?;
    let mut url = url::Url::parse(&format!(
        "{}/authorize",
        ctx.settings.issuer(sub.slug.as_str())
    ))
    .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", console::CLIENT_ID)
        .append_pair("redirect_uri", &console::redirect_uri(&ctx))
        .append_pair("scope", "openid admin")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(see_other(url.as_str()))
}

/// `GET /admin/callback?code&state&iss`: redeem the code, open a session.
pub async fn get_callback(
    ctx: web::Data<Ctx>,
    api: web::Data<super::Api>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let bad = || ConsoleError::BadRequest("This sign-in is no longer valid. Start again.".into());
    let state = q.get("state").ok_or_else(bad)?;
    let tx = session::take_login(&ctx, state).await?.ok_or_else(bad)?;
    // RFC 9207: the answer must come from the issuer we sent the admin to (mix-up).
    if q.get("iss").map(String::as_str) != Some(ctx.settings.issuer(&tx.slug).as_str()) {
        return Err(bad());
    }
    if let Some(e) = q.get("error") {
        return Err(ConsoleError::BadRequest(format!(
            "Sign-in was not completed ({e})."
        )));
    }
    let code = q.get("code").ok_or_else(bad)?;
    let redirect = console::redirect_uri(&ctx);
    let a = api
        .token(
            &tx.slug,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("client_id", console::CLIENT_ID),
                ("code_verifier", &tx.verifier),
            ],
        )
        .await?;
    if !a.status.is_success() {
        return Err(bad());
    }
    let scope = a.body.get("scope").and_then(Value::as_str).unwrap_or("");
    if !scope.split(' ').any(|s| s == "admin") {
        return Err(ConsoleError::Api(
            StatusCode::FORBIDDEN,
            "This account is not an administrator of this subscription.".into(),
        ));
    }
    let now = ctx.now();
    let mut s = Session {
        home: tx.slug,
        access_token: String::new(),
        refresh_token: None,
        access_expires_at: 0,
        csrf: random::token(32),
        expires_at: now + session::SESSION_TTL,
    };
    apply_tokens(&ctx, &mut s, &a.body)?;
    let sid = session::save(&ctx, None, &s).await?;
    let mut resp = see_other(
        if s.home == tenants::SYSTEM {
            "/admin/subscriptions".to_owned()
        } else {
            format!("/admin/s/{}/clients", super::seg(&s.home))
        }
        .as_str(),
    );
    resp.add_cookie(&session::cookie(
        &ctx.settings.public_url,
        sid,
        session::SESSION_TTL,
    ))
    .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(resp)
}

fn apply_tokens(ctx: &Ctx, s: &mut Session, body: &Value) -> Result<(), ConsoleError> {
    s.access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| ConsoleError::Internal("token response without access_token".into()))?
        .to_owned();
    if let Some(r) = body.get("refresh_token").and_then(Value::as_str) {
        s.refresh_token = Some(r.to_owned());
    }
    let ttl = body.get("expires_in").and_then(Value::as_i64).unwrap_or(60);
    s.access_expires_at = ctx.now() + ttl;
    Ok(())
}

/// Renew the access token with the refresh token (rotated on every use).
pub async fn refresh(ctx: &Ctx, api: &super::Api, s: &mut Session) -> Result<(), ConsoleError> {
    let Some(rt) = s.refresh_token.clone() else {
        return Err(ConsoleError::SignIn);
    };
    let a = api
        .token(
            &s.home,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", console::CLIENT_ID),
            ],
        )
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::SignIn);
    }
    apply_tokens(ctx, s, &a.body)
}

/// `POST /admin/logout`: end the session and revoke its refresh token.
pub async fn post_logout(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    ctx: web::Data<Ctx>,
) -> Result<HttpResponse, ConsoleError> {
    let _: Form = admin.form(&req, &body)?;
    session::end(&ctx, &admin.sid).await?;
    if let Some(rt) = &admin.session.refresh_token {
        // Best effort: the session is gone either way.
        let _ = admin
            .api
            .revoke(&admin.session.home, rt, console::CLIENT_ID)
            .await;
    }
    let mut resp = see_other("/admin");
    resp.add_cookie(&session::cookie(&ctx.settings.public_url, String::new(), 0))
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(resp)
}

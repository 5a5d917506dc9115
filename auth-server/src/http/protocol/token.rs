//! The token endpoint (RFC 6749 §3.2): authenticate the client, then the grant: the
//! code, refresh and client-credentials grants through oxide-auth ([`oxide`]), RFC 8693
//! token exchange (run-as: `subject_token`, `subject_token_type`, `requested_subject`,
//! optional `scope`) beside it, which oxide-auth has no machine for.

use super::credentials_json;
use super::error::OAuthError;
use super::oxide;
use crate::http::extract::{Params, Tenant, client_auth, form};
use crate::http::state::Metrics;
use crate::service::oauth::issue::TokenResponse;
use crate::service::oauth::{quota, token_exchange};
use crate::service::{Ctx, FlowError, clients};
use actix_web::{HttpRequest, HttpResponse, post, web};

/// `POST /t/{slug}/token`
#[post("/token")]
pub async fn post_token(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let p = form(&req, &body)?;
    let presented = client_auth(&req, &p)?;
    let issuer = ctx.settings.issuer(tenant.0.slug.as_str());
    let fail = |e: FlowError| OAuthError::from_flow(e, "token");
    let grant_type = p
        .get("grant_type")
        .ok_or_else(|| OAuthError::bad_request("invalid_request", "grant_type is missing"))?;
    let client = clients::authenticate(&ctx, &tenant.0.id, &issuer, &presented)
        .await
        .map_err(fail)?;
    let response = grant(&ctx, &tenant, &issuer, &client, grant_type, &p)
        .await
        .map_err(fail)?;
    metrics.tokens_issued.with_label_values(&[grant_type]).inc();
    Ok(credentials_json(response))
}

async fn grant(
    ctx: &Ctx,
    tenant: &Tenant,
    issuer: &str,
    client: &crate::domain::Client,
    grant_type: &str,
    p: &Params,
) -> Result<TokenResponse, FlowError> {
    let t = &tenant.0;
    quota::admit(ctx, t, client).await?;
    // Each grant's future is boxed: inline, this future would be as large as the
    // largest of them, and it is moved on every request (docs/performance.md, session 9).
    let response = match grant_type {
        "authorization_code" => {
            Box::pin(oxide::authorization_code(ctx, t, issuer, client, p)).await
        }
        "refresh_token" => Box::pin(oxide::refresh_token(ctx, t, issuer, client, p)).await,
        "client_credentials" => {
            Box::pin(oxide::client_credentials(ctx, t, issuer, client, p)).await
        }
        token_exchange::GRANT_TYPE => {
            let req = token_exchange::ExchangeRequest {
                subject_token: p.get("subject_token"),
                subject_token_type: p.get("subject_token_type"),
                requested_subject: p.get("requested_subject"),
                requested_token_type: p.get("requested_token_type"),
                scope: p.get("scope"),
                resources: &p.resources,
            };
            Box::pin(token_exchange::exchange(ctx, t, issuer, client, req)).await
        }
        _ => Err(FlowError::UnsupportedGrantType),
    }?;
    quota::issued(ctx, t, client).await?;
    Ok(response)
}

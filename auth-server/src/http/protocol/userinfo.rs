//! OIDC UserInfo (Core §5.3) with RFC 6750 bearer errors. The token comes from the
//! `Authorization` header or a POST form body, never from the query (OAuth 2.1 §5.1).

use super::error::OAuthError;
use super::no_store_json;
use crate::http::extract::{Params, Tenant, bearer};
use crate::service::{Ctx, introspect};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

fn no_token() -> OAuthError {
    OAuthError {
        code: "invalid_request",
        description: None,
        status: StatusCode::UNAUTHORIZED,
        www_authenticate: Some("Bearer".into()),
        retry_after: None,
    }
}

/// `GET|POST /t/{slug}/userinfo`
pub async fn userinfo(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let header_token = bearer(&req);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let body_token = if is_form {
        Params::parse(std::str::from_utf8(&body).unwrap_or(""))
            .ok()
            .and_then(|p| p.get("access_token").map(str::to_owned))
    } else {
        None
    };
    let token = match (header_token, body_token) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "send the token in one place only",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(no_token()),
    };
    let issuer = ctx.settings.issuer(tenant.0.slug.as_str());
    let claims = introspect::userinfo(&ctx, &tenant.0, &issuer, &token)
        .await
        .map_err(|e| OAuthError::from_flow(e, "userinfo"))?;
    Ok(no_store_json(claims))
}

//! Token introspection (RFC 7662 §2). The caller is a client of the same subscription
//! allowed to introspect; anything not active answers `{"active": false}` only. The
//! optional `acl_workspace`, `acl_app` and `acl_record` parameters add the ACL answer
//! (DESIGN.md "ACL model"; see `service::acl::introspection`).

use super::error::OAuthError;
use super::no_store_body;
use crate::http::extract::{Tenant, client_auth, form};
use crate::http::state::Metrics;
use crate::service::acl::introspection::AclAsk;
use crate::service::{Ctx, acl, clients};
use actix_web::{HttpRequest, HttpResponse, post, web};

/// `POST /t/{slug}/introspect`
#[post("/introspect")]
pub async fn post_introspect(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let p = form(&req, &body)?;
    if p.get("acl_workspace").is_some() {
        acl::facts::prefetch_generations(&ctx, &tenant.0.id).await;
    }
    let presented = client_auth(&req, &p)?;
    let issuer = ctx.settings.issuer(tenant.0.slug.as_str());
    let caller = clients::authenticate(&ctx, &tenant.0.id, &issuer, &presented)
        .await
        .map_err(|e| OAuthError::from_flow(e, "introspect"))?;
    if !caller.spec.introspection {
        return Err(OAuthError {
            status: actix_web::http::StatusCode::FORBIDDEN,
            ..OAuthError::bad_request(
                "unauthorized_client",
                "this client may not introspect tokens",
            )
        });
    }
    let token = p
        .get("token")
        .ok_or_else(|| OAuthError::bad_request("invalid_request", "token is missing"))?;
    let fail = |e| OAuthError::from_flow(e, "introspect");
    let ask = AclAsk::from_params(
        p.get("acl_workspace"),
        p.get("acl_app"),
        p.get("acl_record"),
    )
    .map_err(fail)?;
    let answer = acl::introspection::introspect(&ctx, &tenant.0, &issuer, &caller, token, ask)
        .await
        .map_err(fail)?;
    metrics.introspections.inc();
    Ok(no_store_body(answer.body()))
}

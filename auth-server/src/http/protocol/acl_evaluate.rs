//! `POST /t/{slug}/acl/evaluate`: one token, one app, up to 10,000 records, one ACL
//! decision per record in the same order (DESIGN.md "ACL calls").
//!
//! Client authentication is the introspection endpoint's: HTTP Basic, or the RFC 6749
//! §2.3.1 / RFC 7523 members (`client_id`, `client_secret`, `client_assertion`,
//! `client_assertion_type`) as members of the JSON body, and the client needs
//! `introspection: true`. The body may be up to 16 MiB (10,000 records).

use super::error::OAuthError;
use super::no_store_json;
use crate::acl::RecordFacts;
use crate::http::extract::{Params, Tenant, client_auth};
use crate::service::acl::facts::prefetch_generations;
use crate::service::acl::introspection::{self, EvaluateRequest};
use crate::service::{Ctx, clients};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

/// Largest accepted body.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateBody {
    token: String,
    workspace: String,
    app: String,
    records: Vec<RecordFacts>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
}

/// `POST /t/{slug}/acl/evaluate`
pub async fn post_acl_evaluate(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<Ctx>,
    tenant: Tenant,
) -> Result<HttpResponse, OAuthError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "the body must be application/json",
        ));
    }
    let b: EvaluateBody = serde_json::from_slice(&body)
        .map_err(|e| OAuthError::bad_request("invalid_request", format!("malformed body: {e}")))?;
    let mut p = Params::default();
    for (k, v) in [
        ("client_id", b.client_id),
        ("client_secret", b.client_secret),
        ("client_assertion", b.client_assertion),
        ("client_assertion_type", b.client_assertion_type),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            p.map.insert(k.to_owned(), v);
        }
    }
    let presented = client_auth(&req, &p)?;
    prefetch_generations(&ctx, &tenant.0.id).await;
    let issuer = ctx.settings.issuer(tenant.0.slug.as_str());
    let fail = |e| OAuthError::from_flow(e, "introspect");
    let caller = clients::authenticate(&ctx, &tenant.0.id, &issuer, &presented)
        .await
        .map_err(fail)?;
    if !caller.spec.introspection {
        return Err(OAuthError {
            status: StatusCode::FORBIDDEN,
            ..OAuthError::bad_request(
                "unauthorized_client",
                "this client may not introspect tokens",
            )
        });
    }
    let ask = EvaluateRequest {
        token: b.token,
        workspace: b.workspace,
        app: b.app,
        records: b.records,
    };
    let answer = introspection::evaluate_batch(&ctx, &tenant.0, &issuer, &caller, ask)
        .await
        .map_err(fail)?;
    Ok(no_store_json(answer))
}

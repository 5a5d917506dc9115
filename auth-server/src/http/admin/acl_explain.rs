//! `POST /admin/v1/subscriptions/{slug}/acl/explain`: the ACL decision for a user (or
//! an access token) in a workspace and app, layer by layer, with the field table.

use super::error::ApiError;
use super::{Admin, Body};
use crate::acl::RecordFacts;
use crate::domain::ValidationError;
use crate::service::Ctx;
use crate::service::acl::explain::{self, Subject};
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;

/// Whose access to explain, and where.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainBody {
    /// The user's id (`sub`); exactly one of `user_id` and `token`.
    pub user_id: Option<String>,
    /// An access token of this subscription; its `sub` is explained.
    pub token: Option<String>,
    /// Workspace slug.
    pub workspace: String,
    /// App slug.
    pub app: String,
    /// Record facts as in introspection's `acl_record`; omitted: the app as a whole.
    #[schema(value_type = Option<Object>)]
    pub record: Option<RecordFacts>,
}

/// Explain an ACL decision: `{decision, layers: [{layer, outcome, reason}], user, grants, fields}`.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{slug}/acl/explain", request_body = ExplainBody,
    responses((status = 200, description = "the explanation"), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
#[post("/subscriptions/{slug}/acl/explain")]
pub async fn post_acl_explain(
    ctx: web::Data<Ctx>,
    admin: Admin,
    path: web::Path<String>,
    body: Body<ExplainBody>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin.0.tenant(&ctx, &path).await?;
    let b = body.0;
    let subject = match (b.user_id, b.token) {
        (Some(u), None) => Subject::User(u),
        (None, Some(t)) => Subject::Token(t),
        _ => {
            return Err(
                ValidationError::new("user_id", "give exactly one of user_id and token").into(),
            );
        }
    };
    let e = explain::explain(&ctx, &sub, subject, &b.workspace, &b.app, b.record).await?;
    Ok(HttpResponse::Ok().json(e))
}

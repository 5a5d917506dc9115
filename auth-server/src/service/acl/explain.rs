//! ACL explain for administrators: load the facts of (user, workspace, app) exactly as
//! introspection does and run [`crate::acl::explain`] on them. The user is named by id or
//! by one of their access tokens (its `sub`, so a run-as token explains its target).

use super::facts;
use crate::acl::{AclQuery, Explanation, RecordFacts};
use crate::domain::{Subscription, ValidationError};
use crate::service::introspect::validate_access_token;
use crate::service::{AdminError, Ctx, FlowError};
use crate::store::StoreError;

/// Whose decision to explain.
#[derive(Debug)]
pub enum Subject {
    /// A user id (`sub`).
    User(String),
    /// An access token of this subscription.
    Token(String),
}

/// Explain the decision for `subject` in `workspace`/`app` on `record`.
pub async fn explain(
    ctx: &Ctx,
    tenant: &Subscription,
    subject: Subject,
    workspace: &str,
    app: &str,
    record: Option<RecordFacts>,
) -> Result<Explanation, AdminError> {
    let user_id = match subject {
        Subject::User(id) => match ctx
            .db(&tenant.id)
            .await?
            .repos()
            .users()
            .get(&tenant.id, &id)
            .await
        {
            Ok(_) => id,
            Err(StoreError::NotFound) => {
                return Err(ValidationError::new("user_id", "no such user").into());
            }
            Err(e) => return Err(e.into()),
        },
        Subject::Token(token) => {
            let issuer = ctx.settings.issuer(tenant.slug.as_str());
            let claims = match validate_access_token(ctx, tenant, &issuer, &token).await {
                Ok(Some(c)) => c,
                Ok(None) | Err(FlowError::InvalidGrant(_)) => {
                    return Err(ValidationError::new(
                        "token",
                        "not an active access token of this subscription",
                    )
                    .into());
                }
                Err(FlowError::Unavailable) => return Err(AdminError::Unavailable),
                Err(e) => return Err(AdminError::Internal(anyhow::anyhow!(e.to_string()))),
            };
            claims
                .get("sub")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ValidationError::new("token", "the token names no subject"))?
        }
    };
    let uw = facts::user_workspace(ctx, tenant, &user_id, workspace).await?;
    if !uw.exists {
        return Err(ValidationError::new(
            "workspace",
            "no such workspace (or the user is disabled)",
        )
        .into());
    }
    Ok(crate::acl::explain(uw.facts(app), &AclQuery { record }))
}

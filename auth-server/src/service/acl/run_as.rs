//! Administering run-as grants (DESIGN.md "Contract details", run-as grants):
//! `{principal: {user_id}|{client_id}, target: {user_id}|{workspace, group}|"*"}`.
//! The exchange itself is `service::oauth::token_exchange`.

use super::admin::{PageAsk, group};
use super::{facts, unknown};
use crate::domain::{SubscriptionId, ValidationError};
use crate::service::{Actor, AdminError, Ctx, audit, random};
use crate::store::acl::{RunAsGrant, RunAsPrincipal, RunAsTarget};
use serde_json::{Value, json};

pub use crate::store::acl::RunAsPrincipal as Principal;

/// A run-as target as the admin API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One user (`sub`).
    User(String),
    /// The members of a group of a workspace.
    Group {
        /// Workspace slug.
        workspace: String,
        /// Group name.
        group: String,
    },
    /// Everyone in the subscription.
    All,
}

/// A run-as grant as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAsView {
    /// Id.
    pub id: String,
    /// Who may run as someone else.
    pub principal: Principal,
    /// Whom.
    pub target: Target,
}

fn audit_view(v: &RunAsView) -> Value {
    let principal = match &v.principal {
        Principal::User(u) => json!({"user_id": u}),
        Principal::Client(c) => json!({"client_id": c}),
    };
    let target = match &v.target {
        Target::User(u) => json!({"user_id": u}),
        Target::Group { workspace, group } => json!({"workspace": workspace, "group": group}),
        Target::All => json!("*"),
    };
    json!({"principal": principal, "target": target})
}

/// Create a grant; unknown users, clients, workspaces or groups are 400 naming the field.
pub async fn create(
    ctx: &Ctx,
    sub: &SubscriptionId,
    principal: Principal,
    target: Target,
    actor: &Actor,
) -> Result<RunAsView, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let repos = tx.repos();
    match &principal {
        RunAsPrincipal::User(u) => {
            repos
                .users()
                .get(sub, u)
                .await
                .map_err(unknown("principal.user_id", "user"))?;
        }
        RunAsPrincipal::Client(c) => {
            repos
                .clients()
                .get(sub, c)
                .await
                .map_err(unknown("principal.client_id", "client"))?;
        }
    }
    let stored_target = match &target {
        Target::User(u) => {
            repos
                .users()
                .get(sub, u)
                .await
                .map_err(unknown("target.user_id", "user"))?;
            RunAsTarget::User(u.clone())
        }
        Target::Group {
            workspace,
            group: name,
        } => {
            let (_, g) = group(&repos, sub, workspace, name)
                .await
                .map_err(|e| match e {
                    AdminError::NotFound => {
                        ValidationError::new("target.group", "no such workspace group").into()
                    }
                    other => other,
                })?;
            RunAsTarget::Group(g.id)
        }
        Target::All => RunAsTarget::All,
    };
    let grant = RunAsGrant {
        id: random::id(),
        principal: principal.clone(),
        target: stored_target,
    };
    repos.acl().insert_run_as(sub, &grant, now).await?;
    let view = RunAsView {
        id: grant.id.clone(),
        principal,
        target,
    };
    audit::record(
        &tx,
        sub,
        actor,
        "run_as_grant.created",
        ("run_as_grant", &view.id),
        audit::diff(&json!({}), &audit_view(&view)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(view)
}

async fn view(ctx: &Ctx, sub: &SubscriptionId, grant: RunAsGrant) -> Result<RunAsView, AdminError> {
    let target = match grant.target {
        RunAsTarget::User(u) => Target::User(u),
        RunAsTarget::All => Target::All,
        RunAsTarget::Group(id) => {
            let db = ctx.db(sub).await?;
            let repos = db.repos();
            let g = repos.acl().group_by_id(sub, &id).await?;
            let ws = repos.acl().workspace_by_id(sub, &g.workspace_id).await?;
            Target::Group {
                workspace: ws.slug,
                group: g.name,
            }
        }
    };
    Ok(RunAsView {
        id: grant.id,
        principal: grant.principal,
        target,
    })
}

/// One grant.
pub async fn get(ctx: &Ctx, sub: &SubscriptionId, id: &str) -> Result<RunAsView, AdminError> {
    let grant = ctx.db(sub).await?.repos().acl().run_as(sub, id).await?;
    view(ctx, sub, grant).await
}

/// A page of grants.
pub async fn list(
    ctx: &Ctx,
    sub: &SubscriptionId,
    page: PageAsk<'_>,
) -> Result<Vec<RunAsView>, AdminError> {
    let mut out = Vec::new();
    for grant in ctx
        .db(sub)
        .await?
        .repos()
        .acl()
        .list_run_as(sub, page.after, page.limit)
        .await?
    {
        out.push(view(ctx, sub, grant).await?);
    }
    Ok(out)
}

/// Delete a grant.
pub async fn delete(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let before = get(ctx, sub, id).await?;
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos().acl().delete_run_as(sub, id).await?;
    audit::record(
        &tx,
        sub,
        actor,
        "run_as_grant.deleted",
        ("run_as_grant", id),
        audit::diff(&audit_view(&before), &json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

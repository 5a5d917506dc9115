//! Administering the apps of a workspace: grants `{group, actions, records}` and field
//! policies `{field, access, groups?, when_denied}`, validated against the workspace's
//! groups before anything is written (400 naming the field, e.g. `grants[0].group`).

use super::admin::{PageAsk, workspace};
use super::{conflict, facts};
use crate::acl::{AppGrant, FieldAccess, FieldPolicy, RecordRule};
use crate::domain::{Slug, SubscriptionId, ValidationError};
use crate::service::{Actor, AdminError, Ctx, audit, random};
use crate::store::acl::App;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// An app to create.
#[derive(Debug)]
pub struct NewApp {
    /// Slug, unique in the workspace.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Grants.
    pub grants: Vec<AppGrant>,
    /// Field policies.
    pub fields: Vec<FieldPolicy>,
}

/// Changes to an app; absent members stay as they are.
#[derive(Debug, Default)]
pub struct AppPatch {
    /// New display name.
    pub name: Option<String>,
    /// New grants (replace all).
    pub grants: Option<Vec<AppGrant>>,
    /// New field policies (replace all).
    pub fields: Option<Vec<FieldPolicy>>,
}

/// The JSON view of an app for audit diffs.
pub fn audit_view(app: &App) -> Value {
    json!({"name": app.name, "grants": app.grants, "fields": app.fields})
}

/// Check grants and field policies against the workspace's group names.
pub fn validate(
    grants: &[AppGrant],
    fields: &[FieldPolicy],
    groups: &BTreeSet<String>,
) -> Result<(), ValidationError> {
    let known = |name: &str, field: String| {
        if groups.contains(name) {
            Ok(())
        } else {
            Err(ValidationError::new(
                field,
                format!("no group {name:?} in this workspace"),
            ))
        }
    };
    for (i, grant) in grants.iter().enumerate() {
        known(&grant.group, format!("grants[{i}].group"))?;
        if grant.actions.is_empty() {
            return Err(ValidationError::new(
                format!("grants[{i}].actions"),
                "must name at least one action",
            ));
        }
        if let RecordRule::FieldEqualsUserAttribute {
            field,
            equals_user_attribute,
        } = &grant.records
            && (field.is_empty() || equals_user_attribute.is_empty())
        {
            return Err(ValidationError::new(
                format!("grants[{i}].records"),
                "field and equals_user_attribute must not be empty",
            ));
        }
    }
    for (i, policy) in fields.iter().enumerate() {
        if policy.field.is_empty() {
            return Err(ValidationError::new(
                format!("fields[{i}].field"),
                "must not be empty",
            ));
        }
        match policy.access {
            FieldAccess::Groups if policy.groups.is_empty() => {
                return Err(ValidationError::new(
                    format!("fields[{i}].groups"),
                    "access: groups needs at least one group",
                ));
            }
            FieldAccess::Groups => {
                for (j, name) in policy.groups.iter().enumerate() {
                    known(name, format!("fields[{i}].groups[{j}]"))?;
                }
            }
            _ if !policy.groups.is_empty() => {
                return Err(ValidationError::new(
                    format!("fields[{i}].groups"),
                    "groups are only allowed with access: groups",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn group_names(
    tx: &crate::store::Tx,
    sub: &SubscriptionId,
    workspace_id: &str,
) -> Result<BTreeSet<String>, AdminError> {
    Ok(tx
        .repos()
        .acl()
        .groups(sub, workspace_id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect())
}

/// Create an app; a taken slug in the workspace is 409.
pub async fn create_app(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    new: NewApp,
    actor: &Actor,
) -> Result<App, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    validate(
        &new.grants,
        &new.fields,
        &group_names(&tx, sub, &ws.id).await?,
    )?;
    let app = App {
        id: random::id(),
        workspace_id: ws.id.clone(),
        slug: new.slug.as_str().to_owned(),
        name: new.name,
        grants: new.grants,
        fields: new.fields,
    };
    tx.repos()
        .acl()
        .insert_app(sub, &app, now)
        .await
        .map_err(conflict("slug"))?;
    let target = format!("{}/{}", ws.slug, app.slug);
    audit::record(
        &tx,
        sub,
        actor,
        "app.created",
        ("app", &target),
        audit::diff(&json!({}), &audit_view(&app)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(app)
}

/// One app.
pub async fn get_app(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    slug: &str,
) -> Result<App, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let ws = workspace(&repos, sub, ws).await?;
    Ok(repos.acl().app(sub, &ws.id, slug).await?)
}

/// A page of apps.
pub async fn list_apps(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    page: PageAsk<'_>,
) -> Result<Vec<App>, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let ws = workspace(&repos, sub, ws).await?;
    Ok(repos
        .acl()
        .list_apps(sub, &ws.id, page.after, page.limit)
        .await?)
}

/// Change an app's name, grants or field policies.
pub async fn update_app(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    slug: &str,
    patch: AppPatch,
    actor: &Actor,
) -> Result<App, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    let before = tx.repos().acl().app(sub, &ws.id, slug).await?;
    let mut app = before.clone();
    if let Some(name) = patch.name {
        app.name = name;
    }
    if let Some(grants) = patch.grants {
        app.grants = grants;
    }
    if let Some(fields) = patch.fields {
        app.fields = fields;
    }
    validate(
        &app.grants,
        &app.fields,
        &group_names(&tx, sub, &ws.id).await?,
    )?;
    tx.repos().acl().update_app(sub, &app, now).await?;
    let target = format!("{}/{}", ws.slug, app.slug);
    audit::record(
        &tx,
        sub,
        actor,
        "app.updated",
        ("app", &target),
        audit::diff(&audit_view(&before), &audit_view(&app)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(app)
}

/// Delete an app.
pub async fn delete_app(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    slug: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    let app = tx.repos().acl().app(sub, &ws.id, slug).await?;
    tx.repos().acl().delete_app(sub, &app.id).await?;
    let target = format!("{}/{}", ws.slug, app.slug);
    audit::record(
        &tx,
        sub,
        actor,
        "app.deleted",
        ("app", &target),
        audit::diff(&audit_view(&app), &json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Action, WhenDenied};

    fn groups() -> BTreeSet<String> {
        ["Engineering".to_string(), "QA".to_string()].into()
    }

    fn grant(group: &str, actions: Vec<Action>) -> AppGrant {
        AppGrant {
            group: group.into(),
            actions,
            records: RecordRule::All,
        }
    }

    fn policy(access: FieldAccess, groups: &[&str]) -> FieldPolicy {
        FieldPolicy {
            field: "cost".into(),
            access,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            when_denied: WhenDenied::Hidden,
        }
    }

    #[test]
    fn validation_names_the_offending_field() {
        let ok = vec![grant("Engineering", vec![Action::Read])];
        assert!(validate(&ok, &[policy(FieldAccess::Groups, &["QA"])], &groups()).is_ok());
        let field =
            |g: &[AppGrant], f: &[FieldPolicy]| validate(g, f, &groups()).unwrap_err().field;
        assert_eq!(
            field(&[ok[0].clone(), grant("Sales", vec![Action::Read])], &[]),
            "grants[1].group"
        );
        assert_eq!(field(&[grant("QA", vec![])], &[]), "grants[0].actions");
        assert_eq!(
            field(&ok, &[policy(FieldAccess::Groups, &["QA", "Nope"])]),
            "fields[0].groups[1]"
        );
        assert_eq!(
            field(&ok, &[policy(FieldAccess::Groups, &[])]),
            "fields[0].groups"
        );
        assert_eq!(
            field(&ok, &[policy(FieldAccess::WorkspaceAdmin, &["QA"])]),
            "fields[0].groups"
        );
    }
}

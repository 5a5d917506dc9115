//! Administering workspaces, participants, groups and group members. Each use case is
//! one transaction with its audit event; each announces the change to the facts caches.

use super::{conflict, facts, unknown};
use crate::acl::{FieldAccess, Role};
use crate::domain::{Slug, SubscriptionId};
use crate::service::{Actor, AdminError, Ctx, audit, random};
use crate::store::acl::{Conn, Group, Participant, Workspace};
use crate::store::{Repos, StoreError};
use serde_json::json;

/// One page of results: at most `limit + 1` items (the extra one tells there is more).
pub struct PageAsk<'a> {
    /// Cursor.
    pub after: Option<&'a str>,
    /// Page size plus one.
    pub limit: u64,
}

/// The workspace `slug`, 404 when absent.
pub(super) async fn workspace<C: Conn>(
    repos: &Repos<'_, C>,
    sub: &SubscriptionId,
    slug: &str,
) -> Result<Workspace, AdminError> {
    Ok(repos.acl().workspace(sub, slug).await?)
}

/// Create a workspace; a taken slug is 409.
pub async fn create_workspace(
    ctx: &Ctx,
    sub: &SubscriptionId,
    slug: Slug,
    name: String,
    actor: &Actor,
) -> Result<Workspace, AdminError> {
    let ws = Workspace {
        id: random::id(),
        slug: slug.as_str().to_owned(),
        name,
    };
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos()
        .acl()
        .insert_workspace(sub, &ws, now)
        .await
        .map_err(conflict("slug"))?;
    let after = json!({"slug": ws.slug, "name": ws.name});
    audit::record(
        &tx,
        sub,
        actor,
        "workspace.created",
        ("workspace", &ws.slug),
        audit::diff(&json!({}), &after),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(ws)
}

/// One workspace.
pub async fn get_workspace(
    ctx: &Ctx,
    sub: &SubscriptionId,
    slug: &str,
) -> Result<Workspace, AdminError> {
    workspace(&ctx.db(sub).await?.repos(), sub, slug).await
}

/// A page of workspaces.
pub async fn list_workspaces(
    ctx: &Ctx,
    sub: &SubscriptionId,
    page: PageAsk<'_>,
) -> Result<Vec<Workspace>, AdminError> {
    Ok(ctx
        .db(sub)
        .await?
        .repos()
        .acl()
        .list_workspaces(sub, page.after, page.limit)
        .await?)
}

/// Rename a workspace.
pub async fn rename_workspace(
    ctx: &Ctx,
    sub: &SubscriptionId,
    slug: &str,
    name: String,
    actor: &Actor,
) -> Result<Workspace, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = workspace(&tx.repos(), sub, slug).await?;
    tx.repos()
        .acl()
        .rename_workspace(sub, &before.id, &name, now)
        .await?;
    let diff = audit::diff(&json!({"name": before.name}), &json!({"name": name}));
    audit::record(
        &tx,
        sub,
        actor,
        "workspace.updated",
        ("workspace", slug),
        diff,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(Workspace { name, ..before })
}

/// Delete a workspace with its participants, groups, members and apps.
pub async fn delete_workspace(
    ctx: &Ctx,
    sub: &SubscriptionId,
    slug: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, slug).await?;
    tx.repos().acl().delete_workspace(sub, &ws.id).await?;
    let diff = audit::diff(&json!({"slug": ws.slug, "name": ws.name}), &json!({}));
    audit::record(
        &tx,
        sub,
        actor,
        "workspace.deleted",
        ("workspace", slug),
        diff,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

// ---------------------------------------------------------------- participants

/// Make `user_id` a participant with `role` (or change the role); `true` when created.
pub async fn put_participant(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    user_id: &str,
    role: Role,
    actor: &Actor,
) -> Result<bool, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    tx.repos()
        .users()
        .get(sub, user_id)
        .await
        .map_err(unknown("user_id", "user"))?;
    let before = tx.repos().acl().role(sub, &ws.id, user_id).await?;
    tx.repos()
        .acl()
        .put_participant(sub, &ws.id, user_id, role, now)
        .await?;
    let diff = audit::diff(&json!({"role": before}), &json!({"role": role}));
    let target = format!("{}/{user_id}", ws.slug);
    audit::record(
        &tx,
        sub,
        actor,
        "participant.updated",
        ("participant", &target),
        diff,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(before.is_none())
}

/// One participant.
pub async fn get_participant(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    user_id: &str,
) -> Result<Participant, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let ws = workspace(&repos, sub, ws).await?;
    let role = repos
        .acl()
        .role(sub, &ws.id, user_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(Participant {
        user_id: user_id.to_owned(),
        role,
    })
}

/// A page of participants.
pub async fn list_participants(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    page: PageAsk<'_>,
) -> Result<Vec<Participant>, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let ws = workspace(&repos, sub, ws).await?;
    Ok(repos
        .acl()
        .list_participants(sub, &ws.id, page.after, page.limit)
        .await?)
}

/// Remove a participant (and their memberships in the workspace's groups).
pub async fn delete_participant(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    user_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    let role = tx
        .repos()
        .acl()
        .role(sub, &ws.id, user_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let groups: Vec<String> = tx
        .repos()
        .acl()
        .user_groups(sub, &ws.id, user_id)
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    tx.repos()
        .acl()
        .delete_participant(sub, &ws.id, user_id)
        .await?;
    let diff = audit::diff(&json!({"role": role, "groups": groups}), &json!({}));
    let target = format!("{}/{user_id}", ws.slug);
    audit::record(
        &tx,
        sub,
        actor,
        "participant.deleted",
        ("participant", &target),
        diff,
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

// ---------------------------------------------------------------- groups

/// The group `name` of workspace `ws`, 404 when either is absent.
pub(super) async fn group<C: Conn>(
    repos: &Repos<'_, C>,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
) -> Result<(Workspace, Group), AdminError> {
    let ws = workspace(repos, sub, ws).await?;
    let group = repos.acl().group(sub, &ws.id, name).await?;
    Ok((ws, group))
}

/// Create a group; a taken name in the workspace is 409.
pub async fn create_group(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: String,
    actor: &Actor,
) -> Result<Group, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let ws = workspace(&tx.repos(), sub, ws).await?;
    let group = Group {
        id: random::id(),
        workspace_id: ws.id.clone(),
        name,
    };
    tx.repos()
        .acl()
        .insert_group(sub, &group, now)
        .await
        .map_err(conflict("name"))?;
    let target = format!("{}/{}", ws.slug, group.name);
    audit::record(
        &tx,
        sub,
        actor,
        "group.created",
        ("group", &target),
        audit::diff(&json!({}), &json!({"name": group.name})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(group)
}

/// One group.
pub async fn get_group(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
) -> Result<Group, AdminError> {
    Ok(group(&ctx.db(sub).await?.repos(), sub, ws, name).await?.1)
}

/// A page of groups.
pub async fn list_groups(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    page: PageAsk<'_>,
) -> Result<Vec<Group>, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let ws = workspace(&repos, sub, ws).await?;
    Ok(repos
        .acl()
        .list_groups(sub, &ws.id, page.after, page.limit)
        .await?)
}

/// Rename a group. Grants and field policies name groups, so the workspace's apps are
/// rewritten to the new name in the same transaction.
pub async fn rename_group(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
    new_name: String,
    actor: &Actor,
) -> Result<Group, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let (ws, g) = group(&tx.repos(), sub, ws, name).await?;
    tx.repos()
        .acl()
        .rename_group(sub, &g.id, &new_name)
        .await
        .map_err(conflict("name"))?;
    rewrite_apps(&tx, sub, &ws, actor, now, |grants, fields| {
        for grant in grants.iter_mut().filter(|gr| gr.group == name) {
            grant.group = new_name.clone();
        }
        for policy in fields
            .iter_mut()
            .filter(|p| p.access == FieldAccess::Groups)
        {
            for gname in policy
                .groups
                .iter_mut()
                .filter(|gname| gname.as_str() == name)
            {
                *gname = new_name.clone();
            }
        }
    })
    .await?;
    let target = format!("{}/{}", ws.slug, name);
    audit::record(
        &tx,
        sub,
        actor,
        "group.updated",
        ("group", &target),
        audit::diff(&json!({"name": name}), &json!({"name": new_name})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(Group {
        name: new_name,
        ..g
    })
}

/// Delete a group with its memberships and run-as grants. Grants and field-policy
/// entries that name it are removed from the workspace's apps in the same transaction,
/// so a later group of the same name inherits nothing (removing them only narrows).
pub async fn delete_group(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let (ws, g) = group(&tx.repos(), sub, ws, name).await?;
    tx.repos().acl().delete_group(sub, &g.id).await?;
    rewrite_apps(&tx, sub, &ws, actor, now, |grants, fields| {
        grants.retain(|gr| gr.group != name);
        for policy in fields.iter_mut() {
            policy.groups.retain(|gname| gname != name);
        }
    })
    .await?;
    let target = format!("{}/{}", ws.slug, name);
    audit::record(
        &tx,
        sub,
        actor,
        "group.deleted",
        ("group", &target),
        audit::diff(&json!({"name": name}), &json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

/// Apply `change` to every app of the workspace and save (with an `app.updated` audit
/// event) those it changed.
async fn rewrite_apps(
    tx: &crate::store::Tx,
    sub: &SubscriptionId,
    ws: &Workspace,
    actor: &Actor,
    now: i64,
    change: impl Fn(&mut Vec<crate::acl::AppGrant>, &mut Vec<crate::acl::FieldPolicy>),
) -> Result<(), AdminError> {
    for app in tx.repos().acl().apps(sub, &ws.id).await? {
        let mut new = app.clone();
        change(&mut new.grants, &mut new.fields);
        if new == app {
            continue;
        }
        tx.repos().acl().update_app(sub, &new, now).await?;
        let diff = audit::diff(
            &super::apps::audit_view(&app),
            &super::apps::audit_view(&new),
        );
        let target = format!("{}/{}", ws.slug, app.slug);
        audit::record(tx, sub, actor, "app.updated", ("app", &target), diff, now).await?;
    }
    Ok(())
}

/// Add `user_id` to a group (idempotent); `true` when added.
pub async fn add_member(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
    user_id: &str,
    actor: &Actor,
) -> Result<bool, AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let (ws, g) = group(&tx.repos(), sub, ws, name).await?;
    tx.repos()
        .users()
        .get(sub, user_id)
        .await
        .map_err(unknown("user_id", "user"))?;
    let added = tx
        .repos()
        .acl()
        .add_member(sub, &g.id, user_id, now)
        .await?;
    if added {
        let target = format!("{}/{}", ws.slug, g.name);
        let diff = json!({"members": {"old": null, "new": user_id}});
        audit::record(
            &tx,
            sub,
            actor,
            "group.member_added",
            ("group", &target),
            Some(diff),
            now,
        )
        .await?;
    }
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(added)
}

/// Remove `user_id` from a group; 404 when not a member.
pub async fn remove_member(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
    user_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let (ws, g) = group(&tx.repos(), sub, ws, name).await?;
    tx.repos().acl().remove_member(sub, &g.id, user_id).await?;
    let target = format!("{}/{}", ws.slug, g.name);
    let diff = json!({"members": {"old": user_id, "new": null}});
    audit::record(
        &tx,
        sub,
        actor,
        "group.member_removed",
        ("group", &target),
        Some(diff),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    facts::changed(ctx, sub).await;
    Ok(())
}

/// A page of a group's members (user ids).
pub async fn list_members(
    ctx: &Ctx,
    sub: &SubscriptionId,
    ws: &str,
    name: &str,
    page: PageAsk<'_>,
) -> Result<Vec<String>, AdminError> {
    let db = ctx.db(sub).await?;
    let repos = db.repos();
    let (_, g) = group(&repos, sub, ws, name).await?;
    match repos
        .acl()
        .members(sub, &g.id, page.after, page.limit)
        .await
    {
        Err(StoreError::NotFound) => Ok(Vec::new()),
        other => Ok(other?),
    }
}

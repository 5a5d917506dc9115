//! Request and response bodies of the ACL admin resources (workspaces, participants,
//! groups, members, apps, run-as grants). Grants and field policies use the evaluator's
//! own types (`crate::acl`), so the admin API and the evaluator cannot disagree on a
//! spelling; they appear in the OpenAPI document as objects.

use crate::acl::{AppGrant, FieldPolicy, Role};
use crate::domain::ValidationError;
use crate::service::acl::run_as::{Principal, RunAsView, Target};
use crate::store::acl::{App, Group, Participant, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// `POST /workspaces`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceBody {
    /// `[a-z0-9][a-z0-9-]{1,62}`, unique in the subscription.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// `PATCH /workspaces/{ws}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWorkspace {
    /// New display name (the slug is the workspace's identity and does not change).
    pub name: String,
}

/// A workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
}

impl From<&Workspace> for WorkspaceView {
    fn from(w: &Workspace) -> Self {
        WorkspaceView {
            slug: w.slug.clone(),
            name: w.name.clone(),
        }
    }
}

/// `PUT /workspaces/{ws}/participants/{user_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantBody {
    /// `admin` | `team` | `participant`.
    #[schema(value_type = String)]
    pub role: Role,
}

/// A participant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// The user's `sub`.
    pub user_id: String,
    /// `admin` | `team` | `participant`.
    #[schema(value_type = String)]
    pub role: Role,
}

impl From<&Participant> for ParticipantView {
    fn from(p: &Participant) -> Self {
        ParticipantView {
            user_id: p.user_id.clone(),
            role: p.role,
        }
    }
}

/// `POST /groups` and `PATCH /groups/{name}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// Name, unique in the workspace (1–128 characters).
    pub name: String,
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> Self {
        GroupView {
            id: g.id.clone(),
            name: g.name.clone(),
        }
    }
}

/// A group member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The user's `sub`.
    pub user_id: String,
}

/// `POST /apps`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    /// `[a-z0-9][a-z0-9-]{1,62}`, unique in the workspace.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// `[{group, actions, records}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub grants: Vec<AppGrant>,
    /// `[{field, access, groups?, when_denied}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FieldPolicy>,
}

/// `PATCH /apps/{slug}`: absent members stay as they are; lists replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchApp {
    /// Display name.
    pub name: Option<String>,
    /// Grants (replace all).
    #[schema(value_type = Option<Vec<Object>>)]
    pub grants: Option<Vec<AppGrant>>,
    /// Field policies (replace all).
    #[schema(value_type = Option<Vec<Object>>)]
    pub fields: Option<Vec<FieldPolicy>>,
}

/// An app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Grants.
    #[schema(value_type = Vec<Object>)]
    pub grants: Vec<AppGrant>,
    /// Field policies.
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FieldPolicy>,
}

impl From<&App> for AppView {
    fn from(a: &App) -> Self {
        AppView {
            slug: a.slug.clone(),
            name: a.name.clone(),
            grants: a.grants.clone(),
            fields: a.fields.clone(),
        }
    }
}

/// `POST /run-as-grants`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunAsBody {
    /// `{user_id}` or `{client_id}`.
    #[schema(value_type = Object)]
    pub principal: Value,
    /// `{user_id}`, `{workspace, group}` or `"*"` (everyone in the subscription).
    #[schema(value_type = Object)]
    pub target: Value,
}

fn string_members<'a>(
    v: &'a Value,
    field: &str,
    allowed: &[&[&str]],
) -> Result<Vec<&'a str>, ValidationError> {
    let shape = || {
        let forms: Vec<String> = allowed
            .iter()
            .map(|keys| format!("{{{}}}", keys.join(", ")))
            .collect();
        ValidationError::new(field, format!("must be one of {}", forms.join(" or ")))
    };
    let obj = v.as_object().ok_or_else(shape)?;
    for keys in allowed {
        if obj.len() == keys.len() && keys.iter().all(|k| obj.contains_key(*k)) {
            return keys
                .iter()
                .map(|k| {
                    obj.get(*k)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            ValidationError::new(
                                format!("{field}.{k}"),
                                "must be a non-empty string",
                            )
                        })
                })
                .collect();
        }
    }
    Err(shape())
}

impl RunAsBody {
    /// The validated principal and target.
    pub fn parse(&self) -> Result<(Principal, Target), ValidationError> {
        let principal = match self
            .principal
            .as_object()
            .map(|o| o.contains_key("user_id"))
        {
            Some(true) => Principal::User(
                string_members(&self.principal, "principal", &[&["user_id"]])?[0].to_owned(),
            ),
            _ => Principal::Client(
                string_members(
                    &self.principal,
                    "principal",
                    &[&["client_id"], &["user_id"]],
                )?[0]
                    .to_owned(),
            ),
        };
        let target = if self.target == json!("*") {
            Target::All
        } else {
            let v = string_members(
                &self.target,
                "target",
                &[&["user_id"], &["workspace", "group"]],
            )?;
            match v.as_slice() {
                [user] => Target::User((*user).to_owned()),
                [workspace, group] => Target::Group {
                    workspace: (*workspace).to_owned(),
                    group: (*group).to_owned(),
                },
                _ => return Err(ValidationError::new("target", "unsupported target")),
            }
        };
        Ok((principal, target))
    }
}

/// A run-as grant.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAsGrantView {
    /// Id.
    pub id: String,
    /// `{user_id}` or `{client_id}`.
    #[schema(value_type = Object)]
    pub principal: Value,
    /// `{user_id}`, `{workspace, group}` or `"*"`.
    #[schema(value_type = Object)]
    pub target: Value,
}

impl From<&RunAsView> for RunAsGrantView {
    fn from(v: &RunAsView) -> Self {
        RunAsGrantView {
            id: v.id.clone(),
            principal: match &v.principal {
                Principal::User(u) => json!({"user_id": u}),
                Principal::Client(c) => json!({"client_id": c}),
            },
            target: match &v.target {
                Target::User(u) => json!({"user_id": u}),
                Target::Group { workspace, group } => {
                    json!({"workspace": workspace, "group": group})
                }
                Target::All => json!("*"),
            },
        }
    }
}

/// `POST /run-as-grants` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedRunAs {
    /// The grant's id.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(principal: Value, target: Value) -> Result<(Principal, Target), String> {
        RunAsBody { principal, target }.parse().map_err(|e| e.field)
    }

    #[test]
    fn run_as_bodies_follow_the_contract() {
        assert_eq!(
            parse(json!({"user_id": "u"}), json!("*")),
            Ok((Principal::User("u".into()), Target::All))
        );
        assert_eq!(
            parse(
                json!({"client_id": "c"}),
                json!({"workspace": "w", "group": "g"})
            ),
            Ok((
                Principal::Client("c".into()),
                Target::Group {
                    workspace: "w".into(),
                    group: "g".into()
                }
            ))
        );
        assert_eq!(
            parse(json!({"client_id": "c"}), json!({"user_id": "t"})).map(|p| p.1),
            Ok(Target::User("t".into()))
        );
        assert_eq!(
            parse(json!({"user_id": "u", "client_id": "c"}), json!("*")),
            Err("principal".into())
        );
        assert_eq!(
            parse(json!({"user_id": 3}), json!("*")),
            Err("principal.user_id".into())
        );
        assert_eq!(
            parse(json!({"user_id": "u"}), json!({"workspace": "w"})),
            Err("target".into())
        );
        assert_eq!(
            parse(json!({"user_id": "u"}), json!("all")),
            Err("target".into())
        );
    }
}

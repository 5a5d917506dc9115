//! The ACL vocabulary: the facts the service loads, the query a resource server asks,
//! and the decision the evaluator answers (DESIGN.md, "ACL model" and "ACL calls").
//!
//! Every type here is plain data with `serde` derives, because the same shapes travel
//! through the admin API (grants, field policies), the introspection extension
//! (`acl_record`) and `/acl/evaluate` (record facts in, decisions out). The JSON
//! spellings follow DESIGN.md exactly; the rules that give them meaning live in
//! `layers.rs`. The tests at the bottom pin those spellings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing a user may do in an app.
///
/// The declaration order is the canonical order of `Decision::actions`, so `Ord` is
/// derived from it and a `BTreeSet<Action>` iterates in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See records.
    Read,
    /// Create records.
    Create,
    /// Change records (and, at the field layer, edit fields).
    Edit,
    /// Delete records.
    Delete,
    /// Manage the app's lists (views, options).
    ManageLists,
    /// Administer the app itself.
    Admin,
}

impl Action {
    /// All six actions in canonical order: what system and workspace admins get.
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Create,
        Action::Edit,
        Action::Delete,
        Action::ManageLists,
        Action::Admin,
    ];
}

/// A participant's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Workspace admin: everything in the workspace.
    Admin,
    /// Team member: meets `workspaceTeam` field policies.
    Team,
    /// Plain participant: only what the app grants give.
    Participant,
}

/// Which records a grant applies to (`records` in an app grant).
///
/// JSON: one of the strings `"all"`, `"own"`, `"assigned"`, `"own_or_assigned"`,
/// `"group"`, or the object `{"field": F, "equals_user_attribute": A}`. Serde is
/// written by hand so that both forms parse into one flat enum and a typo gets an
/// error naming the accepted forms (an untagged enum would only say "did not match").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordRule {
    /// Every record.
    All,
    /// Records whose `creator` is the user.
    Own,
    /// Records whose `assignee` is the user.
    Assigned,
    /// Records the user created or is assigned to.
    OwnOrAssigned,
    /// Records whose `group` is one of the user's groups in the workspace.
    Group,
    /// Records whose field `field` equals the user's attribute `equals_user_attribute`.
    FieldEqualsUserAttribute {
        /// Name of the record field (a key of `RecordFacts::fields`).
        field: String,
        /// Name of the user attribute (a key of `AclFacts::user_attributes`).
        equals_user_attribute: String,
    },
}

const RECORD_RULE_KEYWORDS: &[&str] = &["all", "own", "assigned", "own_or_assigned", "group"];

/// The object form of a record rule; unknown keys are refused so that a misspelt
/// key cannot silently turn into a different rule.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldRuleRepr {
    field: String,
    equals_user_attribute: String,
}

impl Serialize for RecordRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RecordRule::All => serializer.serialize_str("all"),
            RecordRule::Own => serializer.serialize_str("own"),
            RecordRule::Assigned => serializer.serialize_str("assigned"),
            RecordRule::OwnOrAssigned => serializer.serialize_str("own_or_assigned"),
            RecordRule::Group => serializer.serialize_str("group"),
            RecordRule::FieldEqualsUserAttribute {
                field,
                equals_user_attribute,
            } => FieldRuleRepr {
                field: field.clone(),
                equals_user_attribute: equals_user_attribute.clone(),
            }
            .serialize(serializer),
        }
    }
}

struct RecordRuleVisitor;

impl<'de> Visitor<'de> for RecordRuleVisitor {
    type Value = RecordRule;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "one of \"all\", \"own\", \"assigned\", \"own_or_assigned\", \"group\" \
             or {\"field\": F, \"equals_user_attribute\": A}",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RecordRule, E> {
        match value {
            "all" => Ok(RecordRule::All),
            "own" => Ok(RecordRule::Own),
            "assigned" => Ok(RecordRule::Assigned),
            "own_or_assigned" => Ok(RecordRule::OwnOrAssigned),
            "group" => Ok(RecordRule::Group),
            other => Err(E::unknown_variant(other, RECORD_RULE_KEYWORDS)),
        }
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<RecordRule, M::Error> {
        let repr = FieldRuleRepr::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RecordRule::FieldEqualsUserAttribute {
            field: repr.field,
            equals_user_attribute: repr.equals_user_attribute,
        })
    }
}

impl<'de> Deserialize<'de> for RecordRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordRuleVisitor)
    }
}

/// An app grant: members of `group` may do `actions` on the records `records` admits.
///
/// Unknown members are refused: a misspelt `record` would otherwise silently vanish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppGrant {
    /// Group name in the app's workspace.
    pub group: String,
    /// The actions this grant gives (a subset of the six).
    pub actions: Vec<Action>,
    /// Which records the grant applies to.
    pub records: RecordRule,
}

/// Who meets a field policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldAccess {
    /// Met only by workspace admins.
    #[serde(rename = "workspaceAdmin")]
    WorkspaceAdmin,
    /// Met by `team` and `admin` participants, not by `participant`.
    #[serde(rename = "workspaceTeam")]
    WorkspaceTeam,
    /// Met by members of one of the policy's `groups`.
    #[serde(rename = "groups")]
    Groups,
}

/// What a user who does not meet a field policy sees of the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenDenied {
    /// The field is not shown at all.
    Hidden,
    /// The field is shown but cannot be changed.
    Readonly,
}

/// A field policy: restricts one field of an app's records beyond the record layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldPolicy {
    /// Field name.
    pub field: String,
    /// Who meets the policy.
    pub access: FieldAccess,
    /// Group names for `access: groups`; ignored otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// What users who do not meet the policy get.
    pub when_denied: WhenDenied,
}

/// A record's allow-list: only these users (by `sub`) or members of these groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowList {
    /// User `sub` values.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group names in the workspace.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The facts a resource server sends about one record (`acl_record`, `/acl/evaluate`).
///
/// Every member is optional: a missing `creator` simply admits no `own` grant.
/// Unknown members are ignored, so resource servers may send richer objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordFacts {
    /// The caller's record id, echoed in the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `sub` of the user who created the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// `sub` of the user the record is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Group name the record belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Optional allow-list; when present the user must be on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<AllowList>,
    /// Field values; their names are also the fields the decision covers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// How much of one field a user gets.
///
/// Declared from least to most so that the derived `Ord` reads "more access is
/// greater"; the evaluator narrows with `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccessLevel {
    /// Not shown.
    Hidden,
    /// Shown, not editable.
    Read,
    /// Shown and editable.
    Edit,
}

/// The layer that denied a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The user is not a participant of the workspace.
    Workspace,
    /// No grant of the app reaches the user (or the app does not exist).
    App,
    /// No grant admits the record, or the record's allow-list excludes the user.
    Record,
}

/// The answer for one (user, workspace, app, record?).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The record's `id` from the query, echoed so callers can match answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether any action is allowed.
    pub allowed: bool,
    /// The first layer that denied; `null` when allowed.
    pub denied_at: Option<Layer>,
    /// Allowed actions in canonical order; empty when denied.
    pub actions: Vec<Action>,
    /// Access per covered field; empty when denied.
    pub fields: BTreeMap<String, FieldAccessLevel>,
}

impl Decision {
    /// A denial at `layer`: no actions and no fields, as the contract requires.
    pub fn denied(id: Option<String>, layer: Layer) -> Decision {
        Decision {
            id,
            allowed: false,
            denied_at: Some(layer),
            actions: Vec::new(),
            fields: BTreeMap::new(),
        }
    }
}

/// One app as the evaluator needs it: its grants and field policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFacts {
    /// App slug (for the caller's bookkeeping; the evaluator does not read it).
    pub slug: String,
    /// The app's grants.
    #[serde(default)]
    pub grants: Vec<AppGrant>,
    /// The app's field policies.
    #[serde(default)]
    pub fields: Vec<FieldPolicy>,
}

/// Everything the service loads for one (user, workspace, app) before evaluating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AclFacts {
    /// The user's `sub` (for run-as: the target's).
    pub user_sub: String,
    /// System admin flag (the `system` subscription's admins or the per-user flag).
    #[serde(default)]
    pub system_admin: bool,
    /// The user's attributes, for `equals_user_attribute` rules.
    #[serde(default)]
    pub user_attributes: BTreeMap<String, serde_json::Value>,
    /// Role in the workspace; `None` means not a participant.
    #[serde(default)]
    pub workspace_role: Option<Role>,
    /// The user's group names in this workspace.
    #[serde(default)]
    pub user_groups: BTreeSet<String>,
    /// The app; `None` means it does not exist in the workspace.
    #[serde(default)]
    pub app: Option<AppFacts>,
}

/// What is asked about: the app as a whole, or one record of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AclQuery {
    /// Record facts; `None` asks about the app as a whole (no record layer).
    #[serde(default)]
    pub record: Option<RecordFacts>,
}

/// The JSON spellings of DESIGN.md, pinned here beside the types that define them.
#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn field_rule(field: &str, attribute: &str) -> RecordRule {
        RecordRule::FieldEqualsUserAttribute {
            field: field.into(),
            equals_user_attribute: attribute.into(),
        }
    }

    #[test]
    fn a_decision_serialises_as_the_contract_says() {
        let allowed = Decision {
            id: Some("r1".into()),
            allowed: true,
            denied_at: None,
            actions: vec![Action::Read, Action::ManageLists],
            fields: BTreeMap::from([
                ("a".into(), FieldAccessLevel::Edit),
                ("b".into(), FieldAccessLevel::Read),
                ("c".into(), FieldAccessLevel::Hidden),
            ]),
        };
        assert_eq!(
            serde_json::to_value(&allowed).unwrap(),
            json!({"id": "r1", "allowed": true, "denied_at": null, "actions": ["read", "manage_lists"],
                   "fields": {"a": "edit", "b": "read", "c": "hidden"}})
        );
        // `id?`: omitted when the query had none; `denied_at` is always present.
        assert_eq!(
            serde_json::to_value(Decision::denied(None, Layer::Record)).unwrap(),
            json!({"allowed": false, "denied_at": "record", "actions": [], "fields": {}})
        );
        for (layer, text) in [
            (Layer::Workspace, "workspace"),
            (Layer::App, "app"),
            (Layer::Record, "record"),
        ] {
            assert_eq!(serde_json::to_value(layer).unwrap(), json!(text));
        }
        let back: Decision =
            serde_json::from_value(serde_json::to_value(&allowed).unwrap()).unwrap();
        assert_eq!(back, allowed);
    }

    #[test]
    fn record_facts_parse_from_the_contract_json() {
        let full: RecordFacts = serde_json::from_value(json!({
            "id": "r1", "creator": "u1", "assignee": "u2", "group": "sales",
            "acl": {"users": ["u1"], "groups": ["sales"]}, "fields": {"status": "open", "n": 3},
            "extra": "ignored"
        }))
        .unwrap();
        let expected = RecordFacts {
            id: Some("r1".into()),
            creator: Some("u1".into()),
            assignee: Some("u2".into()),
            group: Some("sales".into()),
            acl: Some(AllowList {
                users: vec!["u1".into()],
                groups: vec!["sales".into()],
            }),
            fields: BTreeMap::from([("status".into(), json!("open")), ("n".into(), json!(3))]),
        };
        assert_eq!(full, expected);
        // Every member is optional, `id` included.
        assert_eq!(
            serde_json::from_value::<RecordFacts>(json!({})).unwrap(),
            RecordFacts::default()
        );
        let partial: AllowList = serde_json::from_value(json!({"users": ["u1"]})).unwrap();
        assert!(partial.groups.is_empty());
    }

    #[test]
    fn grants_and_rules_parse_from_the_contract_json() {
        let rules = [
            (json!("all"), RecordRule::All),
            (json!("own"), RecordRule::Own),
            (json!("assigned"), RecordRule::Assigned),
            (json!("own_or_assigned"), RecordRule::OwnOrAssigned),
            (json!("group"), RecordRule::Group),
            (
                json!({"field": "region", "equals_user_attribute": "home"}),
                field_rule("region", "home"),
            ),
        ];
        for (text, rule) in rules {
            assert_eq!(
                serde_json::from_value::<RecordRule>(text.clone()).unwrap(),
                rule
            );
            assert_eq!(serde_json::to_value(&rule).unwrap(), text);
        }
        let typo = serde_json::from_value::<RecordRule>(json!("mine"))
            .unwrap_err()
            .to_string();
        assert!(
            typo.contains("own_or_assigned"),
            "error names the accepted forms: {typo}"
        );
        assert!(
            serde_json::from_value::<RecordRule>(json!({"field": "f", "equals_attribute": "a"}))
                .is_err()
        );
        assert!(serde_json::from_value::<RecordRule>(json!({"field": "f"})).is_err());
        assert!(serde_json::from_value::<RecordRule>(json!(3)).is_err());

        let grant: AppGrant = serde_json::from_value(json!({
            "group": "sales",
            "actions": ["read", "create", "edit", "delete", "manage_lists", "admin"],
            "records": {"field": "region", "equals_user_attribute": "region"}
        }))
        .unwrap();
        assert_eq!(grant.actions, Action::ALL.to_vec());
        assert_eq!(grant.records, field_rule("region", "region"));
        assert!(
            serde_json::from_value::<AppGrant>(
                json!({"group": "g", "actions": ["write"], "records": "all"})
            )
            .is_err()
        );
    }

    #[test]
    fn field_policies_parse_from_the_contract_json() {
        let parse = |v: Value| serde_json::from_value::<FieldPolicy>(v).unwrap();
        let admin =
            parse(json!({"field": "salary", "access": "workspaceAdmin", "when_denied": "hidden"}));
        assert_eq!(
            (admin.access, admin.when_denied, admin.groups.len()),
            (FieldAccess::WorkspaceAdmin, WhenDenied::Hidden, 0)
        );
        let team =
            parse(json!({"field": "notes", "access": "workspaceTeam", "when_denied": "readonly"}));
        assert_eq!(
            (team.access, team.when_denied),
            (FieldAccess::WorkspaceTeam, WhenDenied::Readonly)
        );
        let groups = parse(
            json!({"field": "budget", "access": "groups", "groups": ["finance"], "when_denied": "hidden"}),
        );
        assert_eq!(
            (groups.access, groups.groups),
            (FieldAccess::Groups, vec!["finance".to_string()])
        );
        assert!(
            serde_json::from_value::<FieldPolicy>(
                json!({"field": "f", "access": "workspace_admin", "when_denied": "hidden"})
            )
            .is_err()
        );
        for (role, text) in [
            (Role::Admin, "admin"),
            (Role::Team, "team"),
            (Role::Participant, "participant"),
        ] {
            assert_eq!(serde_json::to_value(role).unwrap(), json!(text));
        }
    }
}

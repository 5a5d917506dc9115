//! The four layers of the ACL evaluation (DESIGN.md, "ACL model", steps 1–4), one
//! function each, folded by `super::evaluate` in the kanidm style: every layer either
//! denies at its own `Layer` (`Err`) or hands the narrowed state to the next (`Ok`).
//!
//! Within a layer grants add up (a union over grants); across layers each step can only
//! remove what the previous one allowed (an intersection), so no layer ever invents an
//! action the app layer did not already give. The one exception is the admin short
//! circuit of layer 1, which the contract defines as "everything".

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{
    AclFacts, Action, AllowList, AppGrant, FieldAccess, FieldAccessLevel, FieldPolicy, Layer,
    RecordFacts, RecordRule, Role, WhenDenied,
};

/// Where layer 1 leaves the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// System admin, or admin of this workspace: all actions, `edit` on every field,
    /// and no later layer is consulted.
    Everything,
    /// A `team` or `participant` member: the later layers decide.
    Member(Role),
}

/// Layer 1, workspace: system admin → everything; not a participant → deny;
/// workspace admin → everything in this workspace.
pub(super) fn workspace(facts: &AclFacts) -> Result<Standing, Layer> {
    // The system-admin check comes first: a system admin need not be a participant.
    if facts.system_admin {
        return Ok(Standing::Everything);
    }
    match facts.workspace_role {
        None => Err(Layer::Workspace),
        Some(Role::Admin) => Ok(Standing::Everything),
        Some(role) => Ok(Standing::Member(role)),
    }
}

/// Layer 2, app: the grants whose group the user is in. Their union of actions must not
/// be empty, and an app that does not exist grants nothing, so both deny at `app`.
///
/// The grants themselves (not just their union) go on, because layer 3 filters them
/// one by one by their `records` rule.
pub(super) fn app(facts: &AclFacts) -> Result<Vec<&AppGrant>, Layer> {
    let app = facts.app.as_ref().ok_or(Layer::App)?;
    let held: Vec<&AppGrant> = app
        .grants
        .iter()
        .filter(|grant| facts.user_groups.contains(&grant.group))
        .collect();
    // A grant with an empty action list is held but gives nothing; judge by the union.
    if union(held.iter().copied()).is_empty() {
        return Err(Layer::App);
    }
    Ok(held)
}

/// Layer 3, record: without record facts the app layer's union stands. With them, only
/// the grants whose `records` rule admits the record count, and a record allow-list, when
/// present, must name the user or one of the user's groups. Nothing left → deny at `record`.
///
/// Allow-lists only narrow: being on one adds no action that a grant did not give.
pub(super) fn record(
    facts: &AclFacts,
    held: &[&AppGrant],
    record: Option<&RecordFacts>,
) -> Result<ActionSet, Layer> {
    let Some(record) = record else {
        return Ok(union(held.iter().copied()));
    };
    if let Some(list) = &record.acl
        && !on_allow_list(facts, list)
    {
        return Err(Layer::Record);
    }
    let actions = union(
        held.iter()
            .copied()
            .filter(|grant| admits(&grant.records, facts, record)),
    );
    if actions.is_empty() {
        return Err(Layer::Record);
    }
    Ok(actions)
}

/// The record-independent half of layer 4: for every field with a policy, the cap that
/// the policies the user does not meet put on it (`Edit`, no cap, when all are met). When
/// one field has several policies, each unmet one applies its cap and the most
/// restrictive wins, as every policy is a further narrowing. Admins meet every policy.
pub(super) fn field_caps(facts: &AclFacts, standing: Standing) -> Vec<(&str, FieldAccessLevel)> {
    let policies: &[FieldPolicy] = facts.app.as_ref().map_or(&[], |app| app.fields.as_slice());
    let mut caps: Vec<(&str, FieldAccessLevel)> = Vec::with_capacity(policies.len());
    for policy in policies {
        let cap = match standing {
            Standing::Member(role) if !meets(policy, role, facts) => match policy.when_denied {
                WhenDenied::Hidden => FieldAccessLevel::Hidden,
                WhenDenied::Readonly => FieldAccessLevel::Read,
            },
            _ => FieldAccessLevel::Edit,
        };
        match caps.iter_mut().find(|(name, _)| *name == policy.field) {
            Some((_, level)) => *level = (*level).min(cap),
            None => caps.push((policy.field.as_str(), cap)),
        }
    }
    caps
}

/// Layer 4, field: the access level of every covered field (every field with a policy in
/// the app plus every field named in the record facts).
///
/// A field follows the record: `edit` if the actions include `edit`, else `read` if they
/// include `read`, else `hidden` (a user who may not even read the record sees no field
/// of it, which is the safe answer). The caps of [`field_caps`] then apply; a cap never
/// raises a level, so `readonly` on a record the user cannot read stays `hidden`.
/// System and workspace admins get `edit` everywhere.
pub(super) fn field(
    standing: Standing,
    caps: &[(&str, FieldAccessLevel)],
    actions: ActionSet,
    record: Option<&RecordFacts>,
) -> BTreeMap<String, FieldAccessLevel> {
    let follows_record = match standing {
        Standing::Everything => FieldAccessLevel::Edit,
        Standing::Member(_) if actions.contains(Action::Edit) => FieldAccessLevel::Edit,
        Standing::Member(_) if actions.contains(Action::Read) => FieldAccessLevel::Read,
        Standing::Member(_) => FieldAccessLevel::Hidden,
    };
    let cap_of = |name: &str| {
        caps.iter()
            .find(|(field, _)| *field == name)
            .map_or(FieldAccessLevel::Edit, |(_, cap)| *cap)
    };
    let mut out: BTreeMap<String, FieldAccessLevel> = caps
        .iter()
        .map(|(name, cap)| ((*name).to_owned(), follows_record.min(*cap)))
        .collect();
    for name in record.into_iter().flat_map(|r| r.fields.keys()) {
        if !out.contains_key(name.as_str()) {
            out.insert(name.clone(), follows_record.min(cap_of(name)));
        }
    }
    out
}

/// A set of actions as a bit mask: the record layer computes a union per record, and a
/// `BTreeSet` allocation per record was most of the cost of a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ActionSet(u8);

impl ActionSet {
    /// Every action (the admin short circuit).
    pub(super) fn all() -> ActionSet {
        Action::ALL.into_iter().collect()
    }

    fn bit(action: Action) -> u8 {
        1 << (action as u8)
    }

    /// Whether `action` is in the set.
    pub(super) fn contains(self, action: Action) -> bool {
        self.0 & ActionSet::bit(action) != 0
    }

    /// Whether the set is empty.
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions in canonical order.
    pub(super) fn to_vec(self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| self.contains(*a))
            .collect()
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> ActionSet {
        ActionSet(iter.into_iter().fold(0, |m, a| m | ActionSet::bit(a)))
    }
}

/// The union of the actions of `grants`.
fn union<'a>(grants: impl Iterator<Item = &'a AppGrant>) -> ActionSet {
    grants
        .flat_map(|grant| grant.actions.iter().copied())
        .collect()
}

/// Whether the user, by `sub` or through one of their groups, is on the allow-list.
pub(super) fn on_allow_list(facts: &AclFacts, list: &AllowList) -> bool {
    list.users.contains(&facts.user_sub)
        || list
            .groups
            .iter()
            .any(|group| facts.user_groups.contains(group))
}

/// Whether a grant's `records` rule admits the record. User references in record
/// facts are `sub` values, so `own`/`assigned` compare against `user_sub`.
pub(super) fn admits(rule: &RecordRule, facts: &AclFacts, record: &RecordFacts) -> bool {
    let is_user = |who: &Option<String>| who.as_deref() == Some(facts.user_sub.as_str());
    match rule {
        RecordRule::All => true,
        RecordRule::Own => is_user(&record.creator),
        RecordRule::Assigned => is_user(&record.assignee),
        RecordRule::OwnOrAssigned => is_user(&record.creator) || is_user(&record.assignee),
        RecordRule::Group => record
            .group
            .as_ref()
            .is_some_and(|group| facts.user_groups.contains(group)),
        RecordRule::FieldEqualsUserAttribute {
            field,
            equals_user_attribute,
        } => value_matches(
            record.fields.get(field),
            facts.user_attributes.get(equals_user_attribute),
        ),
    }
}

/// `{field, equals_user_attribute}`: both values must be present and non-null, and
/// either equal as JSON (so `1` and `"1"` differ, as do `1` and `1.0`, and strings are
/// case-sensitive) or the record value is an array that contains the attribute value
/// (a record tagged with several regions admits a user of any one of them).
///
/// `null` on either side never matches: otherwise a record without the field's value
/// would be admitted to every user who lacks the attribute.
fn value_matches(record_value: Option<&Value>, attribute: Option<&Value>) -> bool {
    match (record_value, attribute) {
        (Some(value), Some(attribute)) if !value.is_null() && !attribute.is_null() => {
            value == attribute || matches!(value, Value::Array(items) if items.contains(attribute))
        }
        _ => false,
    }
}

/// Whether a `team`/`participant` member meets a field policy.
pub(super) fn meets(policy: &FieldPolicy, role: Role, facts: &AclFacts) -> bool {
    match policy.access {
        FieldAccess::WorkspaceAdmin => role == Role::Admin,
        FieldAccess::WorkspaceTeam => matches!(role, Role::Team | Role::Admin),
        // An empty `groups` list is met by nobody (only admins see past it).
        FieldAccess::Groups => policy
            .groups
            .iter()
            .any(|group| facts.user_groups.contains(group)),
    }
}

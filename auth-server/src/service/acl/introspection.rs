//! The ACL extension of introspection (`acl_workspace`, `acl_app`, `acl_record`) and
//! the batch `/acl/evaluate` (DESIGN.md "ACL model", "ACL calls").
//!
//! Choices where the contract is silent:
//! - Without `acl_*` parameters the answer is the plain RFC 7662 one: no `groups`, no
//!   `acl` (resource servers that do not ask do not pay, in bytes or in lookups).
//! - `acl_app` needs `acl_workspace`, and `acl_record` needs `acl_app`; `decision` is
//!   present only when an app was asked about (a decision is about an app).
//! - A token without a user (client credentials: `sub` is the client id) has no
//!   standing in any workspace: `system_admin: false`, no role, no groups, no apps, and
//!   every decision is denied at `workspace`. A client that needs user-level access
//!   gets it through run-as, which puts a user in `sub`.
//! - An unknown workspace answers like one the user is not in (deny at `workspace`),
//!   and an unknown app is denied at `app` even for admins, so a typo never reads as
//!   "allowed". A non-participant learns nothing about the workspace's apps.
//! - A run-as token is evaluated as its `sub` (the target), never as its actor.
//! - `/acl/evaluate` answers exactly `{"active": false}` for a token that is not active,
//!   like introspection, and `{"active": true, "decisions": [...]}` otherwise.

use super::facts::{self, UserWorkspace};
use crate::acl::{self as acl_eval, Decision, Layer, RecordFacts};
use crate::domain::{Client, Subscription};
use crate::service::introspect::{self, Claims, Verified};
use crate::service::{Ctx, FlowError};
use serde_json::{Value, json};
use std::sync::Arc;

/// Most records one `/acl/evaluate` call may carry.
pub const MAX_RECORDS: usize = 10_000;

/// What a resource server asked about, beside the token.
#[derive(Debug, Clone, PartialEq)]
pub struct AclAsk {
    /// Workspace slug.
    pub workspace: String,
    /// App slug.
    pub app: Option<String>,
    /// Record facts.
    pub record: Option<RecordFacts>,
}

impl AclAsk {
    /// The ask of the `acl_workspace`, `acl_app` and `acl_record` parameters; `None`
    /// when none is given. Inconsistent or malformed parameters are `invalid_request`.
    pub fn from_params(
        workspace: Option<&str>,
        app: Option<&str>,
        record: Option<&str>,
    ) -> Result<Option<AclAsk>, FlowError> {
        let Some(workspace) = workspace else {
            return match (app, record) {
                (None, None) => Ok(None),
                _ => Err(FlowError::InvalidRequest(
                    "acl_app and acl_record need acl_workspace".into(),
                )),
            };
        };
        if record.is_some() && app.is_none() {
            return Err(FlowError::InvalidRequest("acl_record needs acl_app".into()));
        }
        let record = record
            .map(|text| {
                if !text.trim_start().starts_with('{') {
                    return Err(FlowError::InvalidRequest(
                        "acl_record must be a JSON object of record facts".into(),
                    ));
                }
                serde_json::from_str::<RecordFacts>(text)
                    .map_err(|e| FlowError::InvalidRequest(format!("acl_record: {e}")))
            })
            .transpose()?;
        Ok(Some(AclAsk {
            workspace: workspace.to_owned(),
            app: app.map(str::to_owned),
            record,
        }))
    }
}

/// An introspection answer. The ACL one is serialized straight from the cached facts
/// (no intermediate JSON tree: building one per request cost more than the evaluation).
#[derive(Debug)]
pub enum Answer {
    /// `{"active": false}`: nothing else, whatever the reason.
    Inactive,
    /// The plain RFC 7662 answer of an active token.
    Plain(Arc<Verified>),
    /// The RFC 7662 members plus `groups` and `acl`.
    Acl(AclAnswer),
}

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Answer::Inactive => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("active", &false)?;
                map.end()
            }
            Answer::Plain(verified) => introspect::Plain(&verified.claims).serialize(serializer),
            Answer::Acl(a) => a.serialize(serializer),
        }
    }
}

impl Answer {
    /// The answer's JSON body. A plain answer is the one its verdict keeps (written once
    /// per cached token); the others are written now.
    pub fn body(&self) -> Result<bytes::Bytes, serde_json::Error> {
        match self {
            Answer::Inactive => Ok(bytes::Bytes::from_static(br#"{"active":false}"#)),
            Answer::Plain(verified) => verified.plain_answer(),
            Answer::Acl(a) => serde_json::to_vec(a).map(bytes::Bytes::from),
        }
    }
}

/// The ACL-extended answer of an active token.
#[derive(Debug)]
pub struct AclAnswer {
    claims: Arc<Claims>,
    workspace: String,
    standing: Option<Arc<UserWorkspace>>,
    decision: Option<Decision>,
}

impl serde::Serialize for AclAnswer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use std::collections::{BTreeMap, BTreeSet};
        #[derive(serde::Serialize)]
        struct Acl<'a> {
            system_admin: bool,
            workspace: Workspace<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            decision: Option<&'a Decision>,
        }
        #[derive(serde::Serialize)]
        struct Workspace<'a> {
            slug: &'a str,
            role: Option<crate::acl::Role>,
            groups: &'a BTreeSet<String>,
            apps: &'a BTreeMap<String, Vec<crate::acl::Action>>,
        }
        let (none_groups, none_apps) = (BTreeSet::new(), BTreeMap::new());
        let s = self.standing.as_deref();
        let groups = s.map_or(&none_groups, |s| &s.base.user_groups);
        let acl = Acl {
            system_admin: s.is_some_and(|s| s.base.system_admin),
            workspace: Workspace {
                slug: &self.workspace,
                role: s.and_then(UserWorkspace::role),
                groups,
                apps: s.map_or(&none_apps, |s| &s.app_actions),
            },
            decision: self.decision.as_ref(),
        };
        let mut map = serializer.serialize_map(Some(introspect::member_count(&self.claims) + 2))?;
        introspect::serialize_members(&mut map, &self.claims)?;
        map.serialize_entry("groups", groups)?;
        map.serialize_entry("acl", &acl)?;
        map.end()
    }
}

/// Introspection (RFC 7662) with the ACL extension when `ask` is given.
pub async fn introspect(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    caller: &Client,
    token: &str,
    ask: Option<AclAsk>,
) -> Result<Answer, FlowError> {
    let Some(verified) = introspect::active_claims(ctx, tenant, issuer, caller, token).await?
    else {
        return Ok(Answer::Inactive);
    };
    let Some(ask) = ask else {
        return Ok(Answer::Plain(verified));
    };
    let claims = Arc::clone(&verified.claims);
    // Boxed: plain introspection is the hot path, and this read's future is large.
    let standing = Box::pin(standing(ctx, tenant, &claims, &ask.workspace)).await?;
    let decision = ask
        .app
        .as_deref()
        .map(|app| decide(standing.as_deref(), app, ask.record));
    Ok(Answer::Acl(AclAnswer {
        claims,
        workspace: ask.workspace,
        standing,
        decision,
    }))
}

/// The body of `POST /t/{slug}/acl/evaluate`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The access token whose user is asked about.
    pub token: String,
    /// Workspace slug.
    pub workspace: String,
    /// App slug.
    pub app: String,
    /// Record facts, at most [`MAX_RECORDS`].
    pub records: Vec<RecordFacts>,
}

/// One decision per record, in order.
pub async fn evaluate_batch(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    caller: &Client,
    req: EvaluateRequest,
) -> Result<Value, FlowError> {
    if req.records.len() > MAX_RECORDS {
        return Err(FlowError::InvalidRequest(format!(
            "records: at most {MAX_RECORDS} records per call"
        )));
    }
    let Some(verified) = introspect::active_claims(ctx, tenant, issuer, caller, &req.token).await?
    else {
        return Ok(json!({"active": false}));
    };
    let claims = &verified.claims;
    let standing = standing(ctx, tenant, claims, &req.workspace).await?;
    let decisions: Vec<Decision> = match standing.as_deref() {
        Some(s) if s.exists => {
            let facts = s.facts(&req.app);
            let known = facts.app.is_some();
            let prepared = acl_eval::prepare(facts);
            req.records
                .iter()
                .map(|record| {
                    let d = prepared.decide(Some(record));
                    if d.allowed && !known {
                        Decision::denied(d.id, Layer::App)
                    } else {
                        d
                    }
                })
                .collect()
        }
        _ => req
            .records
            .into_iter()
            .map(|r| Decision::denied(r.id, Layer::Workspace))
            .collect(),
    };
    Ok(json!({"active": true, "decisions": decisions}))
}

/// The user's standing in `workspace`, or `None` for a token without a user.
async fn standing(
    ctx: &Ctx,
    tenant: &Subscription,
    claims: &Claims,
    workspace: &str,
) -> Result<Option<Arc<UserWorkspace>>, FlowError> {
    // User-delegated tokens (code, refresh and run-as grants) belong to a grant family;
    // client-credentials tokens do not and their `sub` is the client.
    let user = claims
        .contains_key("gid")
        .then(|| claims.get("sub").and_then(Value::as_str))
        .flatten();
    match user {
        Some(user) => Ok(Some(
            facts::user_workspace(ctx, tenant, user, workspace).await?,
        )),
        None => Ok(None),
    }
}

/// The decision for `app` (and a record), guarding the cases the pure evaluator leaves
/// to the service: no user, no such workspace, no such app.
fn decide(standing: Option<&UserWorkspace>, app: &str, record: Option<RecordFacts>) -> Decision {
    let id = record.as_ref().and_then(|r| r.id.clone());
    let Some(s) = standing.filter(|s| s.exists) else {
        return Decision::denied(id, Layer::Workspace);
    };
    let facts = s.facts(app);
    let d = acl_eval::prepare(facts).decide(record.as_ref());
    if d.allowed && facts.app.is_none() {
        return Decision::denied(id, Layer::App);
    }
    d
}

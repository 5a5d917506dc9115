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
use bytes::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
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
    /// per cached token); an ACL answer reuses it and writes only its decision.
    pub fn body(&self) -> Result<Bytes, serde_json::Error> {
        match self {
            Answer::Inactive => Ok(Bytes::from_static(br#"{"active":false}"#)),
            Answer::Plain(verified) => verified.plain_answer(),
            Answer::Acl(a) => a.body(),
        }
    }
}

/// The ACL-extended answer of an active token.
#[derive(Debug)]
pub struct AclAnswer {
    verified: Arc<Verified>,
    workspace: String,
    standing: Option<Arc<UserWorkspace>>,
    decision: Option<Decision>,
}

/// The members an ACL answer adds to the plain one.
#[derive(serde::Serialize)]
struct Extension<'a> {
    groups: &'a BTreeSet<String>,
    acl: Acl<'a>,
}

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

static NO_GROUPS: BTreeSet<String> = BTreeSet::new();
static NO_APPS: BTreeMap<String, Vec<crate::acl::Action>> = BTreeMap::new();

impl AclAnswer {
    fn extension<'a>(&'a self, decision: Option<&'a Decision>) -> Extension<'a> {
        let s = self.standing.as_deref();
        let groups = s.map_or(&NO_GROUPS, |s| &s.base.user_groups);
        Extension {
            groups,
            acl: Acl {
                system_admin: s.is_some_and(|s| s.base.system_admin),
                workspace: Workspace {
                    slug: &self.workspace,
                    role: s.and_then(UserWorkspace::role),
                    groups,
                    apps: s.map_or(&NO_APPS, |s| &s.app_actions),
                },
                decision,
            },
        }
    }

    /// The JSON body, assembled from the parts that do not depend on the ask (the plain
    /// answer the verdict keeps and the standing's part, each written once) and the
    /// decision, written now. Byte for byte what the `Serialize` impl writes.
    fn body(&self) -> Result<Bytes, serde_json::Error> {
        let plain = self.verified.plain_answer()?;
        let part = match self.standing.as_deref() {
            Some(s) => introspect::written_once(&s.answer_part, || self.standing_part())?,
            None => self.standing_part()?,
        };
        let members = plain
            .strip_suffix(b"}")
            .ok_or_else(|| malformed("plain answer"))?;
        const DECISION: &[u8] = b",\"decision\":";
        const CLOSE: &[u8] = b"}}";
        // Room for a usual decision (about 100 bytes), written in place rather than into
        // a buffer of its own and copied.
        let decision_room = self.decision.as_ref().map_or(0, |_| DECISION.len() + 128);
        let mut body =
            Vec::with_capacity(members.len() + 1 + part.len() + decision_room + CLOSE.len());
        body.extend_from_slice(members);
        body.push(b',');
        body.extend_from_slice(&part);
        if let Some(decision) = &self.decision {
            body.extend_from_slice(DECISION);
            serde_json::to_writer(&mut body, decision)?;
        }
        body.extend_from_slice(CLOSE);
        Ok(Bytes::from(body))
    }

    /// `"groups":…,"acl":{"system_admin":…,"workspace":{…}`: the extension without a
    /// decision, with `acl` left open for one.
    fn standing_part(&self) -> Result<Bytes, serde_json::Error> {
        let whole = serde_json::to_vec(&self.extension(None))?;
        whole
            .strip_prefix(b"{")
            .and_then(|w| w.strip_suffix(b"}}"))
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| malformed("ACL extension"))
    }
}

fn malformed(what: &str) -> serde_json::Error {
    serde::ser::Error::custom(format!("{what} is not a JSON object"))
}

impl serde::Serialize for AclAnswer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let claims = &self.verified.claims;
        let extension = self.extension(self.decision.as_ref());
        let mut map = serializer.serialize_map(Some(introspect::member_count(claims) + 2))?;
        introspect::serialize_members(&mut map, claims)?;
        map.serialize_entry("groups", extension.groups)?;
        map.serialize_entry("acl", &extension.acl)?;
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
    // Boxed, so that the plain answer (the hot path) does not carry the ACL reads' future;
    // that future is small (the facts load inside it is boxed), so the box is cheap.
    let standing = Box::pin(standing(ctx, tenant, &verified.claims, &ask.workspace)).await?;
    let decision = ask
        .app
        .as_deref()
        .map(|app| decide(standing.as_deref(), app, ask.record));
    Ok(Answer::Acl(AclAnswer {
        verified,
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

/// The answer of `/acl/evaluate`, serialized straight from the decisions: a JSON tree of
/// a thousand decisions cost as much to build as to write (docs/performance.md, session 13).
#[derive(Debug, serde::Serialize)]
pub struct Evaluation {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    decisions: Option<Vec<Decision>>,
}

impl Evaluation {
    /// `{"active": false}`: the token is not active, whatever the reason.
    pub const INACTIVE: Evaluation = Evaluation {
        active: false,
        decisions: None,
    };

    fn decisions(decisions: Vec<Decision>) -> Evaluation {
        Evaluation {
            active: true,
            decisions: Some(decisions),
        }
    }
}

/// One decision per record, in order.
pub async fn evaluate_batch(
    ctx: &Ctx,
    tenant: &Subscription,
    issuer: &str,
    caller: &Client,
    req: EvaluateRequest,
) -> Result<Evaluation, FlowError> {
    if req.records.len() > MAX_RECORDS {
        return Err(FlowError::InvalidRequest(format!(
            "records: at most {MAX_RECORDS} records per call"
        )));
    }
    let Some(verified) = introspect::active_claims(ctx, tenant, issuer, caller, &req.token).await?
    else {
        return Ok(Evaluation::INACTIVE);
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
    Ok(Evaluation::decisions(decisions))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclFacts, Action, FieldAccessLevel, Role};
    use serde_json::json;
    use std::sync::OnceLock;

    fn verified() -> Arc<Verified> {
        let Value::Object(claims) = json!({
            "sub": "u1", "client_id": "c1", "scope": "read", "exp": 2_000, "gid": "f1",
            "username": "alice", "aud": ["api"], "act": {"sub": "admin"}
        }) else {
            unreachable!()
        };
        Arc::new(Verified::new(1, 2_000, Arc::new(claims)))
    }

    fn standing(exists: bool) -> Arc<UserWorkspace> {
        let base = AclFacts {
            user_sub: "u1".into(),
            system_admin: !exists,
            workspace_role: exists.then_some(Role::Team),
            user_groups: ["devs", "ops \"quoted\""].map(String::from).into(),
            ..AclFacts::default()
        };
        Arc::new(UserWorkspace {
            exists,
            base,
            apps: BTreeMap::new(),
            app_actions: [("bugs".into(), vec![Action::Read, Action::Edit])].into(),
            answer_part: OnceLock::new(),
        })
    }

    fn allowed() -> Decision {
        Decision {
            id: Some("r1".into()),
            allowed: true,
            denied_at: None,
            actions: vec![Action::Read],
            fields: [("cost".into(), FieldAccessLevel::Hidden)].into(),
        }
    }

    #[test]
    fn an_acl_body_is_what_the_answer_serializes_to_and_keeps_only_the_ask_free_part() {
        let kept = standing(true);
        let decisions = [
            None,
            Some(allowed()),
            Some(Decision::denied(None, Layer::App)),
        ];
        for standing in [None, Some(standing(false)), Some(Arc::clone(&kept))] {
            for decision in decisions.clone() {
                let answer = Answer::Acl(AclAnswer {
                    verified: verified(),
                    workspace: "eng".into(),
                    standing: standing.clone(),
                    decision,
                });
                let body = answer.body().unwrap();
                assert_eq!(body, serde_json::to_vec(&answer).unwrap(), "{answer:?}");
                serde_json::from_slice::<Value>(&body).unwrap();
            }
        }
        // The part kept by the standing holds no decision: every ask above reused it.
        let part = kept.answer_part.get().unwrap();
        assert!(!String::from_utf8_lossy(part).contains("decision"));
        assert!(!String::from_utf8_lossy(part).contains("r1"));
    }

    #[test]
    fn an_evaluation_is_inactive_alone_or_active_with_its_decisions_in_order() {
        let inactive = serde_json::to_value(Evaluation::INACTIVE).unwrap();
        assert_eq!(inactive, json!({"active": false}));
        let denied = |id: &str| Decision::denied(Some(id.into()), Layer::Workspace);
        let active =
            serde_json::to_value(Evaluation::decisions(vec![denied("b"), denied("a")])).unwrap();
        assert_eq!(
            active,
            json!({"active": true, "decisions": [
                {"id": "b", "allowed": false, "denied_at": "workspace", "actions": [], "fields": {}},
                {"id": "a", "allowed": false, "denied_at": "workspace", "actions": [], "fields": {}}
            ]})
        );
    }
}

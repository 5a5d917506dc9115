//! `acl_record` (introspection and `/acl/evaluate`) and the evaluator behind it: any
//! record facts against any user/app facts. The batch path (`prepare` + `decide`), the
//! one-shot `evaluate` and the console's `explain` must agree, and a denial carries no
//! actions or fields.
#![no_main]

use auth_server::acl::{AclFacts, AclQuery, evaluate, explain, prepare};
use auth_server::service::acl::introspection::AclAsk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    // First line: the user's facts (JSON); the rest: the acl_record parameter.
    let (facts, record) = input.split_once('\n').unwrap_or(("", input));
    let Ok(Some(ask)) = AclAsk::from_params(Some("ws"), Some("app"), Some(record)) else {
        return;
    };
    let Ok(facts) = serde_json::from_str::<AclFacts>(facts) else {
        return;
    };
    let query = AclQuery {
        record: ask.record.clone(),
    };
    let decision = evaluate(&facts, &query);
    assert_eq!(prepare(&facts).decide(query.record.as_ref()), decision);
    assert_eq!(explain(&facts, &query).decision, decision);
    if !decision.allowed {
        assert!(decision.denied_at.is_some());
        assert!(decision.actions.is_empty() && decision.fields.is_empty());
    }
});

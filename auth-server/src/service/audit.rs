//! The one audit writer: services call it inside the transaction of the change.

use super::Actor;
use crate::domain::SubscriptionId;
use crate::store::audit::AuditEvent;
use crate::store::{StoreError, Tx};
use serde_json::{Map, Value, json};

/// Values of these members never reach the log; their changes show as `<redacted>`.
const SECRET_FIELDS: [&str; 5] = [
    "secret_hash",
    "client_secret",
    "password",
    "password_hash",
    "private_key",
];

/// Field-level diff of two JSON objects: `{field: {old, new}}` for every changed member.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    let empty = Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut out = Map::new();
    for key in o.keys().chain(n.keys()) {
        let (a, b) = (
            o.get(key).unwrap_or(&Value::Null),
            n.get(key).unwrap_or(&Value::Null),
        );
        if a != b && !out.contains_key(key) {
            let entry = if SECRET_FIELDS.contains(&key.as_str()) {
                json!({"old": "<redacted>", "new": "<redacted>"})
            } else {
                json!({"old": a, "new": b})
            };
            out.insert(key.clone(), entry);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Append one event (in the caller's transaction).
pub async fn record(
    tx: &Tx,
    sub: &SubscriptionId,
    actor: &Actor,
    action: &str,
    target: (&str, &str),
    diff: Option<Value>,
    now: i64,
) -> Result<(), StoreError> {
    let event = AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at: now,
        actor: serde_json::to_value(actor).unwrap_or(Value::Null),
        action: action.to_owned(),
        target: json!({"type": target.0, "id": target.1}),
        request_id: actor.request_id.clone(),
        ip: actor.ip.clone(),
        diff,
    };
    tx.repos().audit().append(sub, &event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_changed_fields_and_redacts_secrets() {
        let d = diff(
            &json!({"a": 1, "b": 2, "secret_hash": "x"}),
            &json!({"a": 1, "b": 3, "secret_hash": "y"}),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"b": {"old": 2, "new": 3}, "secret_hash": {"old": "<redacted>", "new": "<redacted>"}})
        );
        assert!(diff(&json!({"a": 1}), &json!({"a": 1})).is_none());
    }
}

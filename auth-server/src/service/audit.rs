//! The one audit writer. Services call [`record`] inside the transaction of the change
//! (no change without its event, no event without its change) and commit through
//! [`Ctx::commit`](super::Ctx::commit), which also streams the committed events to the
//! optional JSON-lines sink (`AUTH_AUDIT_SINK`). Security events without a data change
//! go through [`security`]. Secrets never reach the log: their members show as
//! `"<redacted>"` in diffs.

use super::{Actor, Ctx};
use crate::domain::SubscriptionId;
use crate::store::audit::{AuditEvent, AuditFilter, chain_hash};
use crate::store::{StoreError, Tx};
use serde_json::{Map, Value, json};
use std::io::Write;

/// Values of these members never reach the log; their changes show as `<redacted>`.
const SECRET_FIELDS: [&str; 6] = [
    "secret_hash",
    "client_secret",
    "password",
    "password_hash",
    "private_key",
    "totp_secret",
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

/// Append one event in the caller's transaction.
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
        seq: 0,
        at: now,
        actor: serde_json::to_value(actor).unwrap_or(Value::Null),
        action: action.to_owned(),
        target: json!({"type": target.0, "id": target.1}),
        request_id: actor.request_id.clone(),
        ip: actor.ip.clone(),
        diff,
        prev_hash: String::new(),
        hash: String::new(),
    };
    let stored = tx.repos().audit().append(sub, &event).await?;
    tx.note_event(sub, stored);
    Ok(())
}

/// Record a security event (login failure, authorization failure…) in its own
/// transaction. A failure to write is logged, not raised: the request's own outcome
/// must not change because the log is unavailable.
pub async fn security(
    ctx: &Ctx,
    sub: &SubscriptionId,
    actor: &Actor,
    action: &str,
    target: (&str, &str),
    details: Value,
) {
    let result = async {
        let tx = ctx.begin(sub).await?;
        record(&tx, sub, actor, action, target, Some(details), ctx.now()).await?;
        ctx.commit(tx).await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, action, "could not write a security audit event");
    }
}

/// Where committed events are streamed as JSON lines, besides the database.
#[derive(Debug)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(std::sync::Mutex<std::fs::File>),
}

impl Sink {
    /// Open `AUTH_AUDIT_SINK` (`stdout` or a path).
    pub fn open(spec: &str) -> std::io::Result<Sink> {
        if spec == "stdout" {
            return Ok(Sink::Stdout);
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec)?;
        Ok(Sink::File(std::sync::Mutex::new(f)))
    }

    /// Write events, one JSON object per line, tagged with their subscription id.
    pub fn emit(&self, sub: &SubscriptionId, events: &[AuditEvent]) {
        let mut buf = Vec::new();
        for ev in events {
            let mut v = serde_json::to_value(ev).unwrap_or(Value::Null);
            v["subscription_id"] = sub.0.clone().into();
            let _ = writeln!(buf, "{v}");
        }
        let result = match self {
            Sink::Stdout => std::io::stdout().lock().write_all(&buf),
            Sink::File(f) => match f.lock() {
                Ok(mut f) => f.write_all(&buf),
                Err(_) => Ok(()),
            },
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "could not write to AUTH_AUDIT_SINK");
        }
    }
}

/// Outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The chain is intact over `events` events.
    Intact {
        /// How many events were checked.
        events: u64,
    },
    /// The first event whose stored hash or link does not match.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// Its id.
        id: String,
        /// What does not match.
        reason: String,
    },
}

/// Recompute the subscription's chain from its oldest kept event.
pub async fn verify(ctx: &Ctx, sub: &SubscriptionId) -> Result<Verification, StoreError> {
    let mut after = None;
    let mut prev: Option<(i64, String)> = None;
    let mut count = 0u64;
    loop {
        let page = ctx
            .db(sub)
            .await?
            .repos()
            .audit()
            .list(
                sub,
                &AuditFilter {
                    after,
                    limit: 500,
                    ..Default::default()
                },
            )
            .await?;
        if page.is_empty() {
            return Ok(Verification::Intact { events: count });
        }
        for ev in &page {
            let broken = |reason: &str| Verification::Broken {
                seq: ev.seq,
                id: ev.id.clone(),
                reason: reason.to_owned(),
            };
            if let Some((seq, hash)) = &prev {
                if ev.seq != seq + 1 {
                    return Ok(broken("sequence gap: an event was removed"));
                }
                if &ev.prev_hash != hash {
                    return Ok(broken("prev_hash does not match the previous event"));
                }
            }
            if chain_hash(&ev.prev_hash, ev) != ev.hash {
                return Ok(broken(
                    "content does not match its hash: the event was altered",
                ));
            }
            prev = Some((ev.seq, ev.hash.clone()));
            count += 1;
        }
        after = page.last().map(|e| e.seq);
    }
}

/// Write every event at or after `since` as JSON lines to `out`; returns the count.
pub async fn export(
    ctx: &Ctx,
    sub: &SubscriptionId,
    since: Option<i64>,
    until: Option<i64>,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut after = None;
    let mut n = 0;
    loop {
        let f = AuditFilter {
            after,
            since,
            until,
            limit: 500,
            ..Default::default()
        };
        let page = ctx.db(sub).await?.repos().audit().list(sub, &f).await?;
        if page.is_empty() {
            return Ok(n);
        }
        for ev in &page {
            writeln!(out, "{}", serde_json::to_string(ev)?)?;
            n += 1;
        }
        after = page.last().map(|e| e.seq);
    }
}

/// Retention: export events older than `before` to `out`, then delete them. Never
/// silent: the caller names the file, and the chain stays verifiable from the first
/// kept event.
pub async fn prune(
    ctx: &Ctx,
    sub: &SubscriptionId,
    before: i64,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let exported = export(ctx, sub, None, Some(before - 1), out).await?;
    out.flush()?;
    let deleted = ctx
        .db(sub)
        .await?
        .repos()
        .audit()
        .prune(sub, before)
        .await?;
    anyhow::ensure!(
        deleted == exported,
        "exported {exported} events but deleted {deleted}; check the export before trusting it"
    );
    Ok(deleted)
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

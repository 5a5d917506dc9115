//! Identity connections (admin use cases): create, change, delete, diagnose; pre-link
//! and unlink users. Secrets are write-only: a value is encrypted at once under the
//! master key (AAD binds it to its subscription and connection, so a ciphertext copied
//! to another row does not decrypt), an `{"env": NAME}` is stored as the name and read
//! from the server's environment at each use. Audit diffs show `[redacted]`.

use super::{Actor, AdminError, Ctx, FlowError, audit, random};
use crate::directory::diagnose::{self, Diagnosis};
use crate::directory::ldap::DirectorySettings;
use crate::domain::connection::{self, Connection, ConnectionInput, SecretInput, StoredSecret};
use crate::domain::{SubscriptionId, ValidationError};
use crate::store::StoreError;
use crate::store::connections::UserLink;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The subscription's connections in login order, through the per-instance cache: every
/// sign-in needs them (the form's SSO buttons, then which realm a name belongs to), and
/// every change to a connection bumps the generation the cache is checked against.
pub async fn ordered(ctx: &Ctx, sub: &SubscriptionId) -> Result<Arc<Vec<Connection>>, FlowError> {
    super::freshness::through(ctx, sub, &ctx.connections, sub.0.clone(), || async {
        let list = ctx
            .db(sub)
            .await?
            .repos()
            .connections()
            .all_ordered(sub)
            .await?;
        Ok(Arc::new(list))
    })
    .await
}

pub(crate) fn aad(sub: &SubscriptionId, id: &str) -> Vec<u8> {
    format!("connection-secret:{}:{id}", sub.0).into_bytes()
}

fn store_secret(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: &str,
    s: &SecretInput,
) -> Result<StoredSecret, AdminError> {
    Ok(match s {
        SecretInput::Env { env } => StoredSecret::Env(env.clone()),
        SecretInput::Value(v) => StoredSecret::Encrypted(
            ctx.master_key
                .encrypt(v.expose_secret().as_bytes(), &aad(sub, id))
                .map_err(|e| AdminError::Internal(e.into()))?,
        ),
    })
}

/// The connection's secret in clear, for use. Errors say what is missing, never the value.
pub fn resolve_secret(
    ctx: &Ctx,
    sub: &SubscriptionId,
    conn: &Connection,
) -> Result<SecretString, String> {
    match &conn.secret {
        StoredSecret::None => Err("no secret is configured".into()),
        StoredSecret::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
            _ => Err(format!(
                "environment variable {name} is not set on the server"
            )),
        },
        StoredSecret::Encrypted(blob) => ctx
            .master_key
            .decrypt(blob, &aad(sub, &conn.id))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(SecretString::from)
            .ok_or_else(|| "the stored secret cannot be decrypted with this master key".into()),
    }
}

/// Settings of a directory connection's pool, with its secret resolved.
pub fn directory_settings(
    ctx: &Ctx,
    sub: &SubscriptionId,
    conn: &Connection,
) -> Result<DirectorySettings, String> {
    Ok(DirectorySettings {
        kind: conn.kind,
        config: conn.config.clone(),
        bind_password: resolve_secret(ctx, sub, conn)?,
    })
}

/// The API view: everything but the secret, which shows only whether it is set and, for
/// an environment reference, the variable's name.
pub fn view(conn: &Connection) -> Value {
    let mut v = match serde_json::to_value(&conn.config) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    v.insert("id".into(), conn.id.clone().into());
    v.insert("name".into(), conn.name.clone().into());
    v.insert("kind".into(), conn.kind.as_str().into());
    v.insert("enabled".into(), conn.enabled.into());
    v.insert("order".into(), conn.order.into());
    let field = if conn.kind.is_directory() {
        "bind_password"
    } else {
        "client_secret"
    };
    let secret = match &conn.secret {
        StoredSecret::None => Value::Null,
        StoredSecret::Encrypted(_) => json!({"set": true}),
        StoredSecret::Env(name) => json!({"env": name}),
    };
    v.insert(field.into(), secret);
    Value::Object(v)
}

fn audit_view(conn: &Connection, secret_changed: bool) -> Value {
    let mut v = view(conn);
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
        for f in ["bind_password", "client_secret"] {
            if let Some(s) = o.get_mut(f)
                && s.get("set").is_some()
            {
                *s = if secret_changed {
                    "[redacted, replaced]".into()
                } else {
                    "[redacted]".into()
                };
            }
        }
    }
    v
}

fn build(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: String,
    input: &ConnectionInput,
    existing: Option<&Connection>,
) -> Result<(Connection, bool), AdminError> {
    let new_secret = input
        .bind_password
        .as_ref()
        .or(input.client_secret.as_ref());
    // A secret survives a PATCH only while the connection stays the same class (a bind
    // password is no client secret).
    let kept = existing
        .filter(|e| e.kind.is_directory() == input.kind.is_directory())
        .map(|e| e.secret.clone())
        .filter(|s| *s != StoredSecret::None);
    connection::validate(input, kept.is_some())?;
    let secret = match new_secret {
        Some(s) => store_secret(ctx, sub, &id, s)?,
        None => kept.unwrap_or(StoredSecret::None),
    };
    Ok((
        Connection {
            id,
            name: input.name.clone(),
            kind: input.kind,
            enabled: input.enabled.unwrap_or(true),
            order: input.order.unwrap_or(0),
            config: input.config.clone(),
            secret,
            updated_at: ctx.now(),
        },
        new_secret.is_some(),
    ))
}

/// Create a connection; a taken name is 409.
pub async fn create(
    ctx: &Ctx,
    sub: &SubscriptionId,
    input: ConnectionInput,
    actor: &Actor,
) -> Result<Connection, AdminError> {
    let (conn, _) = build(ctx, sub, random::id(), &input, None)?;
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    match tx.repos().connections().insert(sub, &conn, now).await {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("name")),
        other => other?,
    }
    audit::record(
        &tx,
        sub,
        actor,
        "connection.created",
        ("connection", &conn.id),
        audit::diff(&json!({}), &audit_view(&conn, true)),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    Ok(conn)
}

/// Apply a JSON merge patch (RFC 7396: `null` removes a setting) and re-validate the
/// whole connection.
pub async fn update(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: &str,
    patch: Map<String, Value>,
    actor: &Actor,
) -> Result<Connection, AdminError> {
    if patch.contains_key("id") {
        return Err(ValidationError::new("id", "cannot be changed").into());
    }
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().connections().get(sub, id).await?;
    let mut merged = match view(&before) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    merged.remove("id");
    merged.remove("bind_password");
    merged.remove("client_secret");
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let input = ConnectionInput::from_json(merged)?;
    let (conn, secret_changed) = build(ctx, sub, before.id.clone(), &input, Some(&before))?;
    match tx.repos().connections().update(sub, &conn, now).await {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("name")),
        other => other?,
    }
    audit::record(
        &tx,
        sub,
        actor,
        "connection.updated",
        ("connection", &conn.id),
        audit::diff(
            &audit_view(&before, false),
            &audit_view(&conn, secret_changed),
        ),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    ctx.directories.forget(&conn.id);
    Ok(conn)
}

/// Delete a connection and its user links (the users stay).
pub async fn delete(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    let before = tx.repos().connections().get(sub, id).await?;
    tx.repos().connections().delete(sub, id).await?;
    audit::record(
        &tx,
        sub,
        actor,
        "connection.deleted",
        ("connection", id),
        audit::diff(&audit_view(&before, false), &json!({})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    super::freshness::bump(ctx, sub).await;
    ctx.directories.forget(id);
    Ok(())
}

/// Diagnose reachability and credentials (audited: it makes the server contact a host).
pub async fn test(
    ctx: &Ctx,
    sub: &SubscriptionId,
    id: &str,
    actor: &Actor,
) -> Result<Diagnosis, AdminError> {
    let conn = ctx
        .db(sub)
        .await?
        .repos()
        .connections()
        .get(sub, id)
        .await?;
    let diagnosis = if conn.kind.is_directory() {
        match directory_settings(ctx, sub, &conn) {
            Ok(s) => diagnose::directory(&s).await,
            Err(m) => diagnose::single("bind", Err(m)),
        }
    } else {
        super::federation::oidc_diagnosis(ctx, sub, &conn).await
    };
    audit::security(
        ctx,
        sub,
        actor,
        "connection.tested",
        ("connection", id),
        json!({"ok": diagnosis.ok}),
    )
    .await;
    Ok(diagnosis)
}

/// Pre-link a user to an identity of a connection (the next login of that identity
/// lands in this user); 409 when the identity is already linked.
pub async fn link(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    connection_id: &str,
    external_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    if external_id.trim().is_empty() {
        return Err(ValidationError::new("external_id", "must not be empty").into());
    }
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos().users().get(sub, user_id).await?;
    tx.repos()
        .connections()
        .get(sub, connection_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                AdminError::Validation(ValidationError::new("connection", "no such connection"))
            }
            other => other.into(),
        })?;
    let link = UserLink {
        connection_id: connection_id.to_owned(),
        external_id: external_id.to_owned(),
        user_id: user_id.to_owned(),
    };
    match tx
        .repos()
        .connections()
        .link(sub, &link, &random::id(), now)
        .await
    {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Conflict("external_id")),
        other => other?,
    }
    audit::record(
        &tx,
        sub,
        actor,
        "user.linked",
        ("user", user_id),
        Some(json!({"links": {"old": null, "new": {"connection": connection_id, "external_id": external_id}}})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(())
}

/// Remove a user's link to a connection.
pub async fn unlink(
    ctx: &Ctx,
    sub: &SubscriptionId,
    user_id: &str,
    connection_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let now = ctx.now();
    let tx = ctx.begin(sub).await?;
    tx.repos()
        .connections()
        .unlink(sub, user_id, connection_id)
        .await?;
    audit::record(
        &tx,
        sub,
        actor,
        "user.unlinked",
        ("user", user_id),
        Some(json!({"links": {"old": {"connection": connection_id}, "new": null}})),
        now,
    )
    .await?;
    ctx.commit(tx).await?;
    Ok(())
}

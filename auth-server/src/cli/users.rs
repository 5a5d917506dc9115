//! `admin user …`: list, create, show, disable/enable, reset password, reset 2FA,
//! sessions and sign-out, delete, and bulk import from CSV or LDIF.

use super::api::{AdminApi, ApiFailure, seg};
use super::import::{self, Format, LineError};
use super::output::{self, Output};
use super::progress;
use super::provision::default_concurrency;
use super::resources::ListArgs;
use actix_web::http::Method;
use anyhow::Context;
use clap::Subcommand;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde_json::json;
use std::path::PathBuf;

/// The environment variable a new password is read from (never an argument, which would
/// land in shell history and process listings).
const PASSWORD_VAR: &str = "AUTH_NEW_USER_PASSWORD";

/// `admin user …`
#[derive(Subcommand)]
pub enum UserCommand {
    /// List a subscription's users.
    List {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        page: ListArgs,
    },
    /// Create a user; the password is read from AUTH_NEW_USER_PASSWORD (never an argument,
    /// which would land in shell history and process listings).
    Create {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Make the user an administrator of the subscription.
        #[arg(long)]
        subscription_admin: bool,
    },
    /// Show one user.
    Show {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Disable a user: no more sign-ins, every token of the user revoked.
    Disable {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Set a user's password from AUTH_NEW_USER_PASSWORD (revokes the user's tokens).
    ResetPassword {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Remove a user's second factors (TOTP and recovery codes); they enrol again.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// List a user's live browser sessions, the clients holding grants made through
    /// each, and the grants outside any session (offline access, token exchange).
    Sessions {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Sign a user out: one browser session (`--session SID`; its grants without
    /// offline_access are revoked), or everywhere (every session and every refresh
    /// token, offline ones included).
    SignOut {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
        /// The session's `sid` (from `admin user sessions`); all sessions when absent.
        #[arg(long, value_name = "SID")]
        session: Option<String>,
    },
    /// Delete a user, revoke their tokens and forget their consents.
    Delete {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// User id (the `sub`).
        id: String,
    },
    /// Import users from CSV (header: username,email,name,password; only username is
    /// required) or LDIF (uid, mail, displayName or cn, clear-text userPassword). A bad
    /// record is reported with its line and costs only itself.
    Import {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// The file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The file's format (default: from its extension, .csv or .ldif).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Users created at once (default: the number of cores; password hashing is the
        /// bound).
        #[arg(long)]
        concurrency: Option<usize>,
    },
}

fn user_path(subscription: &str, id: &str) -> String {
    format!("subscriptions/{}/users/{}", seg(subscription), seg(id))
}

fn new_password() -> anyhow::Result<String> {
    std::env::var(PASSWORD_VAR)
        .ok()
        .filter(|p| !p.is_empty())
        .with_context(|| format!("set the new password in the environment variable {PASSWORD_VAR}"))
}

/// Run `admin user …`.
pub async fn run(command: UserCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    match command {
        UserCommand::List { subscription, page } => {
            let path = format!("subscriptions/{}/users", seg(&subscription));
            let v = page.fetch(api, &path).await?;
            out.print(&v, |v| {
                output::listing(
                    v,
                    &[
                        "id",
                        "username",
                        "email",
                        "name",
                        "subscription_admin",
                        "disabled",
                    ],
                )
            });
        }
        UserCommand::Create {
            subscription,
            username,
            email,
            name,
            subscription_admin,
        } => {
            let mut body = json!({
                "username": username,
                "subscription_admin": subscription_admin,
            });
            let password = std::env::var(PASSWORD_VAR).ok().filter(|p| !p.is_empty());
            for (k, v) in [("email", email), ("name", name), ("password", password)] {
                if let Some(v) = v {
                    body[k] = v.into();
                }
            }
            let path = format!("subscriptions/{}/users", seg(&subscription));
            let v = api.send(Method::POST, &path, Some(&body)).await?;
            out.print(&v, |v| format!("user id (sub): {}", output::cell(&v["id"])));
        }
        UserCommand::Show { subscription, id } => {
            let v = api
                .send(Method::GET, &user_path(&subscription, &id), None)
                .await?;
            out.print(&v, output::summary);
        }
        UserCommand::Disable { subscription, id } => {
            set_disabled(api, out, &subscription, &id, true).await?
        }
        UserCommand::Enable { subscription, id } => {
            set_disabled(api, out, &subscription, &id, false).await?
        }
        UserCommand::ResetPassword { subscription, id } => {
            let body = json!({"password": new_password()?});
            let path = format!("{}/password", user_path(&subscription, &id));
            let v = api.send(Method::POST, &path, Some(&body)).await?;
            out.print(&v, |_| {
                format!("password of user {id} set; their tokens are revoked")
            });
        }
        UserCommand::Reset2fa { subscription, id } => {
            let path = format!("{}/mfa", user_path(&subscription, &id));
            let v = api.send(Method::DELETE, &path, None).await?;
            out.print(&v, |_| format!("second factors of user {id} removed"));
        }
        UserCommand::Sessions { subscription, id } => {
            let path = format!("{}/sessions", user_path(&subscription, &id));
            let v = api.send(Method::GET, &path, None).await?;
            out.print(&v, |v| {
                output::listing(
                    &session_rows(v),
                    &[
                        "session",
                        "auth_time",
                        "amr",
                        "expires_at",
                        "client_id",
                        "scope",
                        "offline",
                    ],
                )
            });
        }
        UserCommand::SignOut {
            subscription,
            id,
            session,
        } => {
            let mut path = format!("{}/sessions", user_path(&subscription, &id));
            if let Some(sid) = &session {
                path = format!("{path}/{}", seg(sid));
            }
            let v = api.send(Method::DELETE, &path, None).await?;
            out.print(&v, |_| match &session {
                Some(sid) => format!("session {sid} of user {id} signed out"),
                None => format!("user {id} signed out everywhere; every refresh token revoked"),
            });
        }
        UserCommand::Delete { subscription, id } => {
            let v = api
                .send(Method::DELETE, &user_path(&subscription, &id), None)
                .await?;
            out.print(&v, |_| format!("deleted user {id}"));
        }
        UserCommand::Import {
            subscription,
            from,
            format,
            concurrency,
        } => {
            let concurrency = concurrency.unwrap_or_else(default_concurrency);
            import_users(api, out, &subscription, &from, format, concurrency).await?;
        }
    }
    Ok(())
}

/// The sessions answer as table rows: one per (session, client holding a grant made
/// through it), a session without grants on a row of its own, then the grants outside
/// any session with `-` as their session.
fn session_rows(v: &serde_json::Value) -> serde_json::Value {
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let mut items = Vec::new();
    for s in list("sessions") {
        let row = |g: &serde_json::Value| {
            json!({"session": s["sid"], "auth_time": s["auth_time"], "amr": s["amr"],
                "expires_at": s["expires_at"], "client_id": g["client_id"],
                "scope": g["scope"], "offline": g["offline"]})
        };
        match s["clients"].as_array().filter(|c| !c.is_empty()) {
            Some(clients) => items.extend(clients.iter().map(row)),
            None => items.push(row(&json!({}))),
        }
    }
    for g in list("grants") {
        items.push(
            json!({"session": "-", "client_id": g["client_id"], "scope": g["scope"],
            "offline": g["offline"]}),
        );
    }
    json!({ "items": items })
}

async fn set_disabled(
    api: &AdminApi,
    out: Output,
    subscription: &str,
    id: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let body = json!({"disabled": disabled});
    let v = api
        .send(Method::PATCH, &user_path(subscription, id), Some(&body))
        .await?;
    let state = if disabled {
        "disabled; their tokens are revoked"
    } else {
        "enabled"
    };
    out.print(&v, |_| format!("user {id} {state}"));
    Ok(())
}

/// The outcome of importing one record.
type Outcome = Result<(), LineError>;

async fn import_one(api: &AdminApi, path: &str, format: Format, r: import::Record) -> Outcome {
    let mut body = json!({"username": r.username});
    if let Some(e) = r.email {
        body["email"] = e.into();
    }
    if let Some(n) = r.name {
        body["name"] = n.into();
    }
    if let Some(p) = &r.password {
        body["password"] = p.expose_secret().into();
    }
    let failed = |field: Option<String>, reason: String| LineError {
        line: r.line,
        field,
        reason,
    };
    match api.call(Method::POST, path, Some(&body)).await {
        Ok(answer) => match answer.ok() {
            Ok(_) => Ok(()),
            // The API names its own field (`email`); the report names the source's (`mail`).
            Err(ApiFailure { field, message, .. }) => {
                Err(failed(field.map(|f| format.source_field(&f)), message))
            }
        },
        Err(e) => Err(failed(None, format!("{e:#}"))),
    }
}

async fn import_users(
    api: &AdminApi,
    out: Output,
    subscription: &str,
    from: &std::path::Path,
    format: Option<Format>,
    concurrency: usize,
) -> anyhow::Result<()> {
    if concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    let format = Format::of(from, format)?;
    let data = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut parsed = match format {
        Format::Csv => import::csv(&data),
        Format::Ldif => import::ldif(&data),
    }
    .with_context(|| format!("{}", from.display()))?;
    import::refuse_duplicates(&mut parsed, format);
    // Check the subscription once, before the first record: a typo in the slug is one
    // error, not one per line.
    api.send(
        Method::GET,
        &format!("subscriptions/{}", seg(subscription)),
        None,
    )
    .await?;
    let path = format!("subscriptions/{}/users", seg(subscription));
    let total = parsed.records.len();
    let pb = progress::bar(total as u64, "importing users", out.json);
    let mut errors = parsed.errors;
    let mut imported = 0usize;
    let mut results = futures_util::stream::iter(parsed.records)
        .map(|r| import_one(api, &path, format, r))
        .buffer_unordered(concurrency);
    while let Some(outcome) = results.next().await {
        match outcome {
            Ok(()) => imported += 1,
            Err(e) => errors.push(e),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    errors.sort_by_key(|e| e.line);
    let summary = json!({
        "imported": imported,
        "failed": errors.len(),
        "skipped": parsed.skipped,
        "errors": errors,
    });
    out.print(&summary, |_| {
        let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let mut s = format!("imported {imported} users, {} failed", errors.len());
        if parsed.skipped > 0 {
            s.push_str(&format!(", {} entries skipped (not users)", parsed.skipped));
        }
        lines.push(s);
        lines.join("\n")
    });
    if !errors.is_empty() {
        anyhow::bail!(
            "{} of {} records were not imported (see the lines above)",
            errors.len(),
            errors.len() + imported
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_rows_give_one_row_per_client_and_per_grant_outside_sessions() {
        let v = json!({
            "sessions": [
                {"sid": "s1", "auth_time": 1, "amr": ["pwd"], "expires_at": 9,
                 "clients": [{"client_id": "a", "scope": "openid", "offline": false},
                             {"client_id": "b", "scope": "openid offline_access", "offline": true}]},
                {"sid": "s2", "auth_time": 2, "amr": ["pwd", "otp"], "expires_at": 9, "clients": []}
            ],
            "grants": [{"client_id": "c", "scope": "mcp", "offline": false}]
        });
        let rows = session_rows(&v);
        let items = rows["items"].as_array().unwrap();
        let cells: Vec<(&str, &str)> = items
            .iter()
            .map(|r| {
                (
                    r["session"].as_str().unwrap(),
                    r["client_id"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(cells, [("s1", "a"), ("s1", "b"), ("s2", ""), ("-", "c")]);
        assert!(output::listing(&rows, &["session", "client_id"]).contains("s2"));
    }
}

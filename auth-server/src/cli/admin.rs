//! `auth-server admin …`: the generic commands (`get|create|update|put|delete PATH`,
//! one per HTTP method of `/admin/v1/PATH`, so every API call and so every console action
//! has a command) and the typed ones for the common console actions, all dispatched
//! through [`AdminApi`].

use super::api::{AdminApi, BASE};
use super::output::{self, Output};
use super::{body, resources, subscriptions, users};
use crate::config::Settings;
use crate::startup::{BuildOptions, build_ctx};
use actix_web::http::Method;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `auth-server admin [--json] COMMAND`
#[derive(Args)]
pub struct AdminArgs {
    /// Machine output: print the API's JSON and nothing else on standard output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// GET /admin/v1/PATH, e.g. `get subscriptions/acme/clients -q limit=10`.
    Get {
        /// API path below /admin/v1 (a query string is allowed).
        path: String,
        /// Query parameter key=value (repeatable).
        #[arg(short = 'q', long = "query", value_name = "KEY=VALUE")]
        query: Vec<String>,
    },
    /// POST /admin/v1/PATH with a JSON body (creates, and actions such as rotate-secret).
    #[command(visible_alias = "post")]
    Create(BodyArgs),
    /// PATCH /admin/v1/PATH with a JSON body (changes only the members given).
    #[command(visible_alias = "patch")]
    Update(BodyArgs),
    /// PUT /admin/v1/PATH with a JSON body (memberships, links, group 2FA policies).
    Put(BodyArgs),
    /// DELETE /admin/v1/PATH.
    Delete {
        /// API path below /admin/v1.
        path: String,
    },
    /// Subscriptions (tenants).
    Subscription {
        #[command(subcommand)]
        command: subscriptions::SubscriptionCommand,
    },
    /// OAuth clients.
    Client {
        #[command(subcommand)]
        command: resources::ClientCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Directory and upstream OIDC connections.
    Connection {
        #[command(subcommand)]
        command: resources::ConnectionCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: resources::KeysCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: resources::AuditCommand,
    },
}

/// The body of a generic POST, PATCH or PUT.
#[derive(Args)]
struct BodyArgs {
    /// API path below /admin/v1.
    path: String,
    /// JSON file with the body (`-` reads standard input).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Set a member: key=string or key:=JSON; dots reach into objects (repeatable).
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// Run an admin command on the configured database.
pub async fn run(args: AdminArgs, settings: Settings) -> anyhow::Result<()> {
    let ctx = build_ctx(settings, &BuildOptions::default()).await?;
    // The admin service is built from `Rc`s (actix is thread-per-core): it and the
    // futures calling it stay on this thread, concurrency comes from joining them.
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let api = AdminApi::new(ctx).await?;
            let out = Output { json: args.json };
            dispatch(args.command, &api, out).await
        })
        .await
}

async fn dispatch(command: AdminCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    match command {
        AdminCommand::Get { path, query } => {
            let mut path = api_path(&path)?;
            for (i, q) in query.iter().enumerate() {
                let (k, v) = q
                    .split_once('=')
                    .with_context(|| format!("-q {q:?}: expected key=value"))?;
                let sep = if i == 0 && !path.contains('?') {
                    '?'
                } else {
                    '&'
                };
                path.push_str(&format!(
                    "{sep}{}={}",
                    super::api::query_value(k),
                    super::api::query_value(v)
                ));
            }
            let v = api.send(Method::GET, &path, None).await?;
            out.print(&v, output::generic);
        }
        AdminCommand::Create(b) => with_body(api, Method::POST, b, out).await?,
        AdminCommand::Update(b) => with_body(api, Method::PATCH, b, out).await?,
        AdminCommand::Put(b) => with_body(api, Method::PUT, b, out).await?,
        AdminCommand::Delete { path } => {
            let path = api_path(&path)?;
            let v = api.send(Method::DELETE, &path, None).await?;
            out.print(&v, |_| format!("deleted {path}"));
        }
        AdminCommand::Subscription { command } => subscriptions::run(command, api, out).await?,
        AdminCommand::Client { command } => resources::client(command, api, out).await?,
        AdminCommand::User { command } => users::run(command, api, out).await?,
        AdminCommand::Connection { command } => resources::connection(command, api, out).await?,
        AdminCommand::Keys { command } => resources::keys(command, api, out).await?,
        AdminCommand::Audit { command } => resources::audit(command, api, out).await?,
    }
    Ok(())
}

async fn with_body(api: &AdminApi, method: Method, b: BodyArgs, out: Output) -> anyhow::Result<()> {
    let path = api_path(&b.path)?;
    let base = b.file.as_deref().map(read_json).transpose()?;
    let body = body::build(base, &b.set)?;
    let v = api.send(method, &path, Some(&body)).await?;
    out.print(&v, |v| {
        let text = output::generic(v);
        if text.is_empty() {
            "done".to_owned()
        } else {
            text
        }
    });
    Ok(())
}

/// A JSON file, or standard input for `-`.
fn read_json(file: &Path) -> anyhow::Result<Value> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))
}

/// The path below `/admin/v1` (a leading `/admin/v1/` or `/` is accepted); `.` and `..`
/// segments are refused rather than resolved.
pub fn api_path(path: &str) -> anyhow::Result<String> {
    let p = path
        .strip_prefix(BASE)
        .unwrap_or(path)
        .trim_start_matches('/');
    let segments = p.split('?').next().unwrap_or_default();
    if p.is_empty() || segments.split('/').any(|s| s == "." || s == "..") {
        anyhow::bail!("{path:?}: not an admin API path (e.g. subscriptions/acme/clients)");
    }
    Ok(p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_accept_the_base_and_refuse_dot_segments() {
        assert_eq!(
            api_path("/admin/v1/subscriptions").unwrap(),
            "subscriptions"
        );
        assert_eq!(
            api_path("subscriptions/a/audit?action=x.y").unwrap(),
            "subscriptions/a/audit?action=x.y"
        );
        assert!(api_path("subscriptions/../x").is_err());
        assert!(api_path("").is_err());
    }
}

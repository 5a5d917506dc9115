//! Typed admin commands for clients, connections, keys and the audit log; each is one
//! admin API call (see `docs/console.md` for the mapping).

use super::api::{AdminApi, query_value, seg};
use super::output::{self, Output};
use actix_web::http::Method;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Paging of a listing.
#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Page size (1–200; the API's default otherwise).
    #[arg(long)]
    limit: Option<u64>,
    /// Start after this cursor (the `next` of the previous page).
    #[arg(long)]
    after: Option<String>,
    /// Every page, following the cursors.
    #[arg(long, conflicts_with_all = ["limit", "after"])]
    all: bool,
}

impl ListArgs {
    /// Fetch the listing at `path` (which may carry a query): one page, or all of them as
    /// one `{items, next: null}`.
    pub async fn fetch(&self, api: &AdminApi, path: &str) -> anyhow::Result<Value> {
        if self.all {
            let items = api.list_all(path).await?;
            return Ok(json!({"items": items, "next": null}));
        }
        let mut query = Vec::new();
        if let Some(l) = self.limit {
            query.push(format!("limit={l}"));
        }
        if let Some(a) = &self.after {
            query.push(format!("after={}", query_value(a)));
        }
        let path = join_query(path, &query);
        api.send(Method::GET, &path, None).await
    }
}

/// `path` with `query` parts appended.
pub fn join_query(path: &str, query: &[String]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{}", query.join("&"))
}

/// `admin client …`
#[derive(Subcommand)]
pub enum ClientCommand {
    /// List a subscription's clients.
    List {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        page: ListArgs,
    },
    /// Create a confidential client; prints its id and secret (once).
    Create {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Grant types (repeat or comma-separate): authorization_code, refresh_token, client_credentials.
        #[arg(long, value_delimiter = ',', default_value = "client_credentials")]
        grant_types: Vec<String>,
        /// Scopes the client may ask for (space-separated).
        #[arg(long, default_value = "")]
        scope: String,
        /// Redirect URIs (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        redirect_uri: Vec<String>,
        /// Allowed to call /introspect.
        #[arg(long)]
        introspection: bool,
    },
    /// Show one client.
    Show {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Client id.
        client_id: String,
    },
    /// Replace a client's secret; prints the new one (once). The old one stops working.
    RotateSecret {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Client id.
        client_id: String,
    },
    /// Delete a client and revoke its tokens.
    Delete {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Client id.
        client_id: String,
    },
}

/// Run `admin client …`.
pub async fn client(command: ClientCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    let base = |s: &str| format!("subscriptions/{}/clients", seg(s));
    match command {
        ClientCommand::List { subscription, page } => {
            let v = page.fetch(api, &base(&subscription)).await?;
            out.print(&v, |v| {
                output::listing(
                    v,
                    &[
                        "client_id",
                        "name",
                        "grant_types",
                        "token_endpoint_auth_method",
                        "ai_access",
                        "enabled",
                    ],
                )
            });
        }
        ClientCommand::Create {
            subscription,
            name,
            grant_types,
            scope,
            redirect_uri,
            introspection,
        } => {
            let body = json!({
                "name": name,
                "grant_types": grant_types,
                "scope": scope,
                "redirect_uris": redirect_uri,
                "token_endpoint_auth_method": "client_secret_basic",
                "introspection": introspection,
            });
            let v = api
                .send(Method::POST, &base(&subscription), Some(&body))
                .await?;
            out.print(&v, |v| {
                format!(
                    "client_id: {}\nclient_secret: {} (shown once)",
                    output::cell(&v["client_id"]),
                    output::cell(&v["client_secret"])
                )
            });
        }
        ClientCommand::Show {
            subscription,
            client_id,
        } => {
            let path = format!("{}/{}", base(&subscription), seg(&client_id));
            let v = api.send(Method::GET, &path, None).await?;
            out.print(&v, output::summary);
        }
        ClientCommand::RotateSecret {
            subscription,
            client_id,
        } => {
            let path = format!("{}/{}/rotate-secret", base(&subscription), seg(&client_id));
            let v = api.send(Method::POST, &path, None).await?;
            out.print(&v, |v| {
                format!(
                    "client_secret: {} (shown once)",
                    output::cell(&v["client_secret"])
                )
            });
        }
        ClientCommand::Delete {
            subscription,
            client_id,
        } => {
            let path = format!("{}/{}", base(&subscription), seg(&client_id));
            let v = api.send(Method::DELETE, &path, None).await?;
            out.print(&v, |_| format!("deleted client {client_id}"));
        }
    }
    Ok(())
}

/// `admin connection …`
#[derive(Subcommand)]
pub enum ConnectionCommand {
    /// List a subscription's connections (secrets show only as set or not).
    List {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        #[command(flatten)]
        page: ListArgs,
    },
    /// Diagnose a connection stage by stage (DNS, TCP, TLS, bind, search; or OIDC
    /// discovery); exits non-zero when a stage fails.
    Test {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Connection id.
        id: String,
    },
}

/// Run `admin connection …`.
pub async fn connection(
    command: ConnectionCommand,
    api: &AdminApi,
    out: Output,
) -> anyhow::Result<()> {
    match command {
        ConnectionCommand::List { subscription, page } => {
            let path = format!("subscriptions/{}/connections", seg(&subscription));
            let v = page.fetch(api, &path).await?;
            out.print(&v, |v| output::listing(v, &["id", "name", "kind"]));
        }
        ConnectionCommand::Test { subscription, id } => {
            let path = format!(
                "subscriptions/{}/connections/{}/test",
                seg(&subscription),
                seg(&id)
            );
            let v = api.send(Method::POST, &path, None).await?;
            out.print(&v, |v| {
                let steps = v["steps"].as_array().map(Vec::as_slice).unwrap_or_default();
                let mut lines: Vec<String> = steps
                    .iter()
                    .map(|s| {
                        let mark = if s["ok"] == true { "ok  " } else { "FAIL" };
                        format!(
                            "{mark} {:<9} {}",
                            output::cell(&s["stage"]),
                            output::cell(&s["message"])
                        )
                    })
                    .collect();
                lines.push(if v["ok"] == true {
                    "connection works".to_owned()
                } else {
                    "connection failed".to_owned()
                });
                lines.join("\n")
            });
            if v["ok"] != true {
                anyhow::bail!("the connection test failed (see the steps above)");
            }
        }
    }
    Ok(())
}

/// `admin keys …`
#[derive(Subcommand)]
pub enum KeysCommand {
    /// A subscription's signing keys (public facts only: kid, alg, status, dates).
    List {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
    /// Rotate: next becomes active, a new next is published, the old active key stays
    /// published until its tokens expire.
    Rotate {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
}

/// Run `admin keys …`.
pub async fn keys(command: KeysCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    match command {
        KeysCommand::List { subscription } => {
            let path = format!("subscriptions/{}/keys", seg(&subscription));
            let v = api.send(Method::GET, &path, None).await?;
            out.print(&v, |v| {
                output::listing(v, &["kid", "alg", "status", "created_at", "publish_until"])
            });
        }
        KeysCommand::Rotate { subscription } => {
            let path = format!("subscriptions/{}/keys/rotate", seg(&subscription));
            let v = api.send(Method::POST, &path, None).await?;
            out.print(&v, |v| {
                format!("rotated; active keys: {}", output::cell(&v["active"]))
            });
        }
    }
    Ok(())
}

/// `admin audit …`
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Page through a subscription's audit log, oldest first, with filters.
    List {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Action, e.g. `client.updated`.
        #[arg(long)]
        action: Option<String>,
        /// A user id or client id that acted.
        #[arg(long)]
        actor: Option<String>,
        /// Target type: client, user, subscription, keys, …
        #[arg(long)]
        target_type: Option<String>,
        /// Target id.
        #[arg(long)]
        target_id: Option<String>,
        /// From this time on (Unix seconds or RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Up to this time (Unix seconds or RFC 3339).
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        page: ListArgs,
    },
}

/// Run `admin audit …`.
pub async fn audit(command: AuditCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    let AuditCommand::List {
        subscription,
        action,
        actor,
        target_type,
        target_id,
        since,
        until,
        page,
    } = command;
    let filters: Vec<String> = [
        ("action", action),
        ("actor", actor),
        ("target_type", target_type),
        ("target_id", target_id),
        ("since", since),
        ("until", until),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", query_value(&v))))
    .collect();
    let path = join_query(
        &format!("subscriptions/{}/audit", seg(&subscription)),
        &filters,
    );
    let v = page.fetch(api, &path).await?;
    out.print(&v, |v| {
        output::listing(
            v,
            &[
                "seq",
                "at",
                "action",
                "actor.user_id",
                "actor.client_id",
                "target.type",
                "target.id",
            ],
        )
    });
    Ok(())
}

//! `admin subscription …`: list, create, show, delete, bulk provisioning, and moving one
//! subscription between deployments (export / import through a passphrase-sealed file).

use super::api::{AdminApi, seg};
use super::output::{self, Output};
use super::provision;
use super::resources::ListArgs;
use crate::service::transfer;
use actix_web::http::Method;
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

/// `admin subscription …`
#[derive(Subcommand)]
pub enum SubscriptionCommand {
    /// List subscriptions.
    List {
        #[command(flatten)]
        page: ListArgs,
    },
    /// Create a subscription; prints its issuer and MCP client credentials (once).
    Create {
        /// Slug: [a-z0-9][a-z0-9-]{1,62}.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// A dedicated database for all its tenant data (postgres://, postgresql:// or
        /// sqlite:); it is migrated first. Default: the shared database.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Show one subscription and its settings.
    Show {
        /// Slug.
        slug: String,
    },
    /// Delete a subscription and everything it owns.
    Delete {
        /// Slug.
        slug: String,
    },
    /// Create COUNT subscriptions PREFIX-0001 … (each with its keys and MCP client),
    /// COUNT at a time at most CONCURRENCY; prints the elapsed time and the rate.
    Provision {
        /// Slug prefix; the slugs are PREFIX-NNNN (zero-padded to COUNT's width).
        #[arg(long)]
        prefix: String,
        /// How many.
        #[arg(long)]
        count: u32,
        /// Creations in flight at once (default: the number of cores).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Write each new subscription's MCP client credentials to FILE (JSON lines,
        /// created 0600, never overwritten); without it the secrets are discarded (rotate
        /// one with `admin client rotate-secret` when needed).
        #[arg(long, value_name = "FILE")]
        credentials_out: Option<PathBuf>,
    },
    /// Write one subscription (keys and secrets re-encrypted under a passphrase) to a
    /// new bundle file, to import on another deployment.
    Export {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// The bundle file to create (never overwritten; mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// File holding the passphrase (default: AUTH_EXPORT_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Import a subscription bundle written by `export`; its slug must be free here.
    Import {
        /// The bundle file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// File holding the passphrase (default: AUTH_EXPORT_PASSPHRASE).
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Move a subscription's data from the shared database into a dedicated one, then
    /// point it there (stop writes for it first; see docs/operations.md).
    MoveDatabase {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// The dedicated database (postgres://, postgresql:// or sqlite:); migrated first,
        /// it must not hold this subscription yet.
        #[arg(long)]
        database_url: String,
    },
}

/// Run `admin subscription …`.
pub async fn run(command: SubscriptionCommand, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    match command {
        SubscriptionCommand::List { page } => {
            let v = page.fetch(api, "subscriptions").await?;
            out.print(&v, |v| output::listing(v, &["slug", "name", "issuer"]));
        }
        SubscriptionCommand::Create {
            slug,
            name,
            database_url,
        } => {
            let mut body = json!({"slug": slug, "name": name});
            if let Some(url) = database_url {
                body["database_url"] = url.into();
            }
            let v = api.send(Method::POST, "subscriptions", Some(&body)).await?;
            out.print(&v, |v| {
                format!(
                    "issuer: {}\nmcp client_id: {}\nmcp client_secret: {} (shown once)",
                    output::cell(&v["issuer"]),
                    output::cell(&v["mcp_client"]["client_id"]),
                    output::cell(&v["mcp_client"]["client_secret"]),
                )
            });
        }
        SubscriptionCommand::Show { slug } => {
            let v = api
                .send(Method::GET, &format!("subscriptions/{}", seg(&slug)), None)
                .await?;
            out.print(&v, output::summary);
        }
        SubscriptionCommand::Delete { slug } => {
            let v = api
                .send(
                    Method::DELETE,
                    &format!("subscriptions/{}", seg(&slug)),
                    None,
                )
                .await?;
            out.print(&v, |_| format!("deleted subscription {slug}"));
        }
        SubscriptionCommand::Provision {
            prefix,
            count,
            concurrency,
            credentials_out,
        } => {
            let plan = provision::Plan {
                prefix,
                count,
                concurrency: concurrency.unwrap_or_else(provision::default_concurrency),
                credentials_out,
            };
            provision::run(plan, api, out).await?;
        }
        SubscriptionCommand::Export {
            subscription,
            out: file,
            passphrase_file,
        } => {
            let summary = transfer::export_to_file(
                api.ctx(),
                &subscription,
                &file,
                passphrase_file.as_deref(),
                api.actor(),
            )
            .await?;
            let v = serde_json::to_value(&summary)?;
            out.print(&v, |_| format!("exported {summary} to {}", file.display()));
        }
        SubscriptionCommand::Import {
            from,
            passphrase_file,
        } => {
            let imported = transfer::import_from_file(
                api.ctx(),
                &from,
                passphrase_file.as_deref(),
                api.actor(),
            )
            .await?;
            let v = json!({"summary": imported.summary, "issuer": imported.issuer});
            out.print(&v, |_| imported.to_string());
        }
        SubscriptionCommand::MoveDatabase {
            subscription,
            database_url,
        } => {
            let url = secrecy::SecretString::from(database_url);
            // Other instances learn the new route within ROUTE_TTL; the shared rows are
            // deleted only after that (plus a margin).
            let settle = crate::store::routing::ROUTE_TTL + std::time::Duration::from_secs(1);
            let moved = transfer::dedicated::move_database(
                api.ctx(),
                &subscription,
                &url,
                settle,
                api.actor(),
            )
            .await?;
            let total: u64 = moved.rows.values().sum();
            let v = json!({"subscription": subscription, "rows": moved.rows});
            out.print(&v, |_| {
                format!(
                    "moved subscription {subscription} ({total} rows) to its dedicated database"
                )
            });
        }
    }
    Ok(())
}

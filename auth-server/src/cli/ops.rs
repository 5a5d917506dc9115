//! The operator commands that work on the database directly rather than through the
//! admin API: serve, migrate, key rotation, backup and restore, and the audit chain.

use crate::config::Settings;
use crate::service::{Actor, keys, tenants};
use crate::startup::{Application, BuildOptions, build_ctx, connect_store};
use clap::Subcommand;
use std::path::{Path, PathBuf};

/// `auth-server keys …`
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Rotate a subscription's keys: next becomes active, a new next is published, the
    /// old active key stays published until its tokens expire.
    Rotate {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
}

/// `auth-server audit …`
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the subscription's hash chain; exits non-zero at the first break.
    Verify {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
    },
    /// Write events as JSON lines to standard output (for a SIEM).
    Export {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Only events at or after this time (Unix seconds).
        #[arg(long)]
        since: Option<i64>,
    },
    /// Retention: export events older than N days to a file, then delete them.
    Prune {
        /// Subscription slug.
        #[arg(long)]
        subscription: String,
        /// Keep this many days (default: the subscription's `audit_retention_days`).
        #[arg(long)]
        older_than_days: Option<u32>,
        /// File to write the pruned events to first (JSON lines).
        #[arg(long)]
        export_to: PathBuf,
    },
}

/// The actor of the commands that bypass the API.
fn cli_actor() -> Actor {
    Actor {
        user_id: None,
        client_id: Some("cli".into()),
        act: None,
        request_id: None,
        ip: None,
    }
}

/// `serve`: run until SIGTERM/SIGINT.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, BuildOptions::default()).await?;
    tracing::info!(port = app.port(), "listening");
    app.run_until_stopped().await?;
    Ok(())
}

/// `migrate`
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    connect_store(&settings).await?;
    println!("migrations applied");
    Ok(())
}

/// `keys rotate`
pub async fn keys(command: KeysCommand, settings: Settings) -> anyhow::Result<()> {
    let KeysCommand::Rotate { subscription } = command;
    let ctx = build_ctx(settings, &BuildOptions::default()).await?;
    let sub = tenants::resolve(&ctx, &subscription).await?;
    let active = keys::rotate(&ctx, &sub.id, &cli_actor()).await?;
    println!("rotated; active keys: {}", active.join(", "));
    Ok(())
}

/// `backup --out FILE`
pub async fn backup(settings: Settings, out: &Path) -> anyhow::Result<()> {
    let store = connect_store(&settings).await?;
    store.backup_sqlite(out).await?;
    println!("backup written to {}", out.display());
    Ok(())
}

/// `restore --from FILE`
pub fn restore(settings: &Settings, from: &Path) -> anyhow::Result<()> {
    crate::store::backup::restore_sqlite(&settings.effective_database_url(), from)?;
    println!(
        "restored {}; start the server to apply pending migrations",
        from.display()
    );
    Ok(())
}

/// `audit verify|export|prune`
pub async fn audit(command: AuditCommand, settings: Settings) -> anyhow::Result<()> {
    use crate::service::audit::{self, Verification};
    let ctx = build_ctx(settings, &BuildOptions::default()).await?;
    match command {
        AuditCommand::Verify { subscription } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            match audit::verify(&ctx, &sub.id).await? {
                Verification::Intact { events } => println!("audit chain intact: {events} events"),
                Verification::Broken { seq, id, reason } => {
                    anyhow::bail!("audit chain broken at event {seq} ({id}): {reason}")
                }
            }
        }
        AuditCommand::Export {
            subscription,
            since,
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let mut out = std::io::stdout().lock();
            audit::export(&ctx, &sub.id, since, None, &mut out).await?;
        }
        AuditCommand::Prune {
            subscription,
            older_than_days,
            export_to,
        } => {
            let sub = tenants::resolve(&ctx, &subscription).await?;
            let days = older_than_days
                .or(sub.settings.audit_retention_days)
                .ok_or_else(|| anyhow::anyhow!("--older-than-days is required: subscription {subscription} has no audit_retention_days"))?;
            let before = ctx.now() - i64::from(days) * 86_400;
            let mut file = std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&export_to)?;
            let n = audit::prune(&ctx, &sub.id, before, &mut file).await?;
            println!("exported and pruned {n} events to {}", export_to.display());
        }
    }
    Ok(())
}

//! Background housekeeping: expired refresh tokens, opaque tokens, revocation
//! entries and browser-session index rows, and login-failure counts idle for 30 days, are deleted so the tables stay proportional to live tokens. Idempotent, so
//! every instance may run it.

use super::Ctx;
use std::time::Duration;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(600);

/// Start the sweep on the current runtime; it stops with the process.
pub fn spawn(ctx: Ctx) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            sweep(&ctx).await;
        }
    })
}

/// One pass over every database holding tenant data: the shared one and every
/// dedicated one (the repositories' purges are cross-tenant within a database).
async fn sweep(ctx: &Ctx) {
    let databases = match ctx.all_databases().await {
        Ok(dbs) => dbs,
        Err(e) => {
            tracing::warn!(error = %e, "listing the tenant databases failed; retrying at the next tick");
            return;
        }
    };
    let now = ctx.now();
    let stale = now - super::throttle::policy::FAILURE_MEMORY;
    for db in databases {
        if let Err(e) = db.repos().tokens().purge_expired(now).await {
            tracing::warn!(error = %e, "expired-token sweep failed; retrying at the next tick");
        }
        if let Err(e) = db.repos().login_locks().purge_stale(stale).await {
            tracing::warn!(error = %e, "login-failure sweep failed; retrying at the next tick");
        }
        if let Err(e) = db.repos().user_sessions().purge_expired(now).await {
            tracing::warn!(error = %e, "expired-session sweep failed; retrying at the next tick");
        }
    }
}

//! Background housekeeping: expired refresh tokens, opaque tokens and revocation
//! entries, and login-failure counts idle for 30 days, are deleted so the tables stay proportional to live tokens. Idempotent, so
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
            if let Err(e) = ctx.store.repos().tokens().purge_expired(ctx.now()).await {
                tracing::warn!(error = %e, "expired-token sweep failed; retrying at the next tick");
            }
            let stale = ctx.now() - super::throttle::policy::FAILURE_MEMORY;
            if let Err(e) = ctx.store.repos().login_locks().purge_stale(stale).await {
                tracing::warn!(error = %e, "login-failure sweep failed; retrying at the next tick");
            }
        }
    })
}

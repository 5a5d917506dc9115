//! `admin subscription provision`: many subscriptions through the admin API, a bounded
//! number in flight, with a progress bar, the elapsed time and the rate. A failed
//! creation is reported and the others go on; the command then exits non-zero.

use super::api::AdminApi;
use super::output::Output;
use super::progress;
use crate::domain::Slug;
use actix_web::http::Method;
use anyhow::Context;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// What to provision.
#[derive(Debug)]
pub struct Plan {
    /// Slug prefix.
    pub prefix: String,
    /// How many.
    pub count: u32,
    /// Creations in flight at once.
    pub concurrency: usize,
    /// Where to write the MCP client credentials.
    pub credentials_out: Option<PathBuf>,
}

/// The slug of the `i`-th subscription: `prefix-0042`, padded to `count`'s width so the
/// slugs sort in creation order.
pub fn slug_of(prefix: &str, i: u32, count: u32) -> String {
    let width = count.to_string().len();
    format!("{prefix}-{i:0width$}")
}

/// The default number of creations in flight: one per core (key generation, the
/// dominant cost, runs on the blocking pool, one key per core at a time).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Run the plan.
pub async fn run(plan: Plan, api: &AdminApi, out: Output) -> anyhow::Result<()> {
    if plan.count == 0 {
        anyhow::bail!("--count must be at least 1");
    }
    if plan.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    // Refuse a prefix that cannot make valid slugs before creating anything.
    let last = slug_of(&plan.prefix, plan.count, plan.count);
    Slug::parse(&last, "--prefix")?;
    let mut credentials = match &plan.credentials_out {
        Some(path) => Some(create_private(path)?),
        None => None,
    };
    let pb = progress::bar(u64::from(plan.count), "provisioning", out.json);
    let started = Instant::now();
    let mut created = 0u64;
    let mut errors: Vec<Value> = Vec::new();
    let prefix = plan.prefix.as_str();
    let count = plan.count;
    let mut results = futures_util::stream::iter(1..=count)
        .map(|i| async move {
            let slug = slug_of(prefix, i, count);
            let body = json!({"slug": slug, "name": slug});
            let result = match api.call(Method::POST, "subscriptions", Some(&body)).await {
                Ok(answer) => answer.ok().map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            (slug, result)
        })
        .buffer_unordered(plan.concurrency);
    while let Some((slug, result)) = results.next().await {
        match result {
            Ok(v) => {
                created += 1;
                if let Some(f) = credentials.as_mut() {
                    let line = json!({
                        "slug": slug,
                        "issuer": v["issuer"],
                        "client_id": v["mcp_client"]["client_id"],
                        "client_secret": v["mcp_client"]["client_secret"],
                    });
                    writeln!(f, "{line}").context("cannot write the credentials file")?;
                }
            }
            Err(e) => {
                pb.suspend(|| eprintln!("{slug}: {e:#}"));
                errors.push(json!({"slug": slug, "error": format!("{e:#}")}));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let rate = if elapsed > 0.0 {
        created as f64 / elapsed
    } else {
        0.0
    };
    let summary = json!({
        "created": created,
        "failed": errors.len(),
        "elapsed_seconds": (elapsed * 1000.0).round() / 1000.0,
        "per_second": (rate * 10.0).round() / 10.0,
        "concurrency": plan.concurrency,
        "errors": errors,
    });
    out.print(&summary, |_| {
        format!(
            "created {created} subscriptions in {elapsed:.2} s ({rate:.1} per second, {} in flight){}",
            plan.concurrency,
            if errors.is_empty() {
                String::new()
            } else {
                format!("; {} failed", errors.len())
            }
        )
    });
    if !errors.is_empty() {
        anyhow::bail!("{} of {count} subscriptions were not created", errors.len());
    }
    Ok(())
}

/// A new file only its owner can read (never an existing one: secrets are not appended
/// to a file someone else may have prepared).
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_padded_to_the_counts_width() {
        assert_eq!(slug_of("t", 7, 10_000), "t-00007");
        assert_eq!(slug_of("t", 10_000, 10_000), "t-10000");
        assert_eq!(slug_of("load", 3, 9), "load-3");
    }
}

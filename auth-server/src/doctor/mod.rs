//! `auth-server doctor`: checks a deployment before (or while) it serves and prints one
//! line per check, `ok|warn|fail  name  detail`, or JSON with `--json`.
//!
//! The checks, in order: configuration (which variables are set, never their values),
//! the data directory (secret files 0600), the database (reachable, migrations applied,
//! clock skew), Redis (PING and its latency), the signing keys of every subscription
//! (with the key ring's own decryption, see `service::keys::health`) and the TLS pair.
//!
//! The doctor only reads: it never creates the SQLite file, generates a master key, runs
//! a migration or bootstraps the system subscription, so it is safe to run next to a
//! live server and on a data directory that was never started. A check that needs an
//! earlier one that failed (the keys need the database) is skipped with a `warn`
//! naming the check it waits for. No detail carries a secret: URLs are reduced to their
//! host by the settings' summaries, and driver errors are the drivers' connection
//! messages, which name no credentials.

mod checks;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use checks::{
    config_check, data_dir_check, database_checks, keys_check, master_key, redis_check, tls_check,
};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Works now, but needs attention (or could not be checked).
    Warn,
    /// Broken: the server cannot work correctly like this.
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// `ok`, `warn` or `fail`.
    pub status: Status,
    /// The check's name (`config`, `database`, `redis`, …).
    pub name: &'static str,
    /// What was found, for a human; never a secret.
    pub detail: String,
}

fn check(status: Status, name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        status,
        name,
        detail: detail.into(),
    }
}

/// The whole report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed (warnings allowed): the process exit status.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// One line per check: `status  name  detail`, columns aligned.
    pub fn text(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        self.checks
            .iter()
            .map(|c| {
                let (s, n, d) = (c.status.as_str(), c.name, &c.detail);
                format!("{s:<4}  {n:<width$}  {d}\n")
            })
            .collect()
    }

    /// `{"healthy": bool, "checks": [{status, name, detail}]}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"healthy": self.healthy(), "checks": self.checks})
    }
}

/// Clock skew bounds: tokens carry `iat`/`exp` in whole seconds and verifiers allow
/// a little leeway; beyond a few seconds instances disagree on code and token expiry.
const SKEW_WARN_SECS: f64 = 2.0;
const SKEW_FAIL_SECS: f64 = 30.0;

/// Classify the difference between this host's clock and the database's, in seconds.
pub fn skew_status(skew_secs: f64) -> Status {
    match skew_secs.abs() {
        s if s >= SKEW_FAIL_SECS => Status::Fail,
        s if s >= SKEW_WARN_SECS => Status::Warn,
        _ => Status::Ok,
    }
}

/// TLS certificate bounds: renewal tools renew 30 days ahead; under 14 days left means
/// renewal is failing.
const CERT_WARN_DAYS: i64 = 14;

/// Classify a certificate valid from `not_before` to `not_after` (Unix seconds) at `now`.
pub fn cert_status(not_before: i64, not_after: i64, now: i64) -> (Status, String) {
    let days = (not_after - now).div_euclid(86_400);
    if now < not_before {
        return (Status::Fail, "is not valid yet".into());
    }
    if now >= not_after {
        return (Status::Fail, format!("expired {} days ago", -days));
    }
    if days < CERT_WARN_DAYS {
        return (Status::Warn, format!("expires in {days} days: renew it"));
    }
    (Status::Ok, format!("expires in {days} days"))
}

/// The variables that are set (by the environment or the config file), as
/// `NAME=summary`: secrets only as `set`, URLs only as their host.
pub fn configured(s: &Settings) -> Vec<String> {
    let d = Settings::default();
    let mut out = Vec::new();
    let mut add = |name: &str, set: bool, shown: String| {
        if set {
            out.push(format!("{name}={shown}"));
        }
    };
    add(
        "AUTH_PUBLIC_URL",
        s.public_url != d.public_url,
        s.public_url.to_string(),
    );
    add("AUTH_LISTEN", s.listen != d.listen, s.listen.to_string());
    add(
        "AUTH_DATA_DIR",
        s.data_dir != d.data_dir,
        s.data_dir.display().to_string(),
    );
    add(
        "AUTH_DATABASE_URL",
        s.database_url.is_some(),
        s.database_summary(),
    );
    add("AUTH_REDIS_URL", s.redis_url.is_some(), s.redis_summary());
    add("AUTH_MASTER_KEY", s.master_key.is_some(), "(set)".into());
    let cert = s.tls_cert.as_deref().map(|p| p.display().to_string());
    add(
        "AUTH_TLS_CERT",
        cert.is_some(),
        cert.clone().unwrap_or_default(),
    );
    add(
        "AUTH_ADMIN_CLIENT_SECRET",
        s.admin_client_secret.is_some(),
        "(set)".into(),
    );
    add(
        "AUTH_AUDIT_SINK",
        s.audit_sink.is_some(),
        s.audit_sink.clone().unwrap_or_default(),
    );
    add("AUTH_DEV_MODE", s.dev_mode, "true".into());
    out
}

/// At least one check failed; the report says which.
#[derive(Debug, thiserror::Error)]
#[error("{0} of the doctor's checks failed")]
pub struct Unhealthy(pub usize);

/// `auth-server doctor [--json]`: run the checks, print the report to standard output,
/// and fail when a check failed (the exit status of the command).
pub async fn cli(settings: &Settings, json: bool) -> Result<(), Unhealthy> {
    let report = run(settings).await;
    match json {
        true => println!("{}", report.json()),
        false => print!("{}", report.text()),
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    match failed {
        0 => Ok(()),
        n => Err(Unhealthy(n)),
    }
}

/// Run every check.
pub async fn run(settings: &Settings) -> Report {
    let now = SystemClock.now();
    let mut r = Report::default();
    r.checks.push(config_check(settings));
    r.checks.push(data_dir_check(&settings.data_dir));
    let (master, key_check) = master_key(settings);
    r.checks.push(key_check);
    let store = database_checks(settings, &mut r).await;
    r.checks.push(redis_check(settings).await);
    match (&store, &master) {
        (Some(store), Some(master)) => r.checks.push(keys_check(store, master, now).await),
        (None, _) => r.checks.push(check(
            Status::Warn,
            "keys",
            "not checked: needs a reachable, migrated database",
        )),
        (_, None) => r.checks.push(check(
            Status::Warn,
            "keys",
            "not checked: needs the master key",
        )),
    }
    r.checks.push(tls_check(settings, now));
    r
}

/// Secret files must be private to the server's user: 0600 (or stricter).
pub fn secret_file_status(mode: Option<u32>) -> Status {
    match mode {
        None => Status::Ok,
        Some(m) if m & 0o077 == 0 => Status::Ok,
        Some(_) => Status::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_and_certificate_lifetimes_are_classified() {
        assert_eq!(skew_status(0.3), Status::Ok);
        assert_eq!(skew_status(-2.5), Status::Warn);
        assert_eq!(skew_status(31.0), Status::Fail);
        let day = 86_400;
        assert_eq!(cert_status(0, 100 * day, 10 * day).0, Status::Ok);
        assert_eq!(cert_status(0, 100 * day, 90 * day).0, Status::Warn);
        let (s, d) = cert_status(0, 100 * day, 103 * day);
        assert_eq!((s, d.as_str()), (Status::Fail, "expired 3 days ago"));
        assert_eq!(cert_status(50 * day, 100 * day, day).0, Status::Fail);
    }

    #[test]
    fn secret_files_must_not_be_readable_by_others() {
        assert_eq!(secret_file_status(None), Status::Ok);
        assert_eq!(secret_file_status(Some(0o600)), Status::Ok);
        assert_eq!(secret_file_status(Some(0o400)), Status::Ok);
        assert_eq!(secret_file_status(Some(0o640)), Status::Fail);
        assert_eq!(secret_file_status(Some(0o644)), Status::Fail);
    }

    #[test]
    fn configured_lists_names_and_hosts_never_secrets() {
        let env = [
            (
                "AUTH_DATABASE_URL",
                "postgres://u:Hunter2Hunter2@db:5432/auth",
            ),
            ("AUTH_REDIS_URL", "redis://:Hunter2Hunter2@cache:6379"),
            (
                "AUTH_MASTER_KEY",
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            ),
        ];
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = Settings::from_sources(None, &env).unwrap();
        let text = configured(&s).join(" ");
        assert_eq!(
            text,
            "AUTH_DATABASE_URL=postgres:db:5432/auth AUTH_REDIS_URL=redis:cache:6379 AUTH_MASTER_KEY=(set)"
        );
        assert!(configured(&Settings::default()).is_empty());
    }

    #[test]
    fn the_report_fails_when_one_check_fails_and_prints_aligned_lines() {
        let mut r = Report::default();
        r.checks.push(check(Status::Ok, "config", "all defaults"));
        r.checks.push(check(Status::Warn, "redis", "slow"));
        assert!(r.healthy());
        r.checks.push(check(Status::Fail, "database", "down"));
        assert!(!r.healthy());
        assert_eq!(
            r.text(),
            "ok    config    all defaults\nwarn  redis     slow\nfail  database  down\n"
        );
        assert_eq!(r.json()["checks"][2]["status"], "fail");
        assert_eq!(r.json()["healthy"], false);
    }
}

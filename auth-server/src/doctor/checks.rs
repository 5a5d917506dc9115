//! The checks of `auth-server doctor` that touch the outside world: files, the
//! database, Redis, the key store. Each returns its [`Check`]; none writes anything.

use super::{
    Check, Report, Status, cert_status, check, configured, secret_file_status, skew_status,
};
use crate::cache::{Ephemeral, RedisStore};
use crate::config::Settings;
use crate::store::Store;
use crate::tokens::MasterKey;
use secrecy::ExposeSecret;
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) fn config_check(s: &Settings) -> Check {
    let set = configured(s);
    let listed = if set.is_empty() {
        "all defaults".to_owned()
    } else {
        set.join(" ")
    };
    if s.database_url.is_some() && s.master_key.is_none() {
        // Several instances on one database must share the key; a file in each
        // instance's data dir does not.
        return check(
            Status::Warn,
            "config",
            format!(
                "{listed}; AUTH_MASTER_KEY is not set (instances sharing a database need the same key)"
            ),
        );
    }
    if s.dev_mode {
        return check(
            Status::Warn,
            "config",
            format!("{listed}; development mode is on"),
        );
    }
    check(Status::Ok, "config", listed)
}

/// The permission bits of a file, or `None` when it does not exist.
#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(path: &Path) -> Option<u32> {
    path.exists().then_some(0o600)
}

pub(super) fn data_dir_check(dir: &Path) -> Check {
    let shown = dir.display();
    if !dir.exists() {
        return check(
            Status::Warn,
            "data_dir",
            format!("{shown} does not exist yet (created at the first start)"),
        );
    }
    if !dir.is_dir() {
        return check(
            Status::Fail,
            "data_dir",
            format!("{shown} is not a directory"),
        );
    }
    let mut problems = Vec::new();
    for name in ["admin-client-secret", "master-key"] {
        let m = mode(&dir.join(name));
        if secret_file_status(m) == Status::Fail {
            let m = m.unwrap_or_default();
            problems.push(format!(
                "{name} is {m:04o}, expected 0600 (chmod 600 {shown}/{name})"
            ));
        }
    }
    if let Some(m) = mode(dir).filter(|m| m & 0o002 != 0) {
        problems.push(format!("the directory is world-writable ({m:04o})"));
    }
    match problems.is_empty() {
        true => check(
            Status::Ok,
            "data_dir",
            format!("{shown}: secret files 0600"),
        ),
        false => check(
            Status::Fail,
            "data_dir",
            format!("{shown}: {}", problems.join("; ")),
        ),
    }
}

/// The master key without side effects: `AUTH_MASTER_KEY`, else the data dir's file;
/// unlike the server, the doctor never generates one.
pub(super) fn master_key(s: &Settings) -> (Option<MasterKey>, Check) {
    const NAME: &str = "master_key";
    if let Some(text) = &s.master_key {
        return match MasterKey::parse(text.expose_secret()) {
            Ok(k) => (Some(k), check(Status::Ok, NAME, "AUTH_MASTER_KEY")),
            Err(e) => (
                None,
                check(Status::Fail, NAME, format!("AUTH_MASTER_KEY: {e}")),
            ),
        };
    }
    let path = s.data_dir.join("master-key");
    let shown = path.display();
    match std::fs::read_to_string(&path) {
        Ok(text) => match MasterKey::parse(text.trim()) {
            Ok(k) => (Some(k), check(Status::Ok, NAME, format!("file {shown}"))),
            Err(e) => (None, check(Status::Fail, NAME, format!("{shown}: {e}"))),
        },
        Err(_) => (
            None,
            check(
                Status::Warn,
                NAME,
                format!(
                    "AUTH_MASTER_KEY is not set and {shown} does not exist: the first start generates one"
                ),
            ),
        ),
    }
}

/// Bound on each database step, so that a host that does not answer cannot hang the doctor.
const DB_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn database_checks(s: &Settings, r: &mut Report) -> Option<Store> {
    let url = s.effective_database_url();
    let shown = s.database_summary();
    if let Some(path) = crate::store::backup::sqlite_path(&url)
        && !path.exists()
    {
        let detail = format!(
            "{shown} does not exist yet (`auth-server migrate` or the first start creates it)"
        );
        r.checks.push(check(Status::Warn, "database", detail));
        return None;
    }
    let started = Instant::now();
    let connected = tokio::time::timeout(DB_TIMEOUT, Store::connect(&url, 1)).await;
    let store = match connected {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => {
            r.checks.push(check(
                Status::Fail,
                "database",
                format!("{shown}: cannot connect: {}", chain(&e)),
            ));
            return None;
        }
        Err(_) => {
            r.checks.push(check(
                Status::Fail,
                "database",
                format!("{shown}: no answer within {} s", DB_TIMEOUT.as_secs()),
            ));
            return None;
        }
    };
    if let Err(e) = store.ping().await {
        r.checks.push(check(
            Status::Fail,
            "database",
            format!("{shown}: ping failed: {}", chain(&e)),
        ));
        return None;
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    r.checks.push(check(
        Status::Ok,
        "database",
        format!("{shown}: connected in {ms:.1} ms"),
    ));
    let migrations = store.migration_status().await;
    let empty = matches!(&migrations, Ok(m) if m.applied == 0);
    r.checks.push(match migrations {
        Ok(m) if !m.unknown.is_empty() => check(
            Status::Fail,
            "migrations",
            format!("{} applied; the database has migrations this binary does not know (a newer release ran): {}", m.applied, m.unknown.join(", ")),
        ),
        Ok(m) if !m.pending.is_empty() => check(
            Status::Warn,
            "migrations",
            format!("{} applied, {} pending (applied at the next start or by `auth-server migrate`): {}", m.applied, m.pending.len(), m.pending.join(", ")),
        ),
        Ok(m) => check(Status::Ok, "migrations", format!("{} applied, none pending", m.applied)),
        Err(e) => check(Status::Fail, "migrations", format!("cannot read the migration table: {}", chain(&e))),
    });
    r.checks.push(clock_check(&store).await);
    // A database no migration ran on has no tables to read keys from.
    (!empty).then_some(store)
}

async fn clock_check(store: &Store) -> Check {
    let sent = unix_now_f64();
    let db_time = tokio::time::timeout(DB_TIMEOUT, store.database_time()).await;
    let received = unix_now_f64();
    match db_time {
        Ok(Ok(Some(db))) => {
            // The database read its clock somewhere in the round trip: compare with the
            // middle of it, and say how wide the uncertainty is.
            let skew = (sent + received) / 2.0 - db;
            let rtt_ms = (received - sent) * 1000.0;
            let detail = format!(
                "local clock {skew:+.3} s from the database's now() (round trip {rtt_ms:.1} ms)"
            );
            match skew_status(skew) {
                Status::Ok => check(Status::Ok, "clock", detail),
                Status::Warn => check(
                    Status::Warn,
                    "clock",
                    format!("{detail}: sync this host (NTP)"),
                ),
                Status::Fail => check(
                    Status::Fail,
                    "clock",
                    format!(
                        "{detail}: tokens and codes expire at different times on different hosts; sync this host (NTP)"
                    ),
                ),
            }
        }
        Ok(Ok(None)) => check(
            Status::Ok,
            "clock",
            "SQLite: the database uses this host's clock (no skew possible)",
        ),
        Ok(Err(e)) => check(
            Status::Fail,
            "clock",
            format!("SELECT now() failed: {}", chain(&e)),
        ),
        Err(_) => check(Status::Fail, "clock", "SELECT now() did not answer in time"),
    }
}

fn unix_now_f64() -> f64 {
    // Sub-second precision is the point here; `Clock` works in whole seconds.
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp() as f64 + f64::from(now.nanosecond()) / 1e9
}

pub(super) async fn redis_check(s: &Settings) -> Check {
    let Some(url) = &s.redis_url else {
        let detail =
            "not configured: codes, sessions and counters are in this process (one instance only)";
        let status = if s
            .database_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("sqlite"))
        {
            Status::Warn
        } else {
            Status::Ok
        };
        return check(status, "redis", detail);
    };
    let shown = s.redis_summary();
    let connected = tokio::time::timeout(
        Duration::from_secs(6),
        RedisStore::connect(url, "doctor:", s.redis_ca_file.as_deref()),
    )
    .await;
    let redis = match connected {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return check(
                Status::Fail,
                "redis",
                format!("{shown}: cannot connect: {e}"),
            );
        }
        Err(_) => {
            return check(
                Status::Fail,
                "redis",
                format!("{shown}: no answer within 6 s"),
            );
        }
    };
    let started = Instant::now();
    match redis.ping().await {
        Ok(()) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let status = if ms > 50.0 { Status::Warn } else { Status::Ok };
            check(status, "redis", format!("{shown}: PING {ms:.2} ms"))
        }
        Err(e) => check(Status::Fail, "redis", format!("{shown}: PING failed: {e}")),
    }
}

pub(super) async fn keys_check(store: &Store, master: &MasterKey, now: i64) -> Check {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut count = 0usize;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .repos()
            .subscriptions()
            .list_all(after.as_deref(), 100)
            .await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                return check(
                    Status::Fail,
                    "keys",
                    format!("cannot list subscriptions: {}", chain(&e)),
                );
            }
        };
        let Some(last) = page.last() else { break };
        after = Some(last.slug.as_str().to_owned());
        for sub in &page {
            count += 1;
            let stored = match store.repos().keys().list(&sub.id).await {
                Ok(k) => k,
                Err(e) => {
                    failures.push(format!(
                        "{}: cannot read keys: {}",
                        sub.slug.as_str(),
                        chain(&e)
                    ));
                    continue;
                }
            };
            let h = crate::service::keys::health(master, &sub.id, &stored, now);
            let slug = sub.slug.as_str();
            if let Some(first) = h.undecryptable.first() {
                // One entry per tenant: with the wrong master key every key fails alike.
                let (n, total) = (h.undecryptable.len(), stored.len());
                failures.push(format!(
                    "{slug}: {n} of {total} keys do not load, e.g. {first}"
                ));
            }
            failures.extend(h.failures.into_iter().map(|f| format!("{slug}: {f}")));
            warnings.extend(h.warnings.into_iter().map(|w| format!("{slug}: {w}")));
        }
    }
    if !failures.is_empty() {
        let hint = if failures.iter().any(|f| f.contains("do not load")) {
            " (a key that does not decrypt means AUTH_MASTER_KEY is not the key these were sealed with)"
        } else {
            ""
        };
        return check(
            Status::Fail,
            "keys",
            format!("{}{hint}", failures.join("; ")),
        );
    }
    if !warnings.is_empty() {
        return check(Status::Warn, "keys", warnings.join("; "));
    }
    let detail = match count {
        0 => "no subscription yet (the first start creates `system`)".to_owned(),
        n => format!("{n} subscriptions: active and next key for every algorithm, all decrypt"),
    };
    check(Status::Ok, "keys", detail)
}

pub(super) fn tls_check(s: &Settings, now: i64) -> Check {
    let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) else {
        return check(
            Status::Ok,
            "tls",
            "not configured: plain HTTP (terminate TLS in front)",
        );
    };
    if let Err(e) = crate::tls::ReloadingCert::load(cert, key) {
        return check(Status::Fail, "tls", format!("{e:#}"));
    }
    let pem = match std::fs::read(cert) {
        Ok(p) => p,
        Err(e) => return check(Status::Fail, "tls", format!("AUTH_TLS_CERT: {e}")),
    };
    let leaf = rustls_pemfile::certs(&mut pem.as_slice()).next();
    let Some(Ok(der)) = leaf else {
        return check(Status::Fail, "tls", "AUTH_TLS_CERT: no certificate");
    };
    let parsed = x509_parser::parse_x509_certificate(&der);
    let Ok((_, x509)) = parsed else {
        return check(
            Status::Fail,
            "tls",
            "AUTH_TLS_CERT: the certificate does not parse as X.509",
        );
    };
    let validity = x509.validity();
    let (status, when) = cert_status(
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
        now,
    );
    let subject = x509.subject().to_string();
    check(
        status,
        "tls",
        format!("{} ({subject}): key matches, {when}", cert.display()),
    )
}

/// An error with its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

//! The admin "test" action for a connection: each stage (DNS, TCP, TLS, bind, search for
//! directories; discovery for OIDC) is tried in turn and reported with a plain
//! diagnosis. Messages name result codes and hosts, never a secret.

use super::ldap::{self, DirectoryError, DirectorySettings};
use serde::Serialize;
use std::time::Duration;

/// One stage's outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Step {
    /// `dns`, `tcp`, `tls`, `bind`, `search` or `discovery`.
    pub stage: String,
    /// Whether it worked.
    pub ok: bool,
    /// What happened, for an administrator.
    pub message: String,
}

/// The whole diagnosis: `ok` when every stage passed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Diagnosis {
    /// Every stage passed.
    pub ok: bool,
    /// The stages tried, in order; the first failure is the last entry.
    pub steps: Vec<Step>,
}

impl Diagnosis {
    fn push(&mut self, stage: &str, ok: bool, message: impl Into<String>) -> bool {
        self.steps.push(Step {
            stage: stage.into(),
            ok,
            message: message.into(),
        });
        self.ok = self.ok && ok;
        ok
    }
}

/// Diagnose a directory connection.
pub async fn directory(settings: &DirectorySettings) -> Diagnosis {
    let mut d = Diagnosis {
        ok: true,
        steps: Vec::new(),
    };
    let cfg = &settings.config;
    let timeout = cfg.timeout();
    let Some(url) = cfg.url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
        d.push("dns", false, "the URL is not valid");
        return d;
    };
    let tls = url.scheme() == "ldaps";
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port().unwrap_or(if tls { 636 } else { 389 });
    let addrs =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(a)) => a.collect::<Vec<_>>(),
            Ok(Err(e)) => {
                d.push("dns", false, format!("cannot resolve {host}: {e}"));
                return d;
            }
            Err(_) => {
                d.push("dns", false, format!("resolving {host} timed out"));
                return d;
            }
        };
    let Some(addr) = addrs.first().copied() else {
        d.push("dns", false, format!("{host} has no address"));
        return d;
    };
    d.push("dns", true, format!("{host} resolves to {}", addr.ip()));
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => d.push("tcp", true, format!("connected to {addr}")),
        Ok(Err(e)) => return fail(d, "tcp", format!("cannot connect to {addr}: {e}")),
        Err(_) => {
            return fail(
                d,
                "tcp",
                format!("connecting to {addr} timed out after {timeout:?}"),
            );
        }
    };
    let mut conn = match ldap::open(settings).await {
        Ok(c) => c,
        Err(e) => {
            return fail(
                d,
                if tls || cfg.start_tls { "tls" } else { "tcp" },
                clean(&e),
            );
        }
    };
    if tls || cfg.start_tls {
        d.push("tls", true, "certificate chain and host name verified");
    }
    if let Err(e) = ldap::service_bind(&mut conn, settings).await {
        return fail(d, "bind", clean(&e));
    }
    d.push("bind", true, "the service account bound");
    let base = cfg.user_base_dn.as_deref().unwrap_or_default();
    let res = conn
        .with_timeout(timeout.max(Duration::from_secs(1)))
        .search(base, ldap3::Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await;
    match res {
        Ok(r) if r.1.rc == 0 && !r.0.is_empty() => {
            d.push("search", true, format!("user base {base} is readable"))
        }
        Ok(r) if r.1.rc == 32 => {
            d.push("search", false, format!("user base {base} does not exist"))
        }
        Ok(r) => d.push(
            "search",
            false,
            format!("searching {base} failed: result {}", r.1.rc),
        ),
        Err(e) => d.push("search", false, format!("searching {base} failed: {e}")),
    };
    let _ = conn.unbind().await;
    d
}

fn fail(mut d: Diagnosis, stage: &str, message: String) -> Diagnosis {
    d.push(stage, false, message);
    d
}

fn clean(e: &DirectoryError) -> String {
    match e {
        DirectoryError::Unavailable(m) => m.clone(),
        other => other.to_string(),
    }
}

/// A diagnosis of one failed or passed stage (OIDC discovery).
pub fn single(stage: &str, result: Result<String, String>) -> Diagnosis {
    let mut d = Diagnosis {
        ok: true,
        steps: Vec::new(),
    };
    match result {
        Ok(m) => d.push(stage, true, m),
        Err(m) => d.push(stage, false, m),
    };
    d
}

/// `rest` with a passed stage in front (the OIDC TLS step before discovery).
pub fn prefixed(stage: &str, message: String, rest: Diagnosis) -> Diagnosis {
    let mut d = Diagnosis {
        ok: true,
        steps: Vec::new(),
    };
    d.push(stage, true, message);
    d.ok = rest.ok;
    d.steps.extend(rest.steps);
    d
}

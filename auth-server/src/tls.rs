//! HTTPS served directly with rustls (`AUTH_TLS_CERT`/`AUTH_TLS_KEY`): TLS 1.2 and 1.3
//! only, and a certificate that can be replaced without a restart.
//!
//! The server configuration resolves its certificate through [`ReloadingCert`] on every
//! handshake, so swapping the loaded pair takes effect for the next connection while
//! open connections keep theirs. The pair is reloaded on `SIGHUP` and when either file's
//! modification time changes (checked every [`WATCH_INTERVAL`], which is what renewal
//! tools such as certbot or cert-manager need: they rewrite the files and may or may not
//! signal). A pair that fails to load or does not match keeps the previous one in
//! service and logs the reason.

use anyhow::Context;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How often the files' modification times are compared.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The certificate and key in service, replaceable while serving.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

fn load_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).context("AUTH_TLS_CERT: cannot open")?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .context("AUTH_TLS_CERT: not a PEM certificate chain")?;
    if chain.is_empty() {
        anyhow::bail!("AUTH_TLS_CERT: no certificate in the file");
    }
    let der = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).context("AUTH_TLS_KEY: cannot open")?,
    ))
    .context("AUTH_TLS_KEY: not a PEM private key")?
    .ok_or_else(|| anyhow::anyhow!("AUTH_TLS_KEY: no private key in the file"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&der)
        .context("AUTH_TLS_KEY: unsupported key type")?;
    let pair = CertifiedKey::new(chain, signer);
    pair.keys_match()
        .context("AUTH_TLS_KEY: does not match AUTH_TLS_CERT")?;
    Ok(pair)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingCert {
    /// Load the pair; an error names the variable at fault.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<ReloadingCert>> {
        let pair = load_pair(cert, key)?;
        Ok(Arc::new(ReloadingCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(pair)),
        }))
    }

    /// Load the files again and put the pair in service; on error the old pair stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let pair = Arc::new(load_pair(&self.cert, &self.key)?);
        let mut current = self
            .current
            .write()
            .map_err(|_| anyhow::anyhow!("certificate lock poisoned"))?;
        *current = pair;
        Ok(())
    }

    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (modified(&self.cert), modified(&self.key))
    }

    /// Reload on `SIGHUP` and on a change of either file, until the runtime stops.
    pub fn watch(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut hangup = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::hangup(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; certificate reload follows file changes only");
                    None
                }
            };
            let mut seen = this.stamps();
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            loop {
                let why = tokio::select! {
                    _ = tick.tick() => {
                        let now = this.stamps();
                        if now == seen {
                            continue;
                        }
                        seen = now;
                        "file change"
                    }
                    Some(()) = async {
                        match hangup.as_mut() {
                            Some(h) => h.recv().await,
                            None => std::future::pending().await,
                        }
                    } => "SIGHUP",
                };
                match this.reload() {
                    Ok(()) => tracing::info!(trigger = why, "TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(trigger = why, error = %format!("{e:#}"), "TLS certificate reload failed; the previous certificate stays in service")
                    }
                }
            }
        });
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// The rustls server configuration: TLS 1.2 and 1.3, certificate from `cert`.
pub fn server_config(cert: Arc<ReloadingCert>) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_mismatched_files_are_blamed_on_their_variable() {
        let dir = tempfile::tempdir().unwrap();
        let nothing = dir.path().join("none.pem");
        let e = ReloadingCert::load(&nothing, &nothing).unwrap_err();
        assert!(format!("{e:#}").starts_with("AUTH_TLS_CERT"), "{e:#}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = ReloadingCert::load(&empty, &empty).unwrap_err();
        assert!(format!("{e:#}").contains("no certificate"), "{e:#}");
    }
}

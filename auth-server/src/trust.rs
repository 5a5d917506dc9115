//! Trust anchors for outgoing TLS (LDAPS and StartTLS, `rediss://`): the system roots
//! and CA certificates an operator supplies for a private PKI. Certificate verification
//! is never disabled anywhere; a configured CA is either added to the system roots
//! (`AUTH_REDIS_CA_FILE`) or, for an LDAP connection that names its own CA, replaces
//! them (a directory's CA is that directory's only legitimate issuer).

use base64::Engine as _;
use rustls::pki_types::CertificateDer;

/// The certificates of a PEM bundle; an error (never quoting the file) when the text
/// is not PEM, holds no certificate or holds one rustls cannot use as a trust anchor.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut reader = std::io::BufReader::new(pem);
    let certs = rustls_pemfile::certs(&mut reader)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad CA PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the CA PEM holds no certificate".into());
    }
    let mut probe = rustls::RootCertStore::empty();
    for cert in &certs {
        probe
            .add(cert.clone())
            .map_err(|e| format!("unusable CA certificate: {e}"))?;
    }
    Ok(certs)
}

/// The system's root certificates, without those rustls cannot parse (a distribution
/// bundle may carry a few; skipping them is what every rustls client does).
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    let mut probe = rustls::RootCertStore::empty();
    rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .filter(|c| probe.add(c.clone()).is_ok())
        .collect()
}

/// The certificates as one PEM bundle, for clients that take trust anchors as PEM text.
pub fn to_pem(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    let mut out = String::new();
    for cert in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        // RFC 7468 §2: 64-character lines.
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_bundle_round_trips_and_garbage_is_refused() {
        let roots = system_roots();
        if let Some(first) = roots.first() {
            let pem = to_pem(std::slice::from_ref(first));
            assert_eq!(pem_certificates(&pem).unwrap(), vec![first.clone()]);
        }
        assert!(
            pem_certificates(b"PEM")
                .unwrap_err()
                .contains("no certificate")
        );
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(pem_certificates(bad).is_err());
    }
}

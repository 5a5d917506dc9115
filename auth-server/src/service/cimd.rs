//! Fetching Client ID Metadata Documents, SSRF-safe: the host is resolved first, every
//! address is checked ([`address_allowed`]), and the connection goes to the checked
//! address (pinned with `resolve`, so a second DNS answer cannot swap it); redirects
//! are refused, the body is capped at 5 KiB while reading, and the whole fetch has a
//! 5 s deadline. Documents are cached in the ephemeral store within a floor and ceiling.
//! A URL an admin blocked (`service::metadata_clients`) is refused before any fetch.

use super::{Ctx, FlowError};
use crate::domain::cimd::{
    CimdError, MAX_DOCUMENT, address_allowed, cache_ttl, parse_document, parse_url,
};
use crate::domain::{Client, Scope, Subscription};
use crate::tokens::hash_token;
use std::time::Duration;

/// The fetch deadline.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The client a metadata-document `client_id` of `sub` describes, fetched or cached.
/// A URL an admin blocked is [`FlowError::ClientBlocked`] (checked before any fetch);
/// a refused URL or document is `invalid_request` with the reason.
pub async fn resolve(ctx: &Ctx, sub: &Subscription, client_id: &str) -> Result<Client, FlowError> {
    if !sub.settings.client_id_metadata_documents {
        return Err(refused(CimdError(
            "this subscription does not accept client metadata documents".into(),
        )));
    }
    super::metadata_clients::check_not_blocked(ctx, &sub.id, client_id).await?;
    document(ctx, sub, client_id).await.map_err(refused)
}

fn refused(e: CimdError) -> FlowError {
    FlowError::InvalidRequest(e.to_string())
}

async fn document(ctx: &Ctx, sub: &Subscription, client_id: &str) -> Result<Client, CimdError> {
    let url = parse_url(client_id, ctx.settings.cimd_allow_loopback)?;
    let policy = Scope::parse(&sub.settings.registration_scope)
        .map_err(|e| CimdError(format!("the subscription's scope policy is invalid: {e}")))?;
    let key = format!("cimd:{}:{}", sub.id.0, hash_token(client_id));
    let cached = ctx.cache.get(&key).await.ok().flatten();
    let body = match cached {
        Some(b) => b,
        None => {
            let roots = extra_roots(ctx.settings.cimd_ca_file.as_deref())?;
            let (body, ttl) = fetch(&url, ctx.settings.cimd_allow_loopback, roots).await?;
            // Validate before caching so a bad document is fetched again next time.
            parse_document(client_id, &body, &policy)?;
            if let Err(e) = ctx.cache.put(&key, &body, Duration::from_secs(ttl)).await {
                tracing::warn!(error = %e, "caching a client metadata document failed");
            }
            body
        }
    };
    let (name, spec) = parse_document(client_id, &body, &policy)?;
    Ok(Client {
        client_id: client_id.to_owned(),
        name,
        secret_hash: None,
        ai_access: spec.scope.contains("mcp"),
        spec,
        enabled: true,
    })
}

/// The CA certificates of `AUTH_CIMD_CA_FILE`, trusted besides the public roots. Read at
/// each fetch: fetches are rare (documents are cached) and a rotated file then applies.
fn extra_roots(file: Option<&std::path::Path>) -> Result<Vec<reqwest::Certificate>, CimdError> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(file).map_err(|e| {
        tracing::error!(error = %e, file = %file.display(), "AUTH_CIMD_CA_FILE cannot be read");
        CimdError("the server's metadata document CA file cannot be read".into())
    })?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        tracing::error!(error = %e, file = %file.display(), "AUTH_CIMD_CA_FILE is not PEM");
        CimdError("the server's metadata document CA file is not valid PEM".into())
    })
}

async fn fetch(
    url: &url::Url,
    allow_loopback: bool,
    roots: Vec<reqwest::Certificate>,
) -> Result<(Vec<u8>, u64), CimdError> {
    tokio::time::timeout(TIMEOUT, fetch_inner(url, allow_loopback, roots))
        .await
        .map_err(|_| CimdError("fetching the document took longer than 5 seconds".into()))?
}

async fn fetch_inner(
    url: &url::Url,
    allow_loopback: bool,
    roots: Vec<reqwest::Certificate>,
) -> Result<(Vec<u8>, u64), CimdError> {
    let host = url
        .host_str()
        .ok_or_else(|| CimdError("the client_id URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| CimdError(format!("the host {host} does not resolve")))?
        .collect();
    let Some(first) = addrs.first().copied() else {
        return Err(CimdError(format!("the host {host} does not resolve")));
    };
    for a in &addrs {
        address_allowed(a.ip(), allow_loopback)?;
    }
    let mut builder = reqwest::Client::builder();
    for root in roots {
        builder = builder.add_root_certificate(root);
    }
    let client = builder
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .resolve(&host, first)
        .build()
        .map_err(|e| CimdError(format!("HTTP client setup failed: {e}")))?;
    let mut resp = client
        .get(url.as_str())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            CimdError(if e.is_timeout() {
                "fetching the document took longer than 5 seconds".into()
            } else {
                "the document could not be fetched".into()
            })
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(CimdError(
            "the document URL redirects; redirects are refused".into(),
        ));
    }
    if !status.is_success() {
        return Err(CimdError(format!(
            "fetching the document answered {status}"
        )));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT as u64)
    {
        return Err(CimdError("the document is larger than 5 KiB".into()));
    }
    let ttl = cache_ttl(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
    );
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        CimdError(if e.is_timeout() {
            "fetching the document took longer than 5 seconds".into()
        } else {
            "reading the document failed".into()
        })
    })? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT {
            return Err(CimdError("the document is larger than 5 KiB".into()));
        }
    }
    Ok((body, ttl))
}

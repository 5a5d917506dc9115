//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the
//! registration method the MCP authorization spec prefers): a `client_id` that is an
//! https URL names a JSON document describing the client. The pure rules live here:
//! which URLs qualify, which addresses may be contacted (SSRF), what the document must
//! say, and how long it may be cached. The fetch is in `service::cimd`.

use super::registration::{self, ClientMetadata, RegistrationError};
use super::{AuthMethod, ClientSpec, Scope};
use std::net::IpAddr;

/// Largest document accepted (bytes).
pub const MAX_DOCUMENT: usize = 5 * 1024;
/// Cache lifetime bounds (seconds): a floor keeps a hostile host from forcing a fetch
/// per request; a ceiling bounds how long a changed document is ignored.
pub const CACHE_FLOOR: u64 = 60;
/// See [`CACHE_FLOOR`].
pub const CACHE_CEILING: u64 = 86_400;

/// Why a metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client metadata document refused: {0}")]
pub struct CimdError(pub String);

fn refuse<T>(m: impl Into<String>) -> Result<T, CimdError> {
    Err(CimdError(m.into()))
}

/// Whether `client_id` is meant as a metadata document URL (so it is never looked up
/// as a registered client id).
pub fn looks_like_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// A client id usable as a document URL: https with a host and a path, no credentials,
/// fragment or dot segments; `http` only on 127.0.0.1/[::1] when `allow_loopback` (test
/// mode).
pub fn parse_url(client_id: &str, allow_loopback: bool) -> Result<url::Url, CimdError> {
    let Ok(url) = url::Url::parse(client_id) else {
        return refuse("the client_id is not a URL");
    };
    if url.as_str() != client_id {
        return refuse("the client_id URL is not in normalized form");
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return refuse("the client_id URL must not carry a fragment or credentials");
    }
    if url.path() == "/" || client_id.contains("/./") || client_id.contains("/../") {
        return refuse("the client_id URL needs a path without dot segments");
    }
    let loopback_host = matches!(url.host_str(), Some("127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback && loopback_host => Ok(url),
        "http" if loopback_host => refuse("loopback client_id URLs are accepted only in test mode"),
        _ => refuse("the client_id URL must use https"),
    }
}

/// Whether the server may connect to `ip` to fetch a document (after DNS resolution,
/// so a public name pointing at an internal address is refused too).
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> Result<(), CimdError> {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_loopback() {
        return if allow_loopback {
            Ok(())
        } else {
            refuse(format!("{ip} is a loopback address"))
        };
    }
    let internal = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 to anywhere
        }
    };
    if internal {
        return refuse(format!("{ip} is a private, link-local or reserved address"));
    }
    Ok(())
}

/// Parse a fetched document for `url`: its `client_id` must equal the URL, its redirect
/// URIs follow the registration rules, it is a public client (`none`), and its scopes
/// are within `policy_scope`. Returns the display name and the client's registration.
pub fn parse_document(
    url: &str,
    body: &[u8],
    policy_scope: &Scope,
) -> Result<(String, ClientSpec), CimdError> {
    if body.len() > MAX_DOCUMENT {
        return refuse("the document is larger than 5 KiB");
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| CimdError("the document is not JSON".into()))?;
    if v.get("client_id").and_then(|c| c.as_str()) != Some(url) {
        return refuse("the document's client_id does not equal its URL");
    }
    let m: ClientMetadata = serde_json::from_value(v)
        .map_err(|e| CimdError(format!("the document's metadata is malformed: {e}")))?;
    if m.token_endpoint_auth_method.as_deref().unwrap_or("none") != "none" {
        return refuse("only public clients (token_endpoint_auth_method none) are supported");
    }
    let m = ClientMetadata {
        token_endpoint_auth_method: Some("none".into()),
        ..m
    };
    let (name, spec) = registration::validate(&m, policy_scope).map_err(|e| match e {
        RegistrationError::InvalidRedirectUri(d) | RegistrationError::InvalidMetadata(d) => {
            CimdError(d)
        }
    })?;
    debug_assert_eq!(spec.auth_method, AuthMethod::None);
    Ok((name, spec))
}

/// Cache lifetime from a `Cache-Control` header, clamped to the floor and ceiling
/// (`no-store`/`no-cache` get the floor: the document is still needed for the flow).
pub fn cache_ttl(cache_control: Option<&str>) -> u64 {
    let max_age = cache_control.and_then(|h| {
        h.split(',').find_map(|d| {
            d.trim()
                .strip_prefix("max-age=")
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
    });
    max_age
        .unwrap_or(CACHE_FLOOR)
        .clamp(CACHE_FLOOR, CACHE_CEILING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_with_a_path_qualify_and_loopback_http_only_in_test_mode() {
        assert!(parse_url("https://app.example/client.json", false).is_ok());
        assert!(parse_url("https://app.example/", false).is_err());
        assert!(parse_url("http://app.example/c.json", true).is_err());
        assert!(parse_url("http://127.0.0.1:8080/c.json", false).is_err());
        assert!(parse_url("http://127.0.0.1:8080/c.json", true).is_ok());
        assert!(parse_url("https://u:p@app.example/c.json", false).is_err());
        assert!(parse_url("https://app.example/c.json#x", false).is_err());
    }

    #[test]
    fn internal_addresses_are_refused_after_resolution() {
        for ip in [
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::ffff:10.0.0.1",
            "fd00::1",
            "fe80::1",
            "::",
        ] {
            assert!(address_allowed(ip.parse().unwrap(), false).is_err(), "{ip}");
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), false).is_err());
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true).is_ok());
        assert!(address_allowed("93.184.216.34".parse().unwrap(), false).is_ok());
        assert!(address_allowed("2606:2800:220:1::1".parse().unwrap(), false).is_ok());
    }

    #[test]
    fn the_document_must_name_itself_and_stay_within_policy() {
        let url = "https://app.example/c.json";
        let mcp = Scope::parse("mcp").unwrap();
        let doc = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
        let ok = doc(
            serde_json::json!({"client_id": url, "client_name": "App", "redirect_uris": ["http://127.0.0.1:3000/cb"]}),
        );
        let (name, spec) = parse_document(url, &ok, &mcp).unwrap();
        assert_eq!((name.as_str(), spec.auth_method), ("App", AuthMethod::None));
        let other = doc(
            serde_json::json!({"client_id": "https://evil.example/c.json", "redirect_uris": ["https://a.example/cb"]}),
        );
        assert!(
            parse_document(url, &other, &mcp)
                .unwrap_err()
                .0
                .contains("does not equal")
        );
        let secret = doc(
            serde_json::json!({"client_id": url, "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
        );
        assert!(parse_document(url, &secret, &mcp).is_err());
        assert!(
            parse_document(url, &vec![b' '; 6000], &mcp)
                .unwrap_err()
                .0
                .contains("5 KiB")
        );
    }

    #[test]
    fn cache_lifetimes_are_clamped() {
        assert_eq!(cache_ttl(None), CACHE_FLOOR);
        assert_eq!(cache_ttl(Some("public, max-age=5")), CACHE_FLOOR);
        assert_eq!(cache_ttl(Some("max-age=3600")), 3600);
        assert_eq!(cache_ttl(Some("max-age=99999999")), CACHE_CEILING);
    }
}

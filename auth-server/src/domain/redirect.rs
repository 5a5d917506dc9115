//! Registered redirect URIs and the matching rule of RFC 9700 §4.1.3 / OAuth 2.1 §4.1.1:
//! simple string comparison (RFC 3986 §6.2.1), with the single exception of the port of
//! a loopback redirect URI for native apps (RFC 8252 §7.3).
//!
//! oxide-auth's `IgnoreLocalPortUrl` only ignores the port for the host name `localhost`
//! and compares `127.0.0.1`/`[::1]` with their port, the opposite of RFC 8252 §7.3, which
//! is why the loopback rule is written here.

use super::ValidationError;
use serde::{Deserialize, Serialize};

/// A redirect URI accepted at registration. The original string is kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

impl RedirectUri {
    /// Validate a URI for registration: absolute, no fragment, no wildcard, no userinfo,
    /// `https`, or `http` only on a loopback host, or a private-use scheme of a native
    /// app (reverse domain name, RFC 8252 §7.1).
    pub fn parse(value: &str, field: &str) -> Result<RedirectUri, ValidationError> {
        let err = |m: &str| Err(ValidationError::new(field, format!("{value:?}: {m}")));
        if value.len() > 2000 {
            return err("longer than 2000 characters");
        }
        if value.contains('*') {
            return err("wildcards are not allowed");
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return err("control or space characters are not allowed");
        }
        let Ok(url) = url::Url::parse(value) else {
            return err("not an absolute URI");
        };
        if url.fragment().is_some() || value.contains('#') {
            return err("must not contain a fragment");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return err("must not contain user information");
        }
        match url.scheme() {
            "https" if url.host_str().is_some() => Ok(RedirectUri(value.to_owned())),
            "http" if url.host_str().is_some_and(|h| LOOPBACK_HOSTS.contains(&h)) => {
                Ok(RedirectUri(value.to_owned()))
            }
            "http" => err("http is only allowed for loopback redirect URIs; use https"),
            scheme
                if scheme.contains('.') && !url.cannot_be_a_base()
                    || scheme.contains('.') && value.contains(":/") =>
            {
                Ok(RedirectUri(value.to_owned()))
            }
            _ => err(
                "scheme not allowed (https, loopback http or a reverse-domain private-use scheme)",
            ),
        }
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the URI a client sent matches this registered URI: byte-identical, or for
    /// a loopback `http` URI identical except for the port.
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match (
            loopback_without_port(&self.0),
            loopback_without_port(requested),
        ) {
            (Some(registered), Some(asked)) => registered == asked,
            _ => false,
        }
    }
}

/// For `http://{loopback}[:port]/rest`, the string with the port removed; `None` otherwise.
/// Works on the raw string so that no normalisation sneaks in.
fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(host_end);
    let host = LOOPBACK_HOSTS
        .iter()
        .find(|h| authority == **h || authority.strip_prefix(**h).is_some_and(is_port))?;
    Some(format!("http://{host}{path}"))
}

/// `:port` with a port a URL can carry (1-65535 digits only; `:99999` is no port, and
/// a redirect to it would be an unparsable URL).
fn is_port(s: &str) -> bool {
    s.strip_prefix(':').is_some_and(|p| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(s: &str) -> RedirectUri {
        RedirectUri::parse(s, "redirect_uris").unwrap()
    }

    #[test]
    fn registration_refuses_the_r3_variants() {
        for bad in [
            "https://x/cb#frag",
            "https://*.x/cb",
            "http://x/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/relative",
            "https://user:pw@x/cb",
            "https://x/c b",
        ] {
            assert!(RedirectUri::parse(bad, "redirect_uris").is_err(), "{bad}");
        }
        for good in [
            "https://c1.example/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/cb",
        ] {
            assert!(RedirectUri::parse(good, "redirect_uris").is_ok(), "{good}");
        }
    }

    #[test]
    fn only_byte_identical_uris_match() {
        let r = reg("https://c1.example/cb");
        assert!(r.matches("https://c1.example/cb"));
        for v in [
            "https://c1.example/cb/",
            "https://c1.example/cb?x=1",
            "https://c1.example/cb#f",
            "https://c1.example/CB",
            "https://C1.example/cb",
            "https://c1.example:443/cb",
            "https://c1.example/x/../cb",
            "https://c1.example/cb%2F",
            "https://c1.example/cbx",
            "https://c1.example.evil.com/cb",
            "https://c1.example@evil.com/cb",
            "https://evil.com\\@c1.example/cb",
            "https://evil.com#@c1.example/cb",
            "http://c1.example/cb",
            "https%253A%252F%252Fc1.example%252Fcb",
        ] {
            assert!(!r.matches(v), "{v}");
        }
    }

    #[test]
    fn loopback_ports_are_ignored_and_nothing_else() {
        let r = reg("http://127.0.0.1/cb");
        assert!(r.matches("http://127.0.0.1:53127/cb"));
        assert!(!r.matches("http://127.0.0.1:53127/cb2"));
        assert!(!r.matches("http://127.0.0.1.evil.com:5/cb"));
        assert!(!r.matches("http://127.0.0.1:5@evil.com/cb"));
        assert!(!r.matches("http://localhost:5/cb"));
        // Only ports a URL can carry.
        assert!(r.matches("http://127.0.0.1:65535/cb"));
        for bad in ["99999", "65536", "", "5x", "+5"] {
            assert!(!r.matches(&format!("http://127.0.0.1:{bad}/cb")), "{bad}");
        }
    }
}

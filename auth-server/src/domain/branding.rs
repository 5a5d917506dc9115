//! Per-subscription look of the login pages (display name, logo, primary colour) and
//! the page languages. Every value is parsed here, at the admin API edge, so that the
//! pages only ever render values that cannot break out of their HTML or CSS context
//! (maud escapes text; the colour and logo grammars below leave nothing to escape).

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Largest accepted logo data URI, in bytes: keeps every login page small.
pub const MAX_LOGO_DATA_URI: usize = 64 * 1024;

/// Largest accepted logo https URL, in bytes.
pub const MAX_LOGO_URL: usize = 2048;

/// Branding shown on the login, consent, 2FA and account pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Name shown in the page header (falls back to the subscription name); 1–100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `https://` URL or `data:image/png|jpeg|svg+xml;base64,…` URI (at most 64 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// Primary colour, `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
}

/// Why a branding value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrandingError(pub &'static str);

/// A display name: trimmed, 1–100 characters, no control characters.
pub fn parse_display_name(s: &str) -> Result<String, BrandingError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(BrandingError(
            "must be 1 to 100 characters without control characters",
        ));
    }
    Ok(t.to_owned())
}

/// A CSS colour limited to `#rgb` / `#rrggbb`: it goes into a CSS custom property, so
/// nothing but hex digits may follow the `#` (no `;`, `}` or `<` to end the rule).
pub fn parse_color(s: &str) -> Result<String, BrandingError> {
    let hex = s.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(BrandingError("must be #rgb or #rrggbb"))
    }
}

/// Image types a data-URI logo may have (never HTML, never script-capable types
/// other than SVG, which browsers run without scripts when loaded through `<img>`).
const LOGO_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/svg+xml"];

/// A logo: an `https` URL without credentials or fragment, or a base64 data URI of a
/// PNG, JPEG or SVG image under [`MAX_LOGO_DATA_URI`].
pub fn parse_logo(s: &str) -> Result<String, BrandingError> {
    if let Some(rest) = s.strip_prefix("data:") {
        if s.len() > MAX_LOGO_DATA_URI {
            return Err(BrandingError("data URI must be at most 64 KiB"));
        }
        let (kind, data) = rest.split_once(";base64,").ok_or(BrandingError(
            "data URI must be base64 (data:image/…;base64,…)",
        ))?;
        if !LOGO_TYPES.contains(&kind) {
            return Err(BrandingError(
                "data URI must be image/png, image/jpeg or image/svg+xml",
            ));
        }
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| BrandingError("data URI payload must be valid base64"))?;
        return Ok(s.to_owned());
    }
    if s.len() > MAX_LOGO_URL {
        return Err(BrandingError("URL must be at most 2048 bytes"));
    }
    let u = url::Url::parse(s).map_err(|_| BrandingError("must be an https URL or a data URI"))?;
    if u.scheme() != "https"
        || u.host_str().is_none()
        || !u.username().is_empty()
        || u.password().is_some()
        || u.fragment().is_some()
        // The URL is also a CSP source expression: `;` `,` `'` would end or extend it.
        || s.contains([';', ',', '\'', '"'])
    {
        return Err(BrandingError(
            "must be an https URL without credentials or fragment, or an image data URI",
        ));
    }
    // The serialised form is what the CSP names, so the page and the policy agree.
    Ok(u.to_string())
}

/// The CSP `img-src` source expression that admits exactly this logo: the data
/// scheme for a data URI, else the URL without its query (CSP matches paths exactly
/// and ignores queries).
pub fn logo_source(logo: &str) -> String {
    if logo.starts_with("data:") {
        return "data:".into();
    }
    match url::Url::parse(logo) {
        Ok(mut u) => {
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "'none'".into(),
    }
}

/// The languages the page catalogue has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (default).
    En,
    /// German.
    De,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// BCP 47 primary tag (`<html lang>`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language of a BCP 47 tag (`de`, `de-CH`, `EN-gb`), matched on its primary subtag.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }
}

/// Pick the page language: the first supported tag of `ui_locales` (OIDC Core
/// §3.1.2.1, space-separated, in order of preference), else the best supported
/// `Accept-Language` range (RFC 9110 §12.5.4, by `q`), else the subscription default,
/// else English.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>, default: &str) -> Lang {
    if let Some(l) = ui_locales.and_then(|u| u.split_whitespace().find_map(Lang::from_tag)) {
        return l;
    }
    if let Some(l) = accept_language.and_then(from_accept_language) {
        return l;
    }
    Lang::from_tag(default).unwrap_or(Lang::En)
}

fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(u32, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        // q in thousandths; a malformed q counts as 1 like a missing one.
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|v| v.trim().parse::<f32>().ok())
            .map_or(1000, |v| (v.clamp(0.0, 1.0) * 1000.0) as u32);
        if q == 0 {
            continue;
        }
        if let Some(l) = Lang::from_tag(tag)
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, l));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hex_only() {
        assert_eq!(parse_color("#ABC").unwrap(), "#abc");
        assert!(parse_color("#a1b2c3").is_ok());
        for bad in [
            "red",
            "#abcd",
            "red;}body{display:none",
            "#abc;}",
            "</style><script>",
            "",
        ] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_are_https_or_image_data_uris() {
        assert!(parse_logo("https://cdn.example/logo.png").is_ok());
        assert!(parse_logo("data:image/png;base64,iVBORw0KGgo=").is_ok());
        for bad in [
            "javascript:alert(1)",
            "http://cdn.example/logo.png",
            "data:text/html;base64,PHNjcmlwdD4=",
            "data:image/png,<svg>",
            "https://u:p@cdn.example/x.png",
            "/logo.png",
            "https://cdn.example/a;script-src *",
        ] {
            assert!(parse_logo(bad).is_err(), "{bad}");
        }
        let big = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_DATA_URI));
        assert!(parse_logo(&big).is_err());
    }

    #[test]
    fn ui_locales_beats_accept_language_beats_default() {
        assert_eq!(negotiate(Some("fr de"), Some("en"), "en"), Lang::De);
        assert_eq!(
            negotiate(Some("xx"), Some("en;q=0.5, de-DE"), "en"),
            Lang::De
        );
        assert_eq!(negotiate(None, Some("de;q=0.4, en;q=0.9"), "de"), Lang::En);
        assert_eq!(negotiate(None, Some("fr"), "de"), Lang::De);
        assert_eq!(negotiate(Some("tlh"), None, "xx"), Lang::En);
    }
}

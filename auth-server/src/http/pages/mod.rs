//! Server-rendered HTML (maud escapes every value): login, consent, error pages.
//! Plain forms that work without JavaScript, per the HTML contract in DESIGN.md.

pub mod account;
pub mod account_consents;
pub mod consent;
pub mod i18n;
pub mod login;
pub mod second_factor;
pub mod sso;

use crate::domain::Subscription;
use crate::domain::branding::{Branding, Lang, logo_source, negotiate};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use maud::{DOCTYPE, Markup, html};

/// Shared page style: the primary colour comes from the `--primary` custom property
/// that a branded page sets from its validated `#rgb`/`#rrggbb` value.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}header.brand{display:flex;align-items:center;gap:.6rem;margin-bottom:1rem}header.brand img{max-height:3rem;max-width:10rem}h1{border-bottom:3px solid var(--primary,#1a56db)}label{display:block;margin:.6rem 0}input{width:100%;padding:.4rem}button{margin:.6rem .4rem 0 0;padding:.4rem 1rem;border:2px solid var(--primary,#1a56db);background:var(--primary,#1a56db);color:#fff}button[value=cancel],button[value=deny]{background:#fff;color:#000}a{color:var(--primary,#1a56db)}[role=alert]{color:#a00;border:1px solid #a00;padding:.5rem}";

/// Who a page speaks for and in which language: the subscription's branding and the
/// negotiated catalogue.
pub struct Chrome<'a> {
    /// Page language (`<html lang>`).
    pub lang: Lang,
    /// Its catalogue.
    pub t: &'static i18n::Text,
    /// Header name: the branding display name, else the subscription name.
    pub name: Option<&'a str>,
    /// Branding, `None` on unbranded pages.
    pub branding: Option<&'a Branding>,
}

impl<'a> Chrome<'a> {
    /// English, no branding (server-wide pages).
    pub fn plain() -> Self {
        Chrome {
            lang: Lang::En,
            t: i18n::text(Lang::En),
            name: None,
            branding: None,
        }
    }

    /// The chrome of `sub`'s pages: language from `ui_locales` (the authorization
    /// request's, when there is one), else `Accept-Language`, else the subscription default.
    pub fn of(req: &HttpRequest, sub: &'a Subscription, ui_locales: Option<&str>) -> Self {
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let lang = negotiate(ui_locales, accept, &sub.settings.default_language);
        let b = &sub.settings.branding;
        Chrome {
            lang,
            t: i18n::text(lang),
            name: Some(b.display_name.as_deref().unwrap_or(&sub.name)),
            branding: Some(b),
        }
    }

    /// The CSP `img-src` value admitting exactly the images shown: the logo's source
    /// (also the page icon) or, without a logo, `data:` for the empty `data:,` icon that
    /// keeps browsers from fetching `/favicon.ico`; plus `data:` when `qr` (an enrolment
    /// page shows its QR code as a data URI).
    pub fn img_src(&self, qr: bool) -> String {
        let mut sources = vec![self.logo().map_or_else(|| "data:".to_owned(), logo_source)];
        if qr && !sources.iter().any(|s| s == "data:") {
            sources.push("data:".into());
        }
        sources.join(" ")
    }

    fn logo(&self) -> Option<&'a str> {
        self.branding.and_then(|b| b.logo.as_deref())
    }

    /// A message worded outside the pages (a service's refusal) in this page's language.
    pub fn say<'m>(&self, english: &'m str) -> &'m str {
        i18n::say(self.lang, english)
    }
}

/// Wrap page content in the shared layout, English and unbranded.
pub fn layout(title: &str, body: Markup) -> Markup {
    branded(&Chrome::plain(), title, body)
}

/// Wrap page content in the shared layout with `chrome`'s language and branding.
pub fn branded(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    let color = chrome.branding.and_then(|b| b.primary_color.as_deref());
    let logo = chrome.logo();
    html! {
        (DOCTYPE)
        html lang=(chrome.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                // The icon is the logo, or empty: either way the CSP admits it (img_src).
                link rel="icon" href=(logo.unwrap_or("data:,"));
                style { (STYLE) }
                // Only a parsed `#rgb`/`#rrggbb` reaches this rule (domain::branding).
                @if let Some(c) = color { style { ":root{--primary:" (c) "}" } }
            }
            body {
                @if let Some(name) = chrome.name {
                    header class="brand" {
                        // Decorative: the name beside it says the same to a screen reader.
                        @if let Some(l) = logo { img class="brand-logo" src=(l) alt=""; }
                        span class="brand-name" { (name) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An HTML page response.
pub fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// An HTML page whose forms end in a redirect to the client's `redirect_uri`: browsers
/// apply CSP `form-action` to every redirect after a form post, so the policy names that
/// origin besides `'self'` (else Chrome blocks the final redirect and the user is stuck).
pub fn page_to(
    status: StatusCode,
    chrome: &Chrome<'_>,
    markup: Markup,
    redirect_uri: &str,
    qr: bool,
) -> HttpResponse {
    let origin = url::Url::parse(redirect_uri)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization())
        .unwrap_or_default();
    with_csp(page(status, markup), chrome, &origin, qr)
}

/// A branded page without a client redirect (account pages).
pub fn page_with(
    status: StatusCode,
    chrome: &Chrome<'_>,
    markup: Markup,
    qr: bool,
) -> HttpResponse {
    with_csp(page(status, markup), chrome, "", qr)
}

fn with_csp(
    mut resp: HttpResponse,
    chrome: &Chrome<'_>,
    form_origin: &str,
    qr: bool,
) -> HttpResponse {
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src {}; form-action 'self' {form_origin}; frame-ancestors 'none'; base-uri 'none'",
        chrome.img_src(qr)
    );
    if let Ok(v) = header::HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// An error shown as a page (never a redirect: used before the client and redirect URI
/// are validated, and for expired or forged forms).
#[derive(Debug)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// What the user is told.
    pub message: String,
}

impl PageError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 403 (CSRF or origin failures).
    pub fn forbidden() -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            message: "This form is no longer valid. Go back to the application and start again."
                .into(),
        }
    }

    /// Map a flow failure to a page.
    pub fn from_flow(e: crate::service::FlowError) -> Self {
        use crate::service::FlowError;
        match e {
            FlowError::Unavailable => PageError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "The service is temporarily unavailable. Try again shortly.".into(),
            },
            FlowError::Internal(e) => {
                tracing::error!(error.cause_chain = ?e, "internal error on a page");
                PageError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Something went wrong.".into(),
                }
            }
            other => PageError::bad_request(other.to_string()),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render(Lang::En)
    }
}

impl PageError {
    /// The error page in `lang` (unbranded: it also answers for unknown tenants).
    pub fn render(&self, lang: Lang) -> HttpResponse {
        let t = i18n::text(lang);
        let chrome = Chrome {
            lang,
            t,
            ..Chrome::plain()
        };
        page(
            self.status,
            branded(
                &chrome,
                t.error,
                html! { h1 { (t.sign_in_error) } p role="alert" { (i18n::say(lang, &self.message)) } },
            ),
        )
    }
}

/// A [`PageError`] response in the request's language — `ui_locales` of the query (the
/// authorization request's own), else `Accept-Language` — or `None` when the response
/// is no such error or English is wanted (it already is). The error is raised where no
/// request is at hand, so the edge middleware renders its page here instead. Limit: the
/// subscription's `default_language` is not consulted (the error may be that there is
/// no such subscription).
pub fn localized<B>(res: &actix_web::dev::ServiceResponse<B>) -> Option<HttpResponse> {
    let e = res.response().error()?.as_error::<PageError>()?;
    let r = res.request();
    let ui = url::form_urlencoded::parse(r.query_string().as_bytes())
        .find(|(k, _)| k == "ui_locales")
        .map(|(_, v)| v.into_owned());
    let accept = r
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = negotiate(ui.as_deref(), accept, "en");
    (lang != Lang::En).then(|| e.render(lang))
}

/// A 303 See Other (RFC 9700 §4.12: never 307/308 after a credential POST).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Refuse a state-changing form from another origin: `Origin`, when the browser sends
/// it, must be this server's public origin. Under our `Referrer-Policy: no-referrer`
/// browsers send `Origin: null` even on same-origin posts; such a post is accepted only
/// when `Sec-Fetch-Site: same-origin` says so (a Fetch Metadata header no page can set),
/// so a sandboxed frame or a cross-site form, which also send `null`, stays refused.
pub fn check_origin(req: &HttpRequest, public_url: &url::Url) -> Result<(), PageError> {
    let value = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    match value(header::ORIGIN) {
        None => Ok(()),
        Some(o) if o == public_url.origin().ascii_serialization() => Ok(()),
        Some("null") if value(SEC_FETCH_SITE) == Some("same-origin") => Ok(()),
        Some(_) => Err(PageError::forbidden()),
    }
}

/// The Fetch Metadata request header naming the initiator's relation to the target.
const SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");

/// Name of a tenant's session cookie: `__Host-` prefixed when served over https.
pub fn session_cookie_name(public_url: &url::Url, slug: &str) -> String {
    if public_url.scheme() == "https" {
        format!("__Host-sid-{slug}")
    } else {
        format!("sid-{slug}")
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure over https, path `/`.
pub fn session_cookie(
    public_url: &url::Url,
    slug: &str,
    value: String,
    max_age: i64,
) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(session_cookie_name(public_url, slug), value)
        .path("/")
        .http_only(true)
        .secure(public_url.scheme() == "https")
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// Name of the cookie that binds login and consent forms to the browser that started the
/// authorization request.
pub fn browser_cookie_name(slug: &str) -> String {
    format!("txb-{slug}")
}

/// The browser-binding value of this request: the existing cookie, or a new one to set.
pub fn browser_binding(
    req: &HttpRequest,
    public_url: &url::Url,
    slug: &str,
) -> (String, Option<actix_web::cookie::Cookie<'static>>) {
    if let Some(c) = req.cookie(&browser_cookie_name(slug))
        && c.value().len() >= 32
    {
        return (c.value().to_owned(), None);
    }
    let value = crate::service::random::token(32);
    let cookie = actix_web::cookie::Cookie::build(browser_cookie_name(slug), value.clone())
        .path(format!("/t/{slug}/"))
        .http_only(true)
        .secure(public_url.scheme() == "https")
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    (value, Some(cookie))
}

/// The browser behind a sign-in (IP address and user agent), recorded with the session.
pub fn device(req: &HttpRequest) -> crate::service::login::Device {
    let (_, ip) = crate::http::extract::meta(req);
    let agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    crate::service::login::Device::new(ip, agent)
}

/// Whether the posting browser is the one that started this transaction.
pub fn same_browser(req: &HttpRequest, slug: &str, expected_hash: &str) -> bool {
    req.cookie(&browser_cookie_name(slug))
        .is_some_and(|c| crate::tokens::secret_matches(c.value(), expected_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_an_https_session_cookie_is_host_prefixed_secure_and_host_only() {
        let https = url::Url::parse("https://as.example").unwrap();
        let c = session_cookie(&https, "acme", "v".into(), 60);
        assert_eq!(c.name(), "__Host-sid-acme");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.domain(), None);
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(actix_web::cookie::SameSite::Lax));
        let http = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            session_cookie(&http, "acme", "v".into(), 60).name(),
            "sid-acme"
        );
    }
}

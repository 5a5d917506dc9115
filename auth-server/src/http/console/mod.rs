//! The admin console at `/admin`: server-rendered HTML (maud escapes every value) that
//! works without JavaScript; one small embedded script adds copy buttons. Admins sign in
//! through this server's own authorization code + PKCE flow at the `system` issuer or a
//! tenant's issuer, and every read or change goes through the public admin API with the
//! admin's own token (see `docs/console.md` for why over HTTP).
//!
//! Security: the token lives in a server-side session (cookie `HttpOnly`,
//! `SameSite=Strict`); every form carries the session's CSRF token and is refused from a
//! foreign `Origin`; secrets shown once are rendered on the POST response only (never
//! in a URL, never stored), with `Cache-Control: no-store` from the middleware.

pub mod api;
mod assets;
mod audit;
mod clients;
mod connections;
mod directory;
mod explain;
mod session;
mod sessions;
mod signin;
mod subscriptions;
mod users;
mod workspaces;

pub use api::Api;

use crate::service::Ctx;
use crate::tokens::constant_time_eq;
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;
use session::Session;
use std::future::Future;
use std::pin::Pin;

/// The console's content security policy: only its own script and style, nothing
/// inline, so an injected `<script>` in a tenant-controlled name could not run even if
/// escaping failed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a console request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No (or an expired) session: go to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// A form without the session's CSRF token or from another origin.
    #[error("This form is no longer valid. Reload the page and try again.")]
    Forbidden,
    /// The admin API refused (status and its message).
    #[error("{1}")]
    Api(StatusCode, String),
    /// A bad sign-in callback.
    #[error("{0}")]
    BadRequest(String),
    /// The ephemeral store or the API is unreachable.
    #[error("The service is temporarily unavailable. Try again shortly.")]
    Unavailable,
    /// A bug; logged, never shown.
    #[error("Something went wrong.")]
    Internal(String),
}

impl From<crate::cache::CacheError> for ConsoleError {
    fn from(_: crate::cache::CacheError) -> Self {
        ConsoleError::Unavailable
    }
}

impl From<api::Unreachable> for ConsoleError {
    fn from(_: api::Unreachable) -> Self {
        ConsoleError::Unavailable
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::Api(s, _) => *s,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin"))
                .finish();
        }
        if let ConsoleError::Internal(e) = self {
            tracing::error!(error.cause_chain = %e, "console: internal error");
        }
        render(
            self.status_code(),
            layout(
                "Error",
                None,
                None,
                html! { h1 { "Error" } p role="alert" { (self.to_string()) } p { a href="/admin" { "Back to the console" } } },
            ),
        )
    }
}

/// An HTML response with the console's CSP.
pub fn render(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(markup.into_string())
}

/// 303 to `location` (post/redirect/get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Where in the console a page is, for the navigation.
pub struct Nav<'a> {
    /// The subscription shown, if any.
    pub slug: Option<&'a str>,
    /// The active section.
    pub section: &'a str,
    /// The session's CSRF token for the sign-out form.
    pub csrf: &'a str,
}

const SECTIONS: [(&str, &str); 8] = [
    ("clients", "Clients"),
    ("users", "Users"),
    ("connections", "Connections"),
    ("workspaces", "Workspaces"),
    ("explain", "ACL explain"),
    ("keys", "Keys"),
    ("audit", "Audit log"),
    ("settings", "Settings"),
];

/// The console's page frame: skip link, navigation, `main`.
pub fn layout(title: &str, nav: Option<&Nav>, banner: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · auth-server console" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/admin/assets/console.css";
                script src="/admin/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    nav aria-label="Console" {
                        a class="brand" href="/admin/subscriptions" { "auth-server console" }
                        @if let Some(n) = nav {
                            ul {
                                li { a href="/admin/subscriptions" aria-current=[(n.slug.is_none()).then_some("page")] { "Subscriptions" } }
                                @if let Some(slug) = n.slug {
                                    @for (key, label) in SECTIONS {
                                        li { a href={ "/admin/s/" (seg(slug)) "/" (key) } aria-current=[(n.section == key).then_some("page")] { (label) } }
                                    }
                                }
                            }
                            form method="post" action="/admin/logout" class="signout" {
                                input type="hidden" name="csrf" value=(n.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" {
                    @if let Some(b) = banner { p class="notice" role="status" { (b) } }
                    (body)
                }
            }
        }
    }
}

/// A URL path segment, percent-encoded (RFC 3986 unreserved characters pass).
pub fn seg(s: &str) -> String {
    // URL parsers resolve `.` and `..` (even percent-encoded) as path steps: never
    // let a name climb to another API path.
    if s.is_empty() || s == "." || s == ".." {
        return "%00".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A parsed form body; repeated names (checkbox groups) keep every value.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `k`, trimmed ("" when absent).
    pub fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every value of `k`.
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The lines of a textarea, trimmed, without blanks.
    pub fn lines(&self, k: &str) -> Vec<String> {
        self.get(k)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The signed-in admin of a console request, with a live access token.
pub struct Admin {
    ctx: web::Data<Ctx>,
    api: web::Data<Api>,
    sid: String,
    /// The session.
    pub session: Session,
}

impl FromRequest for Admin {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = req
                .app_data::<web::Data<Ctx>>()
                .cloned()
                .ok_or(ConsoleError::Unavailable)?;
            let api = req
                .app_data::<web::Data<Api>>()
                .cloned()
                .ok_or(ConsoleError::Unavailable)?;
            let (sid, mut s) = session::current(&ctx, &req)
                .await?
                .ok_or(ConsoleError::SignIn)?;
            if s.access_expires_at <= ctx.now() + 15 {
                signin::refresh(&ctx, &api, &mut s).await?;
                session::save(&ctx, Some(&sid), &s).await?;
            }
            Ok(Admin {
                ctx,
                api,
                sid,
                session: s,
            })
        })
    }
}

impl Admin {
    /// The navigation for a page of this admin.
    pub fn nav<'a>(&'a self, slug: Option<&'a str>, section: &'a str) -> Nav<'a> {
        Nav {
            slug,
            section,
            csrf: &self.session.csrf,
        }
    }

    /// Call the admin API; a 401 ends the session (sign in again).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<api::Answer, ConsoleError> {
        let a = self
            .api
            .call(&self.session.access_token, method, path, body)
            .await?;
        if a.status == StatusCode::UNAUTHORIZED {
            session::end(&self.ctx, &self.sid).await?;
            return Err(ConsoleError::SignIn);
        }
        Ok(a)
    }

    /// GET that must succeed; other answers become an error page.
    pub async fn get(&self, path: &str) -> Result<Value, ConsoleError> {
        let a = self.call(reqwest::Method::GET, path, None).await?;
        if !a.status.is_success() {
            return Err(ConsoleError::Api(a.status, a.message()));
        }
        Ok(a.body)
    }

    /// Check a form: same origin and the session's CSRF token; parse it.
    pub fn form(&self, req: &HttpRequest, body: &web::Bytes) -> Result<Form, ConsoleError> {
        crate::http::pages::check_origin(req, &self.ctx.settings.public_url)
            .map_err(|_| ConsoleError::Forbidden)?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| ConsoleError::Forbidden)?;
        let f = Form(pairs);
        if !constant_time_eq(f.get("csrf").as_bytes(), self.session.csrf.as_bytes()) {
            return Err(ConsoleError::Forbidden);
        }
        Ok(f)
    }
}

/// The `items` of a list answer.
pub fn items(v: &Value) -> &[Value] {
    v.get("items")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A string member ("" when absent).
pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The link to the audit history of one target.
pub fn history(slug: &str, target_type: &str, id: &str, label: &str) -> Markup {
    html! {
        p { a href={ "/admin/s/" (seg(slug)) "/audit?target_type=" (target_type) "&target_id=" (seg(id)) } { (label) } }
    }
}

/// A secret shown exactly once, with a copy button.
pub fn once(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div class="secret" {
            span id={ (id) "-label" } { (label) }
            code id=(id) aria-labelledby={ (id) "-label" } { (value) }
            button type="button" class="copy" data-copy=(id) hidden { "Copy" }
        }
    }
}

/// Register the console routes (after `/admin/v1`, which they never shadow).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(signin::get_home))
        .route("/admin/", web::get().to(signin::get_home))
        .route("/admin/login", web::get().to(signin::get_login))
        .route("/admin/callback", web::get().to(signin::get_callback))
        .route("/admin/logout", web::post().to(signin::post_logout))
        .route("/admin/assets/console.css", web::get().to(assets::css))
        .route("/admin/assets/console.js", web::get().to(assets::js))
        .route("/admin/subscriptions", web::get().to(subscriptions::list))
        .route(
            "/admin/subscriptions",
            web::post().to(subscriptions::create),
        )
        .route("/admin/s/{slug}", web::get().to(subscriptions::home))
        .route(
            "/admin/s/{slug}/settings",
            web::get().to(subscriptions::settings),
        )
        .route(
            "/admin/s/{slug}/settings",
            web::post().to(subscriptions::save_settings),
        )
        .route("/admin/s/{slug}/clients", web::get().to(clients::list))
        .route("/admin/s/{slug}/clients", web::post().to(clients::create))
        .route("/admin/s/{slug}/clients/{id}", web::get().to(clients::edit))
        .route(
            "/admin/s/{slug}/clients/{id}",
            web::post().to(clients::save),
        )
        .route(
            "/admin/s/{slug}/clients/{id}/rotate",
            web::post().to(clients::rotate),
        )
        .route("/admin/s/{slug}/users", web::get().to(users::list))
        .route("/admin/s/{slug}/users", web::post().to(users::create))
        .route(
            "/admin/s/{slug}/users/{id}/state",
            web::post().to(users::set_state),
        )
        .route(
            "/admin/s/{slug}/users/{id}/password",
            web::post().to(users::reset_password),
        )
        .route(
            "/admin/s/{slug}/users/{id}/mfa",
            web::post().to(users::reset_mfa),
        )
        // User sessions (issue 11).
        .route(
            "/admin/s/{slug}/users/{id}/sessions",
            web::get().to(sessions::list_sessions),
        )
        .route(
            "/admin/s/{slug}/users/{id}/sessions/end-all",
            web::post().to(sessions::end_all),
        )
        .route(
            "/admin/s/{slug}/users/{id}/sessions/{sid}/end",
            web::post().to(sessions::end),
        )
        .route("/admin/s/{slug}/audit", web::get().to(audit::list))
        .route("/admin/s/{slug}/keys", web::get().to(directory::keys))
        .route(
            "/admin/s/{slug}/keys",
            web::post().to(directory::rotate_keys),
        )
        .route(
            "/admin/s/{slug}/connections",
            web::get().to(connections::list),
        )
        .route(
            "/admin/s/{slug}/connections",
            web::post().to(connections::create),
        )
        .route(
            "/admin/s/{slug}/connections/{id}",
            web::get().to(connections::edit),
        )
        .route(
            "/admin/s/{slug}/connections/{id}",
            web::post().to(connections::save),
        )
        .route(
            "/admin/s/{slug}/connections/{id}/test",
            web::post().to(connections::test),
        )
        .route(
            "/admin/s/{slug}/connections/{id}/delete",
            web::post().to(connections::delete),
        )
        .route(
            "/admin/s/{slug}/workspaces",
            web::get().to(workspaces::list),
        )
        .route(
            "/admin/s/{slug}/workspaces",
            web::post().to(workspaces::create),
        )
        .route(
            "/admin/s/{slug}/workspaces/{ws}/{what}",
            web::post().to(workspaces::add),
        )
        .route("/admin/s/{slug}/explain", web::get().to(explain::form))
        .route("/admin/s/{slug}/explain", web::post().to(explain::run));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(seg("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(seg("../x y"), "..%2Fx%20y");
        assert_eq!(seg("é"), "%C3%A9");
        assert_eq!(seg(".."), "%00");
    }

    #[test]
    fn layout_escapes_titles_and_banners() {
        let html = layout("<script>", None, Some("\"><img onerror=x>"), html! {}).into_string();
        assert!(!html.contains("<script>·"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<img onerror"));
    }
}

//! A user's browser sessions and grants, with "Sign out" per session and "Sign out
//! everywhere" (the admin API's `…/users/{id}/sessions`).

use super::audit::when;
use super::{Admin, ConsoleError, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The `amr` values, comma-separated.
fn methods(session: &Value) -> String {
    list(session, "amr")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn time_cell(v: &Value) -> Markup {
    let t = when(v.as_i64().unwrap_or(0));
    html! { time datetime=(t) { (t) } }
}

/// The clients of a list of grants: name (or id), scope, and whether offline.
fn grants(list: &[Value]) -> Markup {
    html! {
        @if list.is_empty() { span class="muted" { "none" } }
        @else { ul {
            @for g in list {
                li {
                    @let name = s(g, "client_name");
                    (if name.is_empty() { s(g, "client_id") } else { name })
                    " (" code { (s(g, "scope")) } ")"
                    @if g["offline"] == true { " · offline access" }
                }
            }
        } }
    }
}

fn page(
    admin: &Admin,
    slug: &str,
    user: &Value,
    v: &Value,
    banner: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let base = format!(
        "/admin/s/{}/users/{}/sessions",
        seg(slug),
        seg(s(user, "id"))
    );
    let username = s(user, "username");
    layout(
        "Sessions",
        Some(&admin.nav(Some(slug), "users")),
        banner,
        html! {
            h1 { "Sessions of " (username) }
            p { a href={ "/admin/s/" (seg(slug)) "/users" } { "Back to the users" } }
            @if let Some(e) = error { p role="alert" { (e) } }
            table {
                caption class="muted" { "Browser sessions" }
                thead { tr { th scope="col" { "Session" } th scope="col" { "Signed in" } th scope="col" { "Method" } th scope="col" { "Browser" } th scope="col" { "Expires" } th scope="col" { "Applications" } th scope="col" { "Actions" } } }
                tbody {
                    @for x in list(v, "sessions") {
                        @let sid = s(x, "sid");
                        tr {
                            td { code { (sid) } }
                            td { (time_cell(&x["auth_time"])) }
                            td { (methods(x)) @if !s(x, "acr").is_empty() { " (" (s(x, "acr")) ")" } }
                            td { (s(x, "user_agent")) @if !s(x, "ip").is_empty() { br; "from " code { (s(x, "ip")) } } }
                            td { (time_cell(&x["expires_at"])) }
                            td { (grants(list(x, "clients"))) }
                            td {
                                form method="post" action={ (base) "/" (seg(sid)) "/end" } data-confirm="Sign out this session? Its applications without offline access lose their tokens." {
                                    input type="hidden" name="csrf" value=(admin.session.csrf);
                                    button type="submit" class="secondary" aria-label={ "Sign out session " (sid) } { "Sign out" }
                                }
                            }
                        }
                    }
                }
            }
            @if list(v, "sessions").is_empty() { p class="muted" { "No live browser session." } }
            h2 { "Grants outside a browser session" }
            p class="muted" { "Offline access that outlived its session, token exchange, and sessions started before sessions were recorded." }
            (grants(list(v, "grants")))
            h2 id="everywhere" { "Sign out everywhere" }
            form method="post" action={ (base) "/end-all" } aria-labelledby="everywhere" data-confirm="Sign this user out everywhere? Every session ends and every refresh token, offline ones included, is revoked." {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                button type="submit" { "Sign out everywhere" }
            }
        },
    )
}

fn user_path(p: &(String, String)) -> String {
    format!("/subscriptions/{}/users/{}", seg(&p.0), seg(&p.1))
}

async fn show(
    admin: &Admin,
    p: &(String, String),
    banner: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let user = admin.get(&user_path(p)).await?;
    let v = admin.get(&format!("{}/sessions", user_path(p))).await?;
    Ok(render(
        StatusCode::OK,
        page(admin, &p.0, &user, &v, banner, error),
    ))
}

/// `GET /admin/s/{slug}/users/{id}/sessions`
pub async fn list_sessions(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    show(&admin, &path, None, None).await
}

async fn delete(
    admin: &Admin,
    p: &(String, String),
    api_path: String,
    ok: &str,
) -> Result<HttpResponse, ConsoleError> {
    let a = admin.call(reqwest::Method::DELETE, &api_path, None).await?;
    if a.status.is_success() {
        show(admin, p, Some(ok), None).await
    } else {
        show(admin, p, None, Some(&a.message())).await
    }
}

/// `POST /admin/s/{slug}/users/{id}/sessions/{sid}/end`
pub async fn end(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let (slug, id, sid) = path.into_inner();
    let p = (slug, id);
    let api_path = format!("{}/sessions/{}", user_path(&p), seg(&sid));
    delete(&admin, &p, api_path, "Session signed out.").await
}

/// `POST /admin/s/{slug}/users/{id}/sessions/end-all`
pub async fn end_all(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let api_path = format!("{}/sessions", user_path(&path));
    delete(&admin, &path, api_path, "Signed out everywhere.").await
}

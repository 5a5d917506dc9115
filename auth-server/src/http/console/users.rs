//! Users of a subscription: list, create, disable/enable, password reset and 2FA reset;
//! each links to its sessions page (`sessions.rs`).

use super::{Admin, ConsoleError, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

fn page(
    admin: &Admin,
    slug: &str,
    list: &Value,
    banner: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let base = format!("/admin/s/{}/users", seg(slug));
    layout(
        "Users",
        Some(&admin.nav(Some(slug), "users")),
        banner,
        html! {
            h1 { "Users of " (slug) }
            @if let Some(e) = error { p role="alert" { (e) } }
            table {
                caption class="muted" { "Users" }
                thead { tr { th scope="col" { "Username" } th scope="col" { "Name" } th scope="col" { "Id (sub)" } th scope="col" { "Admin" } th scope="col" { "State" } th scope="col" { "Actions" } } }
                tbody {
                    @for u in items(list) {
                        @let id = s(u, "id");
                        @let disabled = u["disabled"] == true;
                        tr {
                            td { (s(u, "username")) }
                            td { (s(u, "name")) }
                            td { code { (id) } }
                            td { @if u["subscription_admin"] == true || u["system_admin"] == true { "yes" } @else { "no" } }
                            td { @if disabled { "disabled" } @else { "active" } }
                            td {
                                a href={ (base) "/" (seg(id)) "/sessions" } aria-label={ "Sessions of " (s(u, "username")) } { "Sessions" }
                                form method="post" action={ (base) "/" (seg(id)) "/state" } {
                                    input type="hidden" name="csrf" value=(admin.session.csrf);
                                    input type="hidden" name="disabled" value=(if disabled { "false" } else { "true" });
                                    button type="submit" class="secondary" aria-label={ (if disabled { "Enable " } else { "Disable " }) (s(u, "username")) } { @if disabled { "Enable" } @else { "Disable" } }
                                }
                                form method="post" action={ (base) "/" (seg(id)) "/mfa" } data-confirm="Remove this user's second factor?" {
                                    input type="hidden" name="csrf" value=(admin.session.csrf);
                                    button type="submit" class="secondary" aria-label={ "Reset 2FA of " (s(u, "username")) } { "Reset 2FA" }
                                }
                                form method="post" action={ (base) "/" (seg(id)) "/password" } {
                                    input type="hidden" name="csrf" value=(admin.session.csrf);
                                    label for={ "pw-" (id) } { "New password for " (s(u, "username")) }
                                    input id={ "pw-" (id) } type="password" name="password" autocomplete="new-password" required;
                                    button type="submit" class="secondary" { "Reset password" }
                                }
                            }
                        }
                    }
                }
            }
            h2 id="create" { "Create a user" }
            form method="post" action=(base) aria-labelledby="create" {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                label for="u-name" { "Username" }
                input id="u-name" name="username" required autocomplete="off";
                label for="u-password" { "Initial password" }
                input id="u-password" type="password" name="password" autocomplete="new-password";
                label for="u-email" { "E-mail" }
                input id="u-email" type="email" name="email";
                label for="u-display" { "Display name" }
                input id="u-display" name="name";
                fieldset {
                    legend { "Role" }
                    label { input type="checkbox" name="subscription_admin" value="true"; " Administrator of this subscription" }
                }
                button type="submit" { "Create user" }
            }
        },
    )
}

async fn show(
    admin: &Admin,
    slug: &str,
    banner: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let list = admin
        .get(&format!("/subscriptions/{}/users?limit=200", seg(slug)))
        .await?;
    Ok(render(
        StatusCode::OK,
        page(admin, slug, &list, banner, error),
    ))
}

/// `GET /admin/s/{slug}/users`
pub async fn list(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    show(&admin, &path, None, None).await
}

fn opt(v: &str) -> Value {
    if v.is_empty() { Value::Null } else { json!(v) }
}

/// Render the outcome of a change: a banner on success, the API's message otherwise.
async fn outcome(
    admin: &Admin,
    slug: &str,
    a: super::api::Answer,
    ok: &str,
) -> Result<HttpResponse, ConsoleError> {
    if a.status.is_success() {
        show(admin, slug, Some(ok), None).await
    } else {
        show(admin, slug, None, Some(&a.message())).await
    }
}

/// `POST /admin/s/{slug}/users`
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let b = json!({
        "username": f.get("username"),
        "password": opt(f.get("password")),
        "email": opt(f.get("email")),
        "name": opt(f.get("name")),
        "subscription_admin": f.get("subscription_admin") == "true",
    });
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("/subscriptions/{}/users", seg(&path)),
            Some(&b),
        )
        .await?;
    outcome(&admin, &path, a, "User created.").await
}

fn user_path(p: &(String, String)) -> String {
    format!("/subscriptions/{}/users/{}", seg(&p.0), seg(&p.1))
}

/// `POST /admin/s/{slug}/users/{id}/state`: disable or enable.
pub async fn set_state(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let disabled = f.get("disabled") == "true";
    let a = admin
        .call(
            reqwest::Method::PATCH,
            &user_path(&path),
            Some(&json!({"disabled": disabled})),
        )
        .await?;
    outcome(
        &admin,
        &path.0,
        a,
        if disabled {
            "User disabled."
        } else {
            "User enabled."
        },
    )
    .await
}

/// `POST /admin/s/{slug}/users/{id}/password`
pub async fn reset_password(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("{}/password", user_path(&path)),
            Some(&json!({"password": f.get("password")})),
        )
        .await?;
    outcome(&admin, &path.0, a, "Password set.").await
}

/// `POST /admin/s/{slug}/users/{id}/mfa`: remove the second factor.
pub async fn reset_mfa(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::DELETE,
            &format!("{}/mfa", user_path(&path)),
            None,
        )
        .await?;
    outcome(&admin, &path.0, a, "Second factor removed.").await
}

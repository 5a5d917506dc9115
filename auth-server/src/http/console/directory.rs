//! Keys (status, rotate) and connections (list, create LDAP, "Test connection" with
//! the diagnosis step by step).

use super::{Admin, ConsoleError, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

fn when(at: &Value) -> String {
    at.as_i64()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "—".into())
}

async fn keys_page(
    admin: &Admin,
    slug: &str,
    banner: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let keys = admin
        .get(&format!("/subscriptions/{}/keys", seg(slug)))
        .await?;
    Ok(render(
        StatusCode::OK,
        layout(
            "Keys",
            Some(&admin.nav(Some(slug), "keys")),
            banner,
            html! {
                h1 { "Signing keys of " (slug) }
                table {
                    caption class="muted" { "Keys (public facts only)" }
                    thead { tr { th scope="col" { "kid" } th scope="col" { "Algorithm" } th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "Published until" } } }
                    tbody {
                        @for k in items(&keys) {
                            tr { td { code { (s(k, "kid")) } } td { (s(k, "alg")) } td { (s(k, "status")) } td { (when(&k["created_at"])) } td { (when(&k["publish_until"])) } }
                        }
                    }
                }
                form method="post" action={ "/admin/s/" (seg(slug)) "/keys" } data-confirm="Rotate the signing keys now?" {
                    input type="hidden" name="csrf" value=(admin.session.csrf);
                    p class="muted" { "The published next key becomes active, a new next key is published, the old key is retired (still published until its tokens expire). RS256 keys are made by the subscription's first JWKS request or RS256 signature; until then a rotation leaves RS256 alone." }
                    button type="submit" class="danger" { "Rotate keys" }
                }
            },
        ),
    ))
}

/// `GET /admin/s/{slug}/keys`
pub async fn keys(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    keys_page(&admin, &path, None).await
}

/// `POST /admin/s/{slug}/keys`: rotate.
pub async fn rotate_keys(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("/subscriptions/{}/keys/rotate", seg(&path)),
            None,
        )
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::Api(a.status, a.message()));
    }
    keys_page(&admin, &path, Some("Keys rotated.")).await
}

fn connections_page(
    admin: &Admin,
    slug: &str,
    list: &Value,
    result: Option<(&str, &Value)>,
    error: Option<&str>,
) -> Markup {
    layout(
        "Connections",
        Some(&admin.nav(Some(slug), "connections")),
        None,
        html! {
            h1 { "Connections of " (slug) }
            @if let Some((name, d)) = result {
                section aria-labelledby="diag-title" {
                    h2 id="diag-title" { "Test of " (name) ": " @if d["ok"] == true { span class="allow" { "passed" } } @else { span class="deny" { "failed" } } }
                    ol class="steps" {
                        @for step in d["steps"].as_array().map_or(&[][..], Vec::as_slice) {
                            li { strong { (s(step, "stage")) } " " @if step["ok"] == true { span class="allow" { "ok" } } @else { span class="deny" { "failed" } } ": " (s(step, "message")) }
                        }
                    }
                }
            }
            table {
                caption class="muted" { "Directories and upstream identity providers" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Enabled" } th scope="col" { "Actions" } } }
                tbody {
                    @for c in items(list) {
                        tr {
                            td { (s(c, "name")) }
                            td { (s(c, "kind")) }
                            td { @if c["enabled"] == false { "no" } @else { "yes" } }
                            td {
                                form method="post" action={ "/admin/s/" (seg(slug)) "/connections/" (seg(s(c, "id"))) "/test" } {
                                    input type="hidden" name="csrf" value=(admin.session.csrf);
                                    button type="submit" class="secondary" aria-label={ "Test connection " (s(c, "name")) } { "Test connection" }
                                }
                            }
                        }
                    }
                }
            }
            @if items(list).is_empty() { p { "No connections yet." } }
            h2 id="create-ldap" { "Add an LDAP directory" }
            @if let Some(e) = error { p role="alert" { (e) } }
            form method="post" action={ "/admin/s/" (seg(slug)) "/connections" } aria-labelledby="create-ldap" {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                label for="l-name" { "Name" }
                input id="l-name" name="name" required;
                label for="l-url" { "URL (ldap:// or ldaps://)" }
                input id="l-url" name="url" type="url" required placeholder="ldaps://ldap.example.com";
                fieldset {
                    legend { "Transport" }
                    label { input type="checkbox" name="start_tls" value="true"; " StartTLS" }
                }
                label for="l-bind" { "Service account DN" }
                input id="l-bind" name="bind_dn" required;
                label for="l-pw" { "Service account password (write-only)" }
                input id="l-pw" name="bind_password" type="password" autocomplete="off" required;
                label for="l-base" { "User base DN" }
                input id="l-base" name="user_base_dn" required;
                label for="l-filter" { "User filter ({username} is escaped by the server)" }
                input id="l-filter" name="user_filter" required value="(&(objectClass=inetOrgPerson)(uid={username}))";
                label for="l-groups" { "Group base DN (optional)" }
                input id="l-groups" name="group_base_dn";
                button type="submit" { "Add directory" }
            }
            p class="muted" { "Active Directory and OIDC connections: " code { "POST /admin/v1/subscriptions/" (slug) "/connections" } " (see the OpenAPI document)." }
        },
    )
}

/// `GET /admin/s/{slug}/connections`
pub async fn connections(
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let list = admin
        .get(&format!(
            "/subscriptions/{}/connections?limit=200",
            seg(&path)
        ))
        .await?;
    Ok(render(
        StatusCode::OK,
        connections_page(&admin, &path, &list, None, None),
    ))
}

/// `POST /admin/s/{slug}/connections`: add an LDAP directory.
pub async fn create_connection(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let mut b = json!({
        "name": f.get("name"), "kind": "ldap", "url": f.get("url"),
        "start_tls": f.get("start_tls") == "true",
        "bind_dn": f.get("bind_dn"), "bind_password": f.get("bind_password"),
        "user_base_dn": f.get("user_base_dn"), "user_filter": f.get("user_filter"),
    });
    if !f.get("group_base_dn").is_empty() {
        b["groups"] = json!({"base_dn": f.get("group_base_dn")});
    }
    let base = format!("/subscriptions/{}/connections", seg(&path));
    let a = admin.call(reqwest::Method::POST, &base, Some(&b)).await?;
    let list = admin.get(&format!("{base}?limit=200")).await?;
    let error = (!a.status.is_success()).then(|| a.message());
    Ok(render(
        if a.status.is_success() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        connections_page(&admin, &path, &list, None, error.as_deref()),
    ))
}

/// `POST /admin/s/{slug}/connections/{id}/test`: run the diagnosis.
pub async fn test_connection(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let base = format!("/subscriptions/{}/connections", seg(&path.0));
    let conn = admin.get(&format!("{base}/{}", seg(&path.1))).await?;
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("{base}/{}/test", seg(&path.1)),
            None,
        )
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::Api(a.status, a.message()));
    }
    let list = admin.get(&format!("{base}?limit=200")).await?;
    Ok(render(
        StatusCode::OK,
        connections_page(
            &admin,
            &path.0,
            &list,
            Some((s(&conn, "name"), &a.body)),
            None,
        ),
    ))
}

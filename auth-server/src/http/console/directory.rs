//! Keys (status, rotate), connections (list, create LDAP, "Test connection" with the
//! diagnosis step by step) and workspaces (groups, members, apps with their grants and
//! field policies).

use super::{Admin, ConsoleError, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

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
                    p class="muted" { "The published next key becomes active, a new next key is published, the old key is retired (still published until its tokens expire)." }
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
            @if items(list).is_empty() { p { "No connections yet. Create them with " code { "POST /admin/v1/subscriptions/" (slug) "/connections" } "." } }
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
        connections_page(&admin, &path, &list, None),
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
        connections_page(&admin, &path.0, &list, Some((s(&conn, "name"), &a.body))),
    ))
}

/// `GET /admin/s/{slug}/workspaces`: every workspace with its groups and apps.
pub async fn workspaces(
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let slug = path.into_inner();
    let base = format!("/subscriptions/{}/workspaces", seg(&slug));
    let list = admin.get(&format!("{base}?limit=200")).await?;
    let mut details = Vec::new();
    for w in items(&list) {
        let ws = format!("{base}/{}", seg(s(w, "slug")));
        let groups = admin.get(&format!("{ws}/groups?limit=200")).await?;
        let apps = admin.get(&format!("{ws}/apps?limit=200")).await?;
        let participants = admin.get(&format!("{ws}/participants?limit=200")).await?;
        details.push((w.clone(), groups, apps, participants));
    }
    Ok(render(
        StatusCode::OK,
        layout(
            "Workspaces",
            Some(&admin.nav(Some(&slug), "workspaces")),
            None,
            html! {
                h1 { "Workspaces of " (slug) }
                @if details.is_empty() { p { "No workspaces yet." } }
                @for (w, groups, apps, participants) in &details {
                    section aria-labelledby={ "ws-" (s(w, "slug")) } {
                        h2 id={ "ws-" (s(w, "slug")) } { (s(w, "name")) " (" code { (s(w, "slug")) } ")" }
                        h3 { "Participants" }
                        ul { @for p in items(participants) { li { code { (s(p, "user_id")) } " — " (s(p, "role")) } } }
                        h3 { "Groups" }
                        ul { @for g in items(groups) { li { (s(g, "name")) } } }
                        h3 { "Apps" }
                        @for a in items(apps) {
                            h4 { (s(a, "name")) " (" code { (s(a, "slug")) } ")" }
                            table {
                                caption class="muted" { "Grants" }
                                thead { tr { th scope="col" { "Group" } th scope="col" { "Actions" } th scope="col" { "Records" } } }
                                tbody {
                                    @for g in a["grants"].as_array().map_or(&[][..], Vec::as_slice) {
                                        tr { td { (s(g, "group")) } td { (g["actions"].to_string()) } td { code { (g["records"].to_string()) } } }
                                    }
                                }
                            }
                            table {
                                caption class="muted" { "Field policies" }
                                thead { tr { th scope="col" { "Field" } th scope="col" { "Access" } th scope="col" { "When denied" } } }
                                tbody {
                                    @for f in a["fields"].as_array().map_or(&[][..], Vec::as_slice) {
                                        tr { td { (s(f, "field")) } td { (s(f, "access")) @if let Some(g) = f.get("groups") { " " (g.to_string()) } } td { (s(f, "when_denied")) } }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        ),
    ))
}

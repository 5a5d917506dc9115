//! Workspaces of a subscription with their participants, groups, members and apps
//! (grants and field policies), and forms to add each of them.

use super::{Admin, ConsoleError, Form, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One workspace with what it holds.
struct Loaded {
    ws: Value,
    groups: Value,
    members: Vec<(String, Value)>,
    apps: Value,
    participants: Value,
}

fn workspace_markup(admin: &Admin, slug: &str, l: &Loaded) -> Markup {
    let w = s(&l.ws, "slug");
    let action = |what: &str| format!("/admin/s/{}/workspaces/{}/{what}", seg(slug), seg(w));
    let csrf = admin.session.csrf.as_str();
    html! {
        section aria-labelledby={ "ws-" (w) } {
            h2 id={ "ws-" (w) } { (s(&l.ws, "name")) " (" code { (w) } ")" }
            h3 { "Participants" }
            ul { @for p in items(&l.participants) { li { code { (s(p, "user_id")) } " — " (s(p, "role")) } } }
            form method="post" action=(action("participants")) class="inline" {
                input type="hidden" name="csrf" value=(csrf);
                label for={ "p-user-" (w) } { "User id" }
                input id={ "p-user-" (w) } name="user_id" required;
                label for={ "p-role-" (w) } { "Role" }
                select id={ "p-role-" (w) } name="role" { option { "participant" } option { "team" } option { "admin" } }
                button type="submit" { "Set participant" }
            }
            h3 { "Groups" }
            ul { @for (g, m) in &l.members { li { (g) ": " @for u in items(m) { code { (s(u, "user_id")) } " " } } } }
            form method="post" action=(action("groups")) {
                input type="hidden" name="csrf" value=(csrf);
                label for={ "g-name-" (w) } { "New group name" }
                input id={ "g-name-" (w) } name="name" required;
                button type="submit" { "Add group" }
            }
            form method="post" action=(action("members")) {
                input type="hidden" name="csrf" value=(csrf);
                label for={ "m-group-" (w) } { "Group" }
                select id={ "m-group-" (w) } name="group" { @for g in items(&l.groups) { option { (s(g, "name")) } } }
                label for={ "m-user-" (w) } { "User id" }
                input id={ "m-user-" (w) } name="user_id" required;
                button type="submit" { "Add member" }
            }
            h3 { "Apps" }
            @for a in items(&l.apps) {
                h4 { (s(a, "name")) " (" code { (s(a, "slug")) } ")" }
                table {
                    caption class="muted" { "Grants" }
                    thead { tr { th scope="col" { "Group" } th scope="col" { "Actions" } th scope="col" { "Records" } } }
                    tbody {
                        @for g in a["grants"].as_array().map_or(&[][..], Vec::as_slice) {
                            tr { td { (s(g, "group")) } td { (text(&g["actions"])) } td { code { (text(&g["records"])) } } }
                        }
                    }
                }
                table {
                    caption class="muted" { "Field policies" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Access" } th scope="col" { "When denied" } } }
                    tbody {
                        @for f in a["fields"].as_array().map_or(&[][..], Vec::as_slice) {
                            tr { td { (s(f, "field")) } td { (s(f, "access")) " " (text(&f["groups"])) } td { (s(f, "when_denied")) } }
                        }
                    }
                }
            }
            form method="post" action=(action("apps")) {
                input type="hidden" name="csrf" value=(csrf);
                label for={ "a-slug-" (w) } { "New app slug" }
                input id={ "a-slug-" (w) } name="slug" required;
                label for={ "a-name-" (w) } { "App name" }
                input id={ "a-name-" (w) } name="name" required;
                label for={ "a-grants-" (w) } { "Grants (JSON)" }
                textarea id={ "a-grants-" (w) } name="grants" { "[{\"group\": \"\", \"actions\": [\"read\"], \"records\": \"all\"}]" }
                label for={ "a-fields-" (w) } { "Field policies (JSON)" }
                textarea id={ "a-fields-" (w) } name="fields" { "[]" }
                button type="submit" { "Add app" }
            }
        }
    }
}

async fn load(admin: &Admin, slug: &str) -> Result<Vec<Loaded>, ConsoleError> {
    let base = format!("/subscriptions/{}/workspaces", seg(slug));
    let list = admin.get(&format!("{base}?limit=200")).await?;
    let mut out = Vec::new();
    for w in items(&list) {
        let ws = format!("{base}/{}", seg(s(w, "slug")));
        let groups = admin.get(&format!("{ws}/groups?limit=200")).await?;
        let mut members = Vec::new();
        for g in items(&groups) {
            let m = admin
                .get(&format!(
                    "{ws}/groups/{}/members?limit=200",
                    seg(s(g, "name"))
                ))
                .await?;
            members.push((s(g, "name").to_owned(), m));
        }
        out.push(Loaded {
            ws: w.clone(),
            apps: admin.get(&format!("{ws}/apps?limit=200")).await?,
            participants: admin.get(&format!("{ws}/participants?limit=200")).await?,
            groups,
            members,
        });
    }
    Ok(out)
}

async fn show(
    admin: &Admin,
    slug: &str,
    banner: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let loaded = load(admin, slug).await?;
    Ok(render(
        StatusCode::OK,
        layout(
            "Workspaces",
            Some(&admin.nav(Some(slug), "workspaces")),
            banner,
            html! {
                h1 { "Workspaces of " (slug) }
                @if let Some(e) = error { p role="alert" { (e) } }
                @if loaded.is_empty() { p { "No workspaces yet." } }
                @for l in &loaded { (workspace_markup(admin, slug, l)) }
                h2 id="create-ws" { "Create a workspace" }
                form method="post" action={ "/admin/s/" (seg(slug)) "/workspaces" } aria-labelledby="create-ws" {
                    input type="hidden" name="csrf" value=(admin.session.csrf);
                    label for="ws-slug" { "Workspace slug" }
                    input id="ws-slug" name="slug" required;
                    label for="ws-name" { "Workspace name" }
                    input id="ws-name" name="name" required;
                    button type="submit" { "Create workspace" }
                }
            },
        ),
    ))
}

/// `GET /admin/s/{slug}/workspaces`
pub async fn list(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    show(&admin, &path, None, None).await
}

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

/// `POST /admin/s/{slug}/workspaces`
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("/subscriptions/{}/workspaces", seg(&path)),
            Some(&json!({"slug": f.get("slug"), "name": f.get("name")})),
        )
        .await?;
    outcome(&admin, &path, a, "Workspace created.").await
}

fn json_field(f: &Form, k: &str) -> Result<Value, String> {
    serde_json::from_str(f.get(k)).map_err(|e| format!("{k}: not JSON ({e})"))
}

/// `POST /admin/s/{slug}/workspaces/{ws}/{participants|groups|members|apps}`
pub async fn add(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let (slug, ws, what) = path.into_inner();
    let base = format!("/subscriptions/{}/workspaces/{}", seg(&slug), seg(&ws));
    let (method, api_path, b, ok) = match what.as_str() {
        "participants" => (
            reqwest::Method::PUT,
            format!("{base}/participants/{}", seg(f.get("user_id"))),
            Some(json!({"role": f.get("role")})),
            "Participant set.",
        ),
        "groups" => (
            reqwest::Method::POST,
            format!("{base}/groups"),
            Some(json!({"name": f.get("name")})),
            "Group added.",
        ),
        "members" => (
            reqwest::Method::PUT,
            format!(
                "{base}/groups/{}/members/{}",
                seg(f.get("group")),
                seg(f.get("user_id"))
            ),
            None,
            "Member added.",
        ),
        "apps" => {
            let (grants, fields) = match (json_field(&f, "grants"), json_field(&f, "fields")) {
                (Ok(g), Ok(fl)) => (g, fl),
                (Err(e), _) | (_, Err(e)) => return show(&admin, &slug, None, Some(&e)).await,
            };
            (
                reqwest::Method::POST,
                format!("{base}/apps"),
                Some(
                    json!({"slug": f.get("slug"), "name": f.get("name"), "grants": grants, "fields": fields}),
                ),
                "App added.",
            )
        }
        _ => {
            return Err(ConsoleError::Api(
                StatusCode::NOT_FOUND,
                "No such form.".into(),
            ));
        }
    };
    let a = admin.call(method, &api_path, b.as_ref()).await?;
    outcome(&admin, &slug, a, ok).await
}

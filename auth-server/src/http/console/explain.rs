//! ACL explain: pick a user (or paste a token), a workspace, an app and record facts;
//! the page shows the decision layer by layer, the app's grants as the layers saw them,
//! and the field table.

use super::{Admin, ConsoleError, Form, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn form_markup(
    admin: &Admin,
    slug: &str,
    users: &Value,
    workspaces: &Value,
    f: Option<&Form>,
) -> Markup {
    let val = |k: &str| f.map(|f| f.get(k).to_owned()).unwrap_or_default();
    html! {
        form method="post" action={ "/admin/s/" (seg(slug)) "/explain" } {
            input type="hidden" name="csrf" value=(admin.session.csrf);
            label for="x-user" { "User" }
            select id="x-user" name="user_id" {
                option value="" { "— or paste a token below —" }
                @for u in items(users) {
                    option value=(s(u, "id")) selected[val("user_id") == s(u, "id")] { (s(u, "username")) " (" (s(u, "id")) ")" }
                }
            }
            label for="x-token" { "Access token (instead of a user)" }
            input id="x-token" name="token" autocomplete="off" value=(val("token"));
            label for="x-ws" { "Workspace" }
            select id="x-ws" name="workspace" required {
                @for w in items(workspaces) {
                    option value=(s(w, "slug")) selected[val("workspace") == s(w, "slug")] { (s(w, "name")) " (" (s(w, "slug")) ")" }
                }
            }
            label for="x-app" { "App (slug)" }
            input id="x-app" name="app" required value=(val("app"));
            label for="x-record" { "Record facts (JSON, optional)" }
            textarea id="x-record" name="record" aria-describedby="x-record-help" { (val("record")) }
            p id="x-record-help" class="muted" { "As in introspection's acl_record: {\"creator\": sub, \"assignee\": sub, \"group\": name, \"acl\": {\"users\": [], \"groups\": []}, \"fields\": {\"name\": value}}" }
            button type="submit" { "Explain" }
        }
    }
}

fn result_markup(e: &Value) -> Markup {
    let d = &e["decision"];
    html! {
        section aria-labelledby="x-result" id="explanation" {
            h2 id="x-result" {
                "Decision: "
                @if d["allowed"] == true { span class="allow" { "allowed" } } @else { span class="deny" { "denied at " (text(&d["denied_at"])) } }
            }
            p { "Actions: " (d["actions"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
            table class="layers" {
                caption { "Layer by layer" }
                thead { tr { th scope="col" { "Layer" } th scope="col" { "Outcome" } th scope="col" { "Why" } } }
                tbody {
                    @for l in e["layers"].as_array().map_or(&[][..], Vec::as_slice) {
                        tr data-layer=(s(l, "layer")) {
                            th scope="row" { (s(l, "layer")) }
                            td class=(if s(l, "outcome") == "deny" { "deny" } else { "" }) { (s(l, "outcome")) }
                            td { (s(l, "reason")) }
                        }
                    }
                }
            }
            p { "User " code { (s(&e["user"], "sub")) } ": role " (text(&e["user"]["workspace_role"])) ", groups " (text(&e["user"]["groups"])) @if e["user"]["system_admin"] == true { ", system administrator" } }
            table class="grants" {
                caption { "Grants of the app" }
                thead { tr { th scope="col" { "Group" } th scope="col" { "Actions" } th scope="col" { "Records" } th scope="col" { "Held by the user" } th scope="col" { "Admits the record" } } }
                tbody {
                    @for g in e["grants"].as_array().map_or(&[][..], Vec::as_slice) {
                        tr { td { (s(g, "group")) } td { (text(&g["actions"])) } td { code { (text(&g["records"])) } } td { (text(&g["held"])) } td { (text(&g["admits_record"])) } }
                    }
                }
            }
            table class="fields" {
                caption { "Field table" }
                thead { tr { th scope="col" { "Field" } th scope="col" { "From the record" } th scope="col" { "Policies (met?)" } th scope="col" { "Result" } } }
                tbody {
                    @for f in e["fields"].as_array().map_or(&[][..], Vec::as_slice) {
                        tr data-field=(s(f, "field")) {
                            th scope="row" { (s(f, "field")) }
                            td { (s(f, "from_record")) }
                            td {
                                @for p in f["policies"].as_array().map_or(&[][..], Vec::as_slice) {
                                    div { (s(&p["policy"], "access")) @if let Some(g) = p["policy"].get("groups") { " " (text(g)) } " → " (s(&p["policy"], "when_denied")) " when unmet: " @if p["met"] == true { "met" } @else { strong { "not met" } } }
                                }
                            }
                            td class="level" { (s(f, "level")) }
                        }
                    }
                }
            }
        }
    }
}

async fn page(
    admin: &Admin,
    slug: &str,
    f: Option<&Form>,
    result: Option<Result<Value, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let users = admin
        .get(&format!("/subscriptions/{}/users?limit=200", seg(slug)))
        .await?;
    let workspaces = admin
        .get(&format!(
            "/subscriptions/{}/workspaces?limit=200",
            seg(slug)
        ))
        .await?;
    Ok(render(
        StatusCode::OK,
        layout(
            "ACL explain",
            Some(&admin.nav(Some(slug), "explain")),
            None,
            html! {
                h1 { "ACL explain" }
                p { "Why can (or can't) someone see a record? The same evaluation as token introspection, shown layer by layer." }
                @match &result {
                    Some(Err(msg)) => p role="alert" { (msg) },
                    _ => {}
                }
                (form_markup(admin, slug, &users, &workspaces, f))
                @if let Some(Ok(e)) = &result { (result_markup(e)) }
            },
        ),
    ))
}

/// `GET /admin/s/{slug}/explain`
pub async fn form(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    page(&admin, &path, None, None).await
}

/// `POST /admin/s/{slug}/explain`
pub async fn run(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let record = match f.get("record") {
        "" => None,
        text => match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                return page(
                    &admin,
                    &path,
                    Some(&f),
                    Some(Err(format!("record: not JSON ({e})"))),
                )
                .await;
            }
        },
    };
    let mut b = json!({"workspace": f.get("workspace"), "app": f.get("app"), "record": record});
    match (f.get("user_id"), f.get("token")) {
        (u, "") => b["user_id"] = json!(u),
        (_, t) => b["token"] = json!(t),
    }
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("/subscriptions/{}/acl/explain", seg(&path)),
            Some(&b),
        )
        .await?;
    let result = if a.status.is_success() {
        Ok(a.body)
    } else {
        Err(a.message())
    };
    page(&admin, &path, Some(&f), Some(result)).await
}

//! The audit log: filters, paging, and each change's field-level diff rendered side by
//! side (field, before, after). A target's history (newest first) comes from the API's
//! per-entity history endpoint.

use super::{Admin, ConsoleError, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;
use std::collections::HashMap;

const FILTERS: [(&str, &str); 4] = [
    ("target_type", "Target type"),
    ("target_id", "Target id"),
    ("action", "Action"),
    ("actor", "Actor (user or client id)"),
];

/// A Unix time as RFC 3339 (the number itself when out of range).
pub(super) fn when(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `diff` is a field-level change set (`{field: {old, new}}`).
fn is_change_set(diff: &serde_json::Map<String, Value>) -> bool {
    !diff.is_empty()
        && diff.values().all(|v| {
            v.as_object()
                .is_some_and(|o| o.keys().all(|k| k == "old" || k == "new"))
        })
}

/// One event's details: a side-by-side table for diffs, the raw JSON otherwise.
pub fn diff_view(diff: &Value) -> Markup {
    if diff.is_null() {
        return html! {};
    }
    match diff.as_object() {
        Some(d) if is_change_set(d) => html! {
            table class="diff" {
                thead { tr { th scope="col" { "Field" } th scope="col" { "Before" } th scope="col" { "After" } } }
                tbody {
                    @for (field, change) in d {
                        tr {
                            th scope="row" { (field) }
                            td class="old" { code { (compact(&change["old"])) } }
                            td class="new" { code { (compact(&change["new"])) } }
                        }
                    }
                }
            }
        },
        _ => html! { pre { code { (serde_json::to_string_pretty(diff).unwrap_or_default()) } } },
    }
}

fn actor(a: &Value) -> String {
    [("user", "user_id"), ("client", "client_id")]
        .iter()
        .filter_map(|(label, k)| {
            a.get(*k)
                .and_then(Value::as_str)
                .map(|v| format!("{label} {v}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn entity_path(target_type: &str) -> Option<&'static str> {
    Some(match target_type {
        "client" => "clients",
        "user" => "users",
        "workspace" => "workspaces",
        "connection" => "connections",
        "run_as_grant" => "run-as-grants",
        "keys" => "keys",
        _ => return None,
    })
}

/// `GET /admin/s/{slug}/audit?target_type&target_id&action&actor&after`
pub async fn list(
    admin: Admin,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let slug = path.into_inner();
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", "50");
    for k in ["action", "actor", "after"] {
        if let Some(v) = get(k) {
            query.append_pair(k, v);
        }
    }
    let history = get("target_type")
        .and_then(entity_path)
        .zip(get("target_id"));
    let api_path = match history {
        Some((entity, id)) => format!(
            "/subscriptions/{}/{entity}/{}/history?{}",
            seg(&slug),
            seg(id),
            query.finish()
        ),
        None => {
            if let Some(t) = get("target_type") {
                query.append_pair("target_type", t);
            }
            if let Some(t) = get("target_id") {
                query.append_pair("target_id", t);
            }
            format!("/subscriptions/{}/audit?{}", seg(&slug), query.finish())
        }
    };
    let page = admin.get(&api_path).await?;
    let next = page.get("next").and_then(Value::as_str).map(|n| {
        let mut more = url::form_urlencoded::Serializer::new(String::new());
        for (k, _) in FILTERS {
            if let Some(v) = get(k) {
                more.append_pair(k, v);
            }
        }
        more.append_pair("after", n);
        more.finish()
    });
    Ok(render(
        StatusCode::OK,
        layout(
            "Audit log",
            Some(&admin.nav(Some(&slug), "audit")),
            None,
            html! {
                h1 { "Audit log of " (slug) }
                @if history.is_some() { p { "History of one " (get("target_type").unwrap_or_default()) ", newest first." } }
                form method="get" action={ "/admin/s/" (seg(&slug)) "/audit" } class="filters" {
                    @for (k, label) in FILTERS {
                        label for={ "f-" (k) } { (label) }
                        input id={ "f-" (k) } name=(k) value=(get(k).unwrap_or_default());
                    }
                    button type="submit" { "Filter" }
                }
                @for e in items(&page) {
                    article class="event" {
                        h2 {
                            code { (s(e, "action")) } " on " (s(&e["target"], "type")) " "
                            @if let (Some(t), id) = (entity_path(s(&e["target"], "type")), s(&e["target"], "id")) {
                                @if !id.is_empty() && t != "keys" {
                                    a href={ "/admin/s/" (seg(&slug)) "/audit?target_type=" (seg(s(&e["target"], "type"))) "&target_id=" (seg(id)) } { code { (id) } }
                                } @else { code { (id) } }
                            } @else { code { (s(&e["target"], "id")) } }
                        }
                        p class="muted" {
                            time datetime=(when(e["at"].as_i64().unwrap_or(0))) { (when(e["at"].as_i64().unwrap_or(0))) }
                            " · by " (actor(&e["actor"]))
                            @if let Some(ip) = e.get("ip").and_then(Value::as_str) { " · from " (ip) }
                            " · #" (e["seq"])
                        }
                        (diff_view(&e["diff"]))
                    }
                }
                @if items(&page).is_empty() { p { "No events match." } }
                @if let Some(n) = next { p { a href={ "/admin/s/" (seg(&slug)) "/audit?" (n) } { "Next page" } } }
            },
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn change_sets_render_side_by_side_and_escaped() {
        let d = json!({"name": {"old": "a", "new": "<script>alert(1)</script>"}});
        let html = diff_view(&d).into_string();
        assert!(html.contains("class=\"old\""));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn security_details_render_as_json() {
        let html = diff_view(&json!({"reason": "missing_admin_scope"})).into_string();
        assert!(html.contains("<pre>"));
        assert_eq!(diff_view(&Value::Null).into_string(), "");
    }
}

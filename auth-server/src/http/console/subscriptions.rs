//! Subscriptions: list, create (the minted MCP client's secret is shown once), and the
//! settings of one subscription (name, 2FA policy, registration, metadata documents,
//! MCP resources).

use super::{Admin, ConsoleError, items, layout, once, render, s, see_other, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

fn create_form(csrf: &str, error: Option<&str>, slug: &str, name: &str) -> Markup {
    html! {
        h2 id="create" { "Create a subscription" }
        @if let Some(e) = error { p role="alert" { (e) } }
        form method="post" action="/admin/subscriptions" aria-labelledby="create" {
            input type="hidden" name="csrf" value=(csrf);
            label for="sub-slug" { "Slug" }
            input id="sub-slug" name="slug" required value=(slug) pattern="[a-z0-9][a-z0-9\\-]{1,62}" aria-describedby="sub-slug-help";
            p id="sub-slug-help" class="muted" { "Lower-case letters, digits and hyphens; part of the issuer URL." }
            label for="sub-name" { "Name" }
            input id="sub-name" name="name" required value=(name);
            button type="submit" { "Create subscription" }
        }
    }
}

fn table(list: &Value) -> Markup {
    html! {
        table {
            caption class="muted" { "Subscriptions" }
            thead { tr { th scope="col" { "Slug" } th scope="col" { "Name" } th scope="col" { "Issuer" } } }
            tbody {
                @for sub in items(list) {
                    tr {
                        td { a href={ "/admin/s/" (seg(s(sub, "slug"))) "/clients" } { (s(sub, "slug")) } }
                        td { (s(sub, "name")) }
                        td { code { (s(sub, "issuer")) } }
                    }
                }
            }
        }
    }
}

/// `GET /admin/subscriptions`
pub async fn list(admin: Admin) -> Result<HttpResponse, ConsoleError> {
    let list = admin.get("/subscriptions?limit=200").await?;
    let system = admin.session.home == crate::service::tenants::SYSTEM;
    Ok(render(
        StatusCode::OK,
        layout(
            "Subscriptions",
            Some(&admin.nav(None, "subscriptions")),
            None,
            html! {
                h1 { "Subscriptions" }
                (table(&list))
                @if system { (create_form(&admin.session.csrf, None, "", "")) }
            },
        ),
    ))
}

/// `POST /admin/subscriptions`: create; shows the MCP client credentials once.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let (slug, name) = (f.get("slug"), f.get("name"));
    let a = admin
        .call(
            reqwest::Method::POST,
            "/subscriptions",
            Some(&json!({"slug": slug, "name": name})),
        )
        .await?;
    if a.status != StatusCode::CREATED {
        let list = admin.get("/subscriptions?limit=200").await?;
        return Ok(render(
            StatusCode::OK,
            layout(
                "Subscriptions",
                Some(&admin.nav(None, "subscriptions")),
                None,
                html! {
                    h1 { "Subscriptions" }
                    (table(&list))
                    (create_form(&admin.session.csrf, Some(&a.message()), slug, name))
                },
            ),
        ));
    }
    let b = &a.body;
    let mcp = &b["mcp_client"];
    Ok(render(
        StatusCode::CREATED,
        layout(
            "Subscription created",
            Some(&admin.nav(Some(s(b, "slug")), "")),
            Some("Subscription created."),
            html! {
                h1 { "Subscription " (s(b, "name")) }
                p { "Issuer: " code id="issuer" { (s(b, "issuer")) } }
                section class="once" aria-labelledby="mcp-title" {
                    h2 id="mcp-title" { "MCP client credentials" }
                    p role="alert" { strong { "Copy the secret now: you will not see this again." } " Only its hash is stored; if it is lost, rotate it." }
                    (once("mcp-client-id", "client_id", s(mcp, "client_id")))
                    (once("mcp-client-secret", "client_secret", s(mcp, "client_secret")))
                }
                p { a href={ "/admin/s/" (seg(s(b, "slug"))) "/clients" } { "Continue to the subscription" } }
            },
        ),
    ))
}

/// `GET /admin/s/{slug}`
pub async fn home(path: web::Path<String>) -> HttpResponse {
    see_other(&format!("/admin/s/{}/clients", seg(&path)))
}

/// The branding members of the settings form: (form name and API member, input id,
/// label, hint).
const BRANDING: [(&str, &str, &str, &str); 3] = [
    (
        "display_name",
        "set-brand-name",
        "Display name",
        "1 to 100 characters; the subscription name when empty",
    ),
    (
        "logo",
        "set-brand-logo",
        "Logo URL",
        "https:// URL or data:image/png|jpeg|svg+xml;base64,…",
    ),
    (
        "primary_color",
        "set-brand-color",
        "Primary colour",
        "#rgb or #rrggbb",
    ),
];

/// A text field of the settings form; `invalid` is the API's message when it refused
/// this field, shown next to it.
fn field(
    name: &str,
    id: &str,
    label: &str,
    hint: &str,
    value: &str,
    invalid: Option<&str>,
) -> Markup {
    let hint_id = format!("{id}-hint");
    let err_id = format!("{id}-error");
    let described = match invalid {
        Some(_) => format!("{hint_id} {err_id}"),
        None => hint_id.clone(),
    };
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) value=(value) aria-describedby=(described) aria-invalid=[invalid.map(|_| "true")];
        small id=(hint_id) class="muted" { (hint) }
        @if let Some(e) = invalid { p id=(err_id) class="field-error" { (e) } }
    }
}

/// What the API refused: its `field` and message, to show next to that field.
struct Refusal {
    /// The API's `field` (e.g. `settings.branding.logo`), when it named one.
    field: Option<String>,
    /// The API's message.
    message: String,
}

fn settings_page(
    admin: &Admin,
    slug: &str,
    sub: &Value,
    banner: Option<&str>,
    refused: Option<&Refusal>,
) -> Markup {
    let error = refused.map(|r| match &r.field {
        Some(f) => format!("{f}: {}", r.message),
        None => r.message.clone(),
    });
    let error = error.as_deref();
    let invalid = |api_field: &str| {
        refused
            .filter(|r| r.field.as_deref() == Some(api_field))
            .map(|r| r.message.as_str())
    };
    let st = &sub["settings"];
    let sel = |name: &str, id: &str, label: &str, options: &[&str]| {
        let current = s(st, name).to_owned();
        html! {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                @for o in options { option value=(o) selected[current == *o] { (o) } }
            }
        }
    };
    let resources: Vec<&str> = st["mcp_resources"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    layout(
        "Settings",
        Some(&admin.nav(Some(slug), "settings")),
        banner,
        html! {
            h1 { "Settings of " (s(sub, "name")) }
            p { "Issuer: " code { (s(sub, "issuer")) } }
            @if let Some(e) = error { p role="alert" { (e) } }
            form method="post" action={ "/admin/s/" (seg(slug)) "/settings" } {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                label for="set-name" { "Name" }
                input id="set-name" name="name" required value=(s(sub, "name"));
                (sel("mfa_policy", "set-mfa", "Two-factor authentication", &["off", "optional", "required"]))
                (sel("registration", "set-reg", "Dynamic client registration (RFC 7591)", &["off", "open", "token"]))
                fieldset {
                    legend { "Client ID metadata documents" }
                    label { input type="checkbox" name="client_id_metadata_documents" value="true" checked[st["client_id_metadata_documents"] == true]; " accept" }
                }
                label for="set-mcp" { "MCP resources (one URI per line)" }
                textarea id="set-mcp" name="mcp_resources" { (resources.join("\n")) }
                // Login-page branding (docs/branding.md): saved with the rest, refused
                // values are named by the API and shown next to their field.
                fieldset class="branding" {
                    legend { "Login-page branding" }
                    @for (name, id, label, hint) in BRANDING {
                        (field(name, id, label, hint, s(&st["branding"], name), invalid(&format!("settings.branding.{name}"))))
                    }
                    (sel("default_language", "set-lang", "Default language", &["en", "de"]))
                    @if let Some(e) = invalid("settings.default_language") { p class="field-error" { (e) } }
                }
                button type="submit" { "Save settings" }
            }
        },
    )
}

/// `GET /admin/s/{slug}/settings`
pub async fn settings(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let sub = admin.get(&format!("/subscriptions/{}", seg(&path))).await?;
    Ok(render(
        StatusCode::OK,
        settings_page(&admin, &path, &sub, None, None),
    ))
}

/// `POST /admin/s/{slug}/settings`
pub async fn save_settings(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let branding: serde_json::Map<String, Value> = BRANDING
        .iter()
        .map(|(name, ..)| ((*name).to_owned(), json!(f.get(name))))
        .collect();
    let patch = json!({
        "name": f.get("name"),
        "settings": {
            "mfa_policy": f.get("mfa_policy"),
            "registration": f.get("registration"),
            "client_id_metadata_documents": f.get("client_id_metadata_documents") == "true",
            "mcp_resources": f.lines("mcp_resources"),
            "branding": branding,
            "default_language": f.get("default_language"),
        }
    });
    let p = format!("/subscriptions/{}", seg(&path));
    let a = admin.call(reqwest::Method::PATCH, &p, Some(&patch)).await?;
    let mut sub = admin.get(&p).await?;
    if a.status.is_success() {
        return Ok(render(
            StatusCode::OK,
            settings_page(&admin, &path, &sub, Some("Settings saved."), None),
        ));
    }
    // Nothing was saved: show the branding as typed, so the refused value can be fixed.
    sub["settings"]["branding"] = patch["settings"]["branding"].clone();
    let refused = Refusal {
        field: a
            .body
            .get("field")
            .and_then(Value::as_str)
            .map(str::to_owned),
        message: a
            .body
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| a.message(), str::to_owned),
    };
    Ok(render(
        StatusCode::OK,
        settings_page(&admin, &path, &sub, None, Some(&refused)),
    ))
}

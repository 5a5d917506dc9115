//! Connections of a subscription: list, add (LDAP, Active Directory, upstream OIDC),
//! edit, enable/disable, delete, and "Test connection" with the diagnosis step by step.
//!
//! The fields come from one table ([`form::FIELDS`]). Secrets are password inputs that
//! are never filled: not from the API (which only says `{"set": true}`), not from a
//! refused form; blank on edit means "keep the current one".

mod form;

use super::{Admin, ConsoleError, history, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use form::{FIELDS, Input, KINDS, body_of, current, kind_bit, secret_of, shown};
use maud::{Markup, html};
use serde_json::{Value, json};

/// A refused form: the API's message, and the setting it names (for `aria-invalid`).
struct Refusal {
    message: String,
    field: String,
}

impl Refusal {
    fn of(a: &super::api::Answer) -> Refusal {
        let field = s(&a.body, "field");
        // `domains[2]`, `attributes.mail`, `groups.filter`: the form field is the prefix.
        let top = field.split(['[', '.']).next().unwrap_or_default();
        let field = if top == "groups" {
            field.split('[').next().unwrap_or_default()
        } else {
            top
        };
        Refusal {
            message: a.message(),
            field: field.to_owned(),
        }
    }
}

/// The inputs of a form of `kind` with ids prefixed by `prefix`, filled from `c` (never
/// a secret). `stored_secret` is the API's view of the current secret when editing.
fn fields(
    prefix: &str,
    kind: &str,
    c: &Value,
    refusal: Option<&Refusal>,
    stored_secret: Option<&Value>,
) -> Markup {
    let bit = kind_bit(kind);
    let creating = stored_secret.is_none();
    let (secret, secret_label) = secret_of(kind);
    let error_id = format!("{prefix}-error");
    let invalid = |key: &str| refusal.is_some_and(|r| r.field == key);
    let id = |key: &str| format!("{prefix}-{}", key.replace(['.', '_'], "-"));
    html! {
        @for field in FIELDS.iter().filter(|f| f.kinds & bit != 0) {
            @let value = shown(current(c, field.key), field.input);
            @let fid = id(field.key);
            @let bad = invalid(field.key);
            @match field.input {
                Input::Check => {
                    label for=(fid) class="check" {
                        input id=(fid) type="checkbox" name=(field.key) value="true" checked[value == "true"]
                            aria-invalid=[bad.then_some("true")] aria-describedby=[bad.then_some(&error_id)];
                        " " (field.label)
                    }
                }
                Input::Tri => {
                    label for=(fid) { (field.label) }
                    select id=(fid) name=(field.key) aria-invalid=[bad.then_some("true")] aria-describedby=[bad.then_some(&error_id)] {
                        option value="" selected[value.is_empty()] { "Default" }
                        option value="true" selected[value == "true"] { "Yes" }
                        option value="false" selected[value == "false"] { "No" }
                    }
                }
                Input::Pem | Input::Lines | Input::Map | Input::Json => {
                    label for=(fid) { (field.label) }
                    textarea id=(fid) name=(field.key) aria-invalid=[bad.then_some("true")] aria-describedby=[bad.then_some(&error_id)] { (value) }
                }
                _ => {
                    label for=(fid) { (field.label) }
                    input id=(fid) name=(field.key) value=(value)
                        type=(if field.input == Input::Url { "url" } else if field.input == Input::Number { "number" } else { "text" })
                        required[field.required] placeholder=[(!field.placeholder.is_empty()).then_some(field.placeholder)]
                        aria-invalid=[bad.then_some("true")] aria-describedby=[bad.then_some(&error_id)];
                }
            }
            @if field.key == "client_id" || field.key == "bind_dn" {
                @let sid = id(secret);
                @let bad = invalid(secret);
                label for=(sid) { (secret_label) @if !creating { " — blank keeps the current one" } }
                input id=(sid) name=(secret) type="password" autocomplete="new-password" required[creating]
                    aria-invalid=[bad.then_some("true")] aria-describedby=[bad.then_some(&error_id)];
                @if let Some(stored) = stored_secret {
                    p class="muted" id={ (sid) "-state" } {
                        @if let Some(env) = stored["env"].as_str() { "Currently read from the environment variable " code { (env) } "." }
                        @else if stored["set"] == true { "A secret is set (never shown)." }
                        @else { "No secret is set." }
                    }
                }
            }
        }
        @if !creating {
            label for={ (prefix) "-enabled" } class="check" {
                input id={ (prefix) "-enabled" } type="checkbox" name="enabled" value="true" checked[c["enabled"] != false];
                " Enabled (a disabled connection is skipped at sign-in)"
            }
        }
    }
}

fn alert(prefix: &str, refusal: Option<&Refusal>) -> Markup {
    html! { @if let Some(r) = refusal { p role="alert" id={ (prefix) "-error" } { (r.message) } } }
}

fn diagnosis(name: &str, d: &Value) -> Markup {
    html! {
        section aria-labelledby="diag-title" {
            h2 id="diag-title" { "Test of " (name) ": " @if d["ok"] == true { span class="allow" { "passed" } } @else { span class="deny" { "failed" } } }
            ol class="steps" {
                @for step in d["steps"].as_array().map_or(&[][..], Vec::as_slice) {
                    li { strong { (s(step, "stage")) } " " @if step["ok"] == true { span class="allow" { "ok" } } @else { span class="deny" { "failed" } } ": " (s(step, "message")) }
                }
            }
        }
    }
}

fn test_button(admin: &Admin, slug: &str, c: &Value) -> Markup {
    html! {
        form method="post" action={ "/admin/s/" (seg(slug)) "/connections/" (seg(s(c, "id"))) "/test" } {
            input type="hidden" name="csrf" value=(admin.session.csrf);
            button type="submit" class="secondary" aria-label={ "Test connection " (s(c, "name")) } { "Test connection" }
        }
    }
}

/// What the list page shows besides the list.
#[derive(Default)]
struct ListView<'a> {
    banner: Option<&'a str>,
    result: Option<(&'a str, &'a Value)>,
    /// The refused create form: its kind, the draft (secrets removed) and the refusal.
    refused: Option<(&'a str, &'a Value, Refusal)>,
}

fn defaults(kind: &str) -> Value {
    match kind {
        "ldap" => json!({"user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))"}),
        _ => json!({}),
    }
}

fn list_page(admin: &Admin, slug: &str, list: &Value, view: ListView<'_>) -> Markup {
    layout(
        "Connections",
        Some(&admin.nav(Some(slug), "connections")),
        view.banner,
        html! {
            h1 { "Connections of " (slug) }
            @if let Some((name, d)) = view.result { (diagnosis(name, d)) }
            table {
                caption class="muted" { "Directories and upstream identity providers" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Enabled" } th scope="col" { "Actions" } } }
                tbody {
                    @for c in items(list) {
                        tr {
                            td { a href={ "/admin/s/" (seg(slug)) "/connections/" (seg(s(c, "id"))) } { (s(c, "name")) } }
                            td { (s(c, "kind")) }
                            td { @if c["enabled"] == false { "no" } @else { "yes" } }
                            td { (test_button(admin, slug, c)) }
                        }
                    }
                }
            }
            @if items(list).is_empty() { p { "No connections yet." } }
            @for (kind, prefix, title) in KINDS {
                @let refused = view.refused.as_ref().filter(|r| r.0 == kind);
                @let draft = refused.map_or_else(|| defaults(kind), |r| r.1.clone());
                section aria-labelledby={ "create-" (prefix) } {
                    h2 id={ "create-" (prefix) } { (title) }
                    (alert(prefix, refused.map(|r| &r.2)))
                    form method="post" action={ "/admin/s/" (seg(slug)) "/connections" } aria-labelledby={ "create-" (prefix) } {
                        input type="hidden" name="csrf" value=(admin.session.csrf);
                        input type="hidden" name="kind" value=(kind);
                        (fields(prefix, kind, &draft, refused.map(|r| &r.2), None))
                        button type="submit" { (title) }
                    }
                }
            }
        },
    )
}

fn api_base(slug: &str) -> String {
    format!("/subscriptions/{}/connections", seg(slug))
}

async fn list_of(admin: &Admin, slug: &str) -> Result<Value, ConsoleError> {
    admin.get(&format!("{}?limit=200", api_base(slug))).await
}

/// A refused draft without its secrets, to fill the form again.
fn draft(mut body: Value) -> Value {
    if let Some(m) = body.as_object_mut() {
        m.remove("bind_password");
        m.remove("client_secret");
    }
    body
}

/// `GET /admin/s/{slug}/connections`
pub async fn list(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let list = list_of(&admin, &path).await?;
    Ok(render(
        StatusCode::OK,
        list_page(&admin, &path, &list, ListView::default()),
    ))
}

/// `POST /admin/s/{slug}/connections`: add a connection of the form's `kind`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let form = admin.form(&req, &body)?;
    let kind = KINDS
        .iter()
        .map(|k| k.0)
        .find(|k| *k == form.get("kind"))
        .ok_or_else(|| ConsoleError::BadRequest("unknown connection kind".into()))?;
    let b = body_of(&form, kind, true);
    let a = admin
        .call(reqwest::Method::POST, &api_base(&path), Some(&b))
        .await?;
    let list = list_of(&admin, &path).await?;
    if a.status.is_success() {
        let banner = format!("Connection {} added.", form.get("name"));
        return Ok(render(
            StatusCode::CREATED,
            list_page(
                &admin,
                &path,
                &list,
                ListView {
                    banner: Some(&banner),
                    ..ListView::default()
                },
            ),
        ));
    }
    let d = draft(b);
    Ok(render(
        StatusCode::OK,
        list_page(
            &admin,
            &path,
            &list,
            ListView {
                refused: Some((kind, &d, Refusal::of(&a))),
                ..ListView::default()
            },
        ),
    ))
}

/// `POST /admin/s/{slug}/connections/{id}/test`: run the diagnosis.
pub async fn test(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let one = format!("{}/{}", api_base(&path.0), seg(&path.1));
    let conn = admin.get(&one).await?;
    let a = admin
        .call(reqwest::Method::POST, &format!("{one}/test"), None)
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::Api(a.status, a.message()));
    }
    let list = list_of(&admin, &path.0).await?;
    Ok(render(
        StatusCode::OK,
        list_page(
            &admin,
            &path.0,
            &list,
            ListView {
                result: Some((s(&conn, "name"), &a.body)),
                ..ListView::default()
            },
        ),
    ))
}

fn edit_page(
    admin: &Admin,
    slug: &str,
    c: &Value,
    banner: Option<&str>,
    refusal: Option<&Refusal>,
) -> Markup {
    let kind = s(c, "kind");
    let (secret, _) = secret_of(kind);
    let action = format!("/admin/s/{}/connections/{}", seg(slug), seg(s(c, "id")));
    let none = Value::Null;
    let stored = c.get(secret).unwrap_or(&none);
    layout(
        "Connection",
        Some(&admin.nav(Some(slug), "connections")),
        banner,
        html! {
            h1 id="edit-title" { "Connection " (s(c, "name")) " (" (kind) ")" }
            (alert("e", refusal))
            form method="post" action=(action) aria-labelledby="edit-title" {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                (fields("e", kind, c, refusal, Some(stored)))
                button type="submit" { "Save connection" }
            }
            h2 { "Check" }
            (test_button(admin, slug, c))
            h2 { "Delete" }
            form method="post" action={ (action) "/delete" } data-confirm={ "Delete the connection " (s(c, "name")) "? Its users stay, their links to it are removed." } {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                button type="submit" class="danger" { "Delete connection" }
            }
            (history(slug, "connection", s(c, "id"), "History of this connection"))
        },
    )
}

fn one_path(p: &(String, String)) -> String {
    format!("{}/{}", api_base(&p.0), seg(&p.1))
}

/// `GET /admin/s/{slug}/connections/{id}`
pub async fn edit(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let c = admin.get(&one_path(&path)).await?;
    Ok(render(
        StatusCode::OK,
        edit_page(&admin, &path.0, &c, None, None),
    ))
}

/// `POST /admin/s/{slug}/connections/{id}`: PATCH the connection (blank secret: kept).
pub async fn save(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let form = admin.form(&req, &body)?;
    let before = admin.get(&one_path(&path)).await?;
    let b = body_of(&form, s(&before, "kind"), false);
    let a = admin
        .call(reqwest::Method::PATCH, &one_path(&path), Some(&b))
        .await?;
    if a.status.is_success() {
        return Ok(render(
            StatusCode::OK,
            edit_page(&admin, &path.0, &a.body, Some("Connection saved."), None),
        ));
    }
    // The refused values stay in the form (never a secret); id, kind and the stored
    // secret's state come from the connection as it is.
    let mut again = draft(b);
    for k in ["id", "kind", "bind_password", "client_secret"] {
        if let Some(v) = before.get(k) {
            again[k] = v.clone();
        }
    }
    Ok(render(
        StatusCode::OK,
        edit_page(&admin, &path.0, &again, None, Some(&Refusal::of(&a))),
    ))
}

/// `POST /admin/s/{slug}/connections/{id}/delete`
pub async fn delete(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let c = admin.get(&one_path(&path)).await?;
    let a = admin
        .call(reqwest::Method::DELETE, &one_path(&path), None)
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::Api(a.status, a.message()));
    }
    let list = list_of(&admin, &path.0).await?;
    let banner = format!("Connection {} deleted.", s(&c, "name"));
    Ok(render(
        StatusCode::OK,
        list_page(
            &admin,
            &path.0,
            &list,
            ListView {
                banner: Some(&banner),
                ..ListView::default()
            },
        ),
    ))
}

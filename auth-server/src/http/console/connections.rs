//! Connections of a subscription: list, add (LDAP, Active Directory, upstream OIDC),
//! edit, enable/disable, delete, and "Test connection" with the diagnosis step by step.
//!
//! One table of fields ([`FIELDS`]) drives the three create forms, the edit form and the
//! JSON sent to the admin API, so a setting the API accepts is either in every form of
//! its kind or in none. Secrets are password inputs that are never filled: not from the
//! API (which only says `{"set": true}`), not from a refused form; blank on edit means
//! "keep the current one".

use super::{Admin, ConsoleError, Form, history, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

/// The kinds, with the id prefix of their create form and its heading.
const KINDS: [(&str, &str, &str); 3] = [
    ("ldap", "ldap", "Add an LDAP directory"),
    ("active_directory", "ad", "Add an Active Directory"),
    ("oidc", "oidc", "Add an upstream OpenID Connect provider"),
];

const LDAP: u8 = 1;
const AD: u8 = 2;
const OIDC: u8 = 4;
const DIR: u8 = LDAP | AD;
const ALL: u8 = DIR | OIDC;

/// How a setting is entered and sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    /// One line of text.
    Text,
    /// One line, `type="url"`.
    Url,
    /// A whole number.
    Number,
    /// Multi-line text (PEM).
    Pem,
    /// One value per line → array.
    Lines,
    /// Space-separated values → array.
    Words,
    /// `key=value` per line → object.
    Map,
    /// JSON text → any JSON value.
    Json,
    /// A checkbox: `true`, or absent.
    Check,
    /// Default / yes / no → absent, `true`, `false`.
    Tri,
}

/// One setting of a form. `key` is the API member; `groups.x` is the member `x` of the
/// `groups` object.
struct Field {
    key: &'static str,
    label: &'static str,
    input: Input,
    kinds: u8,
    required: bool,
    placeholder: &'static str,
}

const fn f(key: &'static str, label: &'static str, input: Input, kinds: u8) -> Field {
    Field {
        key,
        label,
        input,
        kinds,
        required: false,
        placeholder: "",
    }
}

const fn req(key: &'static str, label: &'static str, input: Input, kinds: u8) -> Field {
    Field {
        required: true,
        ..f(key, label, input, kinds)
    }
}

const fn ph(field: Field, placeholder: &'static str) -> Field {
    Field {
        placeholder,
        ..field
    }
}

const FIELDS: &[Field] = &[
    req("name", "Name", Input::Text, ALL),
    ph(
        req("url", "URL (ldap:// or ldaps://)", Input::Url, DIR),
        "ldaps://ldap.example.com",
    ),
    f("start_tls", "StartTLS on an ldap:// URL", Input::Check, DIR),
    ph(
        req("issuer", "Issuer URL", Input::Url, OIDC),
        "https://idp.example.com",
    ),
    req("client_id", "Client id at the provider", Input::Text, OIDC),
    req("bind_dn", "Service account DN", Input::Text, DIR),
    req("user_base_dn", "User base DN", Input::Text, DIR),
    f(
        "user_filter",
        "User filter ({username} is escaped by the server)",
        Input::Text,
        DIR,
    ),
    f(
        "domain",
        "NetBIOS domain (CORP in CORP\\alice)",
        Input::Text,
        AD,
    ),
    f(
        "upn_suffix",
        "UPN suffix (corp.example in alice@corp.example)",
        Input::Text,
        AD,
    ),
    f(
        "id_attribute",
        "Stable id attribute (default entryUUID, AD objectGUID)",
        Input::Text,
        DIR,
    ),
    f(
        "attributes",
        "User attributes (one per line: attribute=LDAP attribute)",
        Input::Map,
        DIR,
    ),
    ph(
        f(
            "scopes",
            "Scopes (space-separated; openid is always asked)",
            Input::Words,
            OIDC,
        ),
        "profile email",
    ),
    f(
        "claims",
        "User attributes (one per line: attribute=claim)",
        Input::Map,
        OIDC,
    ),
    f("groups_claim", "Groups claim", Input::Text, OIDC),
    f(
        "mfa_amr_values",
        "amr values counted as a second factor (space-separated)",
        Input::Words,
        OIDC,
    ),
    f(
        "trust_upstream_mfa",
        "Upstream MFA satisfies the 2FA policy",
        Input::Tri,
        OIDC,
    ),
    f(
        "groups.base_dn",
        "Group base DN (optional)",
        Input::Text,
        DIR,
    ),
    f("groups.filter", "Group object filter", Input::Text, DIR),
    ph(
        f(
            "groups.member_attribute",
            "Membership attribute (member, uniqueMember or memberUid)",
            Input::Text,
            DIR,
        ),
        "member",
    ),
    f("groups.use_member_of", "Read memberOf", Input::Tri, DIR),
    f("groups.nested", "Resolve nested groups", Input::Tri, DIR),
    f(
        "group_mappings",
        "Group mappings (JSON: [{\"directory_group\", \"workspace\", \"group\"}])",
        Input::Json,
        ALL,
    ),
    f(
        "domains",
        "E-mail domains claimed on the login form (one per line)",
        Input::Lines,
        ALL,
    ),
    f(
        "username_patterns",
        "Login-name patterns claimed (one per line, * wildcard)",
        Input::Lines,
        ALL,
    ),
    f(
        "ca_pem",
        "CA certificates (PEM, optional; replaces the system roots)",
        Input::Pem,
        ALL,
    ),
    f(
        "timeout_secs",
        "Timeout (seconds, 1-30)",
        Input::Number,
        DIR,
    ),
    f("pool_size", "Pooled connections (1-32)", Input::Number, DIR),
    f(
        "account_recheck_secs",
        "Account state trusted on refresh (seconds, 0-3600)",
        Input::Number,
        DIR,
    ),
];

fn kind_bit(kind: &str) -> u8 {
    match kind {
        "ldap" => LDAP,
        "active_directory" => AD,
        "oidc" => OIDC,
        _ => 0,
    }
}

/// The member holding the kind's secret, and its label.
fn secret_of(kind: &str) -> (&'static str, &'static str) {
    if kind == "oidc" {
        ("client_secret", "Client secret (write-only)")
    } else {
        ("bind_password", "Service account password (write-only)")
    }
}

/// The current value of `key` in a connection (or a refused draft).
fn current<'a>(c: &'a Value, key: &str) -> &'a Value {
    match key.split_once('.') {
        Some((outer, inner)) => &c[outer][inner],
        None => &c[key],
    }
}

/// A JSON value as the text of its input.
fn shown(v: &Value, input: Input) -> String {
    let strings = |sep: &str| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .unwrap_or_default()
    };
    match (input, v) {
        (_, Value::Null) => String::new(),
        (Input::Lines, _) => strings("\n"),
        (Input::Words, _) => strings(" "),
        (Input::Map, Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        (Input::Json, Value::Array(a)) if a.is_empty() => String::new(),
        (Input::Json, _) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The form value of `field` as JSON; `None` when left empty. A value the API would
/// refuse (a number that is not one, JSON that does not parse) is sent as the text, so
/// the API's error names the field.
fn sent(form: &Form, field: &Field) -> Option<Value> {
    let raw = form.get(field.key);
    match field.input {
        Input::Check => (raw == "true").then_some(Value::Bool(true)),
        Input::Tri => match raw {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ if raw.is_empty() => None,
        Input::Text | Input::Url | Input::Pem => Some(raw.into()),
        Input::Number => Some(raw.parse::<u64>().map_or_else(|_| raw.into(), Value::from)),
        Input::Lines => Some(json!(form.lines(field.key))),
        Input::Words => Some(json!(raw.split_whitespace().collect::<Vec<_>>())),
        Input::Map => Some(Value::Object(
            form.lines(field.key)
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                    (k.trim().to_owned(), Value::from(v.trim()))
                })
                .collect(),
        )),
        Input::Json => Some(serde_json::from_str(raw).unwrap_or_else(|_| raw.into())),
    }
}

/// The API body of a form of `kind`. Creating, empty settings are left out; editing,
/// they are `null` (JSON merge patch: removed). An empty secret is always left out (on
/// edit: kept).
fn body_of(form: &Form, kind: &str, creating: bool) -> Value {
    let bit = kind_bit(kind);
    let mut body = Map::new();
    let mut groups = Map::new();
    for field in FIELDS.iter().filter(|f| f.kinds & bit != 0) {
        let v = sent(form, field);
        // An unchecked StartTLS is `false` when editing, not a removal.
        let v = match (v, field.input, creating) {
            (None, Input::Check, false) => Some(Value::Bool(false)),
            (v, _, _) => v,
        };
        match field.key.split_once('.') {
            Some((_, inner)) => {
                if let Some(v) = v {
                    groups.insert(inner.to_owned(), v);
                }
            }
            None => {
                if let Some(v) = v {
                    body.insert(field.key.to_owned(), v);
                } else if !creating {
                    body.insert(field.key.to_owned(), Value::Null);
                }
            }
        }
    }
    if !groups.is_empty() {
        body.insert("groups".into(), Value::Object(groups));
    } else if !creating && bit & DIR != 0 {
        body.insert("groups".into(), Value::Null);
    }
    let (secret, _) = secret_of(kind);
    if !form.get(secret).is_empty() {
        body.insert(secret.into(), form.get(secret).into());
    }
    if creating {
        body.insert("kind".into(), kind.into());
    } else {
        body.insert("enabled".into(), (form.get("enabled") == "true").into());
    }
    Value::Object(body)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_create_body_has_only_the_kinds_filled_settings() {
        let f = form(&[
            ("name", "corp"),
            ("url", "ldap://dc.corp.example"),
            ("start_tls", "true"),
            ("bind_dn", "CN=svc"),
            ("bind_password", "pw"),
            ("user_base_dn", "DC=corp"),
            ("domain", "CORP"),
            ("issuer", "https://ignored.example"),
            ("groups.base_dn", "OU=groups"),
            ("groups.nested", "false"),
            ("timeout_secs", "7"),
            ("domains", "corp.example\n\nother.example"),
            ("attributes", "email = mail\nname=displayName"),
        ]);
        let b = body_of(&f, "active_directory", true);
        assert_eq!(
            b,
            json!({"name": "corp", "kind": "active_directory", "url": "ldap://dc.corp.example",
                "start_tls": true, "bind_dn": "CN=svc", "bind_password": "pw", "user_base_dn": "DC=corp",
                "domain": "CORP", "groups": {"base_dn": "OU=groups", "nested": false}, "timeout_secs": 7,
                "domains": ["corp.example", "other.example"],
                "attributes": {"email": "mail", "name": "displayName"}})
        );
    }

    #[test]
    fn an_edit_body_removes_emptied_settings_and_keeps_a_blank_secret() {
        let f = form(&[
            ("name", "up"),
            ("issuer", "https://idp.example"),
            ("client_id", "as"),
            ("client_secret", ""),
            ("scopes", "profile  email"),
            ("trust_upstream_mfa", "false"),
        ]);
        let b = body_of(&f, "oidc", false);
        assert!(b.get("client_secret").is_none(), "{b}");
        assert_eq!(b["scopes"], json!(["profile", "email"]));
        assert_eq!(b["trust_upstream_mfa"], false);
        assert_eq!(b["groups_claim"], Value::Null);
        assert_eq!(b["enabled"], false);
        assert!(b.get("kind").is_none() && b.get("url").is_none(), "{b}");
    }

    #[test]
    fn unparsable_numbers_and_json_reach_the_api_as_text_to_be_named() {
        let f = form(&[("timeout_secs", "soon"), ("group_mappings", "[oops")]);
        let b = body_of(&f, "ldap", true);
        assert_eq!(b["timeout_secs"], "soon");
        assert_eq!(b["group_mappings"], "[oops");
    }

    #[test]
    fn values_show_as_their_inputs_text() {
        assert_eq!(shown(&json!(["a", "b"]), Input::Words), "a b");
        assert_eq!(shown(&json!({"email": "mail"}), Input::Map), "email=mail");
        assert_eq!(shown(&json!(5), Input::Number), "5");
        assert_eq!(shown(&json!([]), Input::Json), "");
        assert_eq!(shown(&Value::Null, Input::Text), "");
    }
}

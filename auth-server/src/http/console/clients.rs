//! Clients of a subscription: list, create (secret shown once), edit (redirect URIs,
//! grant types, scope, flags) and secret rotation (shown once).

use super::{Admin, ConsoleError, Form, history, items, layout, once, render, s, see_other, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

const GRANTS: [(&str, &str); 4] = [
    ("authorization_code", "Authorization code (+PKCE)"),
    ("refresh_token", "Refresh token"),
    ("client_credentials", "Client credentials"),
    (
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "Token exchange (run-as)",
    ),
];
const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

fn strings(v: &Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The shared create/edit fields; `c` is the current client (or defaults).
fn fields(c: &Value, creating: bool) -> Markup {
    let grants = strings(c, "grant_types");
    let check = |k: &str| c[k] == true;
    html! {
        label for="c-name" { "Name" }
        input id="c-name" name="name" required value=(s(c, "name"));
        label for="c-redirects" { "Redirect URIs (one per line, matched exactly)" }
        textarea id="c-redirects" name="redirect_uris" { (strings(c, "redirect_uris").join("\n")) }
        label for="c-logout" { "Post-logout redirect URIs (one per line)" }
        textarea id="c-logout" name="post_logout_redirect_uris" { (strings(c, "post_logout_redirect_uris").join("\n")) }
        fieldset {
            legend { "Grant types" }
            @for (g, label) in GRANTS {
                label { input type="checkbox" name="grant_types" value=(g) checked[grants.iter().any(|x| x == g)]; " " (label) }
            }
        }
        label for="c-scope" { "Scope (space-separated)" }
        input id="c-scope" name="scope" value=(s(c, "scope"));
        @if creating {
            label for="c-auth" { "Token endpoint authentication" }
            select id="c-auth" name="token_endpoint_auth_method" {
                @for m in AUTH_METHODS { option value=(m) selected[s(c, "token_endpoint_auth_method") == m] { (m) } }
            }
        }
        label for="c-format" { "Access token format" }
        select id="c-format" name="access_token_format" {
            @for f in ["jwt", "opaque"] { option value=(f) selected[s(c, "access_token_format") == f] { (f) } }
        }
        label for="c-aud" { "Audience (one per line; empty: the client id)" }
        textarea id="c-aud" name="audience" { (strings(c, "audience").join("\n")) }
        fieldset {
            legend { "Options" }
            label { input type="checkbox" name="introspection" value="true" checked[check("introspection")]; " May introspect" }
            label { input type="checkbox" name="skip_consent" value="true" checked[check("skip_consent")]; " First-party (no consent screen)" }
            @if !creating {
                label { input type="checkbox" name="enabled" value="true" checked[check("enabled")]; " Enabled" }
            }
        }
    }
}

fn body_of(f: &Form, creating: bool) -> Value {
    let mut b = json!({
        "name": f.get("name"),
        "redirect_uris": f.lines("redirect_uris"),
        "post_logout_redirect_uris": f.lines("post_logout_redirect_uris"),
        "grant_types": f.all("grant_types"),
        "scope": f.get("scope"),
        "access_token_format": f.get("access_token_format"),
        "audience": f.lines("audience"),
        "introspection": f.get("introspection") == "true",
        "skip_consent": f.get("skip_consent") == "true",
    });
    if creating {
        b["token_endpoint_auth_method"] = json!(f.get("token_endpoint_auth_method"));
    } else {
        b["enabled"] = json!(f.get("enabled") == "true");
    }
    b
}

fn list_page(
    admin: &Admin,
    slug: &str,
    list: &Value,
    draft: &Value,
    error: Option<&str>,
) -> Markup {
    layout(
        "Clients",
        Some(&admin.nav(Some(slug), "clients")),
        None,
        html! {
            h1 { "Clients of " (slug) }
            table {
                caption class="muted" { "Registered clients" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "client_id" } th scope="col" { "Grant types" } th scope="col" { "Enabled" } } }
                tbody {
                    @for c in items(list) {
                        tr {
                            td { a href={ "/admin/s/" (seg(slug)) "/clients/" (seg(s(c, "client_id"))) } { (s(c, "name")) } }
                            td { code { (s(c, "client_id")) } }
                            td { (strings(c, "grant_types").join(", ")) }
                            td { @if c["enabled"] == true { "yes" } @else { "no" } }
                        }
                    }
                }
            }
            h2 id="create" { "Create a client" }
            @if let Some(e) = error { p role="alert" { (e) } }
            form method="post" action={ "/admin/s/" (seg(slug)) "/clients" } aria-labelledby="create" {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                (fields(draft, true))
                button type="submit" { "Create client" }
            }
        },
    )
}

fn defaults() -> Value {
    json!({"grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile email offline_access",
           "token_endpoint_auth_method": "client_secret_basic", "access_token_format": "jwt"})
}

/// `GET /admin/s/{slug}/clients`
pub async fn list(admin: Admin, path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let list = admin
        .get(&format!("/subscriptions/{}/clients?limit=200", seg(&path)))
        .await?;
    Ok(render(
        StatusCode::OK,
        list_page(&admin, &path, &list, &defaults(), None),
    ))
}

/// `POST /admin/s/{slug}/clients`: create; the secret is shown once.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let b = body_of(&f, true);
    let base = format!("/subscriptions/{}/clients", seg(&path));
    let a = admin.call(reqwest::Method::POST, &base, Some(&b)).await?;
    if a.status != StatusCode::CREATED {
        let list = admin.get(&format!("{base}?limit=200")).await?;
        return Ok(render(
            StatusCode::OK,
            list_page(&admin, &path, &list, &b, Some(&a.message())),
        ));
    }
    let id = s(&a.body, "client_id");
    Ok(render(
        StatusCode::CREATED,
        layout(
            "Client created",
            Some(&admin.nav(Some(&path), "clients")),
            Some("Client created."),
            html! {
                h1 { "Client " (s(&b, "name")) }
                section class="once" aria-labelledby="cred-title" {
                    h2 id="cred-title" { "Client credentials" }
                    (once("client-id", "client_id", id))
                    @if let Some(secret) = a.body["client_secret"].as_str() {
                        p role="alert" { strong { "Copy the secret now: you will not see this again." } }
                        (once("client-secret", "client_secret", secret))
                    }
                }
                p { a href={ "/admin/s/" (seg(&path)) "/clients/" (seg(id)) } { "Edit this client" } }
            },
        ),
    ))
}

fn edit_page(
    admin: &Admin,
    slug: &str,
    c: &Value,
    banner: Option<&str>,
    error: Option<&str>,
    secret: Option<&str>,
) -> Markup {
    let id = s(c, "client_id");
    let action = format!("/admin/s/{}/clients/{}", seg(slug), seg(id));
    layout(
        "Client",
        Some(&admin.nav(Some(slug), "clients")),
        banner,
        html! {
            h1 { "Client " (s(c, "name")) }
            p { "client_id " code { (id) } ", authentication " code { (s(c, "token_endpoint_auth_method")) } }
            @if let Some(secret) = secret {
                section class="once" aria-labelledby="rot-title" {
                    h2 id="rot-title" { "New client secret" }
                    p role="alert" { strong { "Copy the secret now: you will not see this again." } " The old secret no longer works." }
                    (once("client-secret", "client_secret", secret))
                }
            }
            @if let Some(e) = error { p role="alert" { (e) } }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(admin.session.csrf);
                (fields(c, false))
                button type="submit" { "Save client" }
            }
            @if s(c, "token_endpoint_auth_method").starts_with("client_secret") {
                h2 { "Secret" }
                form method="post" action={ (action) "/rotate" } data-confirm="Rotate the secret? The current one stops working at once." {
                    input type="hidden" name="csrf" value=(admin.session.csrf);
                    button type="submit" class="danger" { "Rotate secret" }
                }
            }
            (history(slug, "client", id, "History of this client"))
        },
    )
}

fn client_path(p: &(String, String)) -> String {
    format!("/subscriptions/{}/clients/{}", seg(&p.0), seg(&p.1))
}

/// `GET /admin/s/{slug}/clients/{id}`
pub async fn edit(
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let c = admin.get(&client_path(&path)).await?;
    Ok(render(
        StatusCode::OK,
        edit_page(&admin, &path.0, &c, None, None, None),
    ))
}

/// `POST /admin/s/{slug}/clients/{id}`: PATCH the client.
pub async fn save(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let f = admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::PATCH,
            &client_path(&path),
            Some(&body_of(&f, false)),
        )
        .await?;
    if a.status.is_success() {
        return Ok(render(
            StatusCode::OK,
            edit_page(&admin, &path.0, &a.body, Some("Client saved."), None, None),
        ));
    }
    let c = admin.get(&client_path(&path)).await?;
    Ok(render(
        StatusCode::OK,
        edit_page(&admin, &path.0, &c, None, Some(&a.message()), None),
    ))
}

/// `POST /admin/s/{slug}/clients/{id}/rotate`: new secret, shown once.
pub async fn rotate(
    req: HttpRequest,
    body: web::Bytes,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    admin.form(&req, &body)?;
    let a = admin
        .call(
            reqwest::Method::POST,
            &format!("{}/rotate-secret", client_path(&path)),
            None,
        )
        .await?;
    if !a.status.is_success() {
        return Err(ConsoleError::Api(a.status, a.message()));
    }
    let c = admin.get(&client_path(&path)).await?;
    let secret = s(&a.body, "client_secret").to_owned();
    if secret.is_empty() {
        return Ok(see_other(&format!(
            "/admin/s/{}/clients/{}",
            seg(&path.0),
            seg(&path.1)
        )));
    }
    Ok(render(
        StatusCode::OK,
        edit_page(
            &admin,
            &path.0,
            &c,
            Some("Secret rotated."),
            None,
            Some(&secret),
        ),
    ))
}

//! Signing keys: status and rotation.

use super::{Admin, ConsoleError, items, layout, render, s, seg};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
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

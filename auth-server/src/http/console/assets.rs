//! The console's stylesheet and script, compiled into the binary (no CDN).

use actix_web::HttpResponse;
use actix_web::http::header;

const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body)
}

/// `GET /admin/assets/console.css`
pub async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

/// `GET /admin/assets/console.js`
pub async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", JS)
}

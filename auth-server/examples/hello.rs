//! The benchmark ceiling: an actix-web hello-world with the same worker count as the
//! server, so the bench can say how close auth-server gets to the framework's limit.
//! `cargo run --release -p auth-server --example hello -- 127.0.0.1:9000`

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    HttpServer::new(|| {
        App::new()
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("hello") }),
            )
            .route(
                "/",
                web::post().to(|| async { HttpResponse::Ok().body("hello") }),
            )
    })
    .bind(addr)?
    .run()
    .await
}

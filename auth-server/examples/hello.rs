//! The benchmark ceiling: an actix-web hello-world with the same worker count as the
//! server, so the bench can say how close auth-server gets to the framework's limit.
//! `GET /bytes/{n}` answers `n` bytes instead (at most 1 MiB), so the bench can show what
//! the size of a document alone costs at the ceiling.
//! `cargo run --release -p auth-server --example hello -- 127.0.0.1:9000`

use actix_web::{App, HttpResponse, HttpServer, web};

/// `n` bytes of JSON-safe filler, made once per size.
async fn bytes(n: web::Path<usize>) -> HttpResponse {
    thread_local! {
        static BODY: std::cell::RefCell<web::Bytes> = std::cell::RefCell::default();
    }
    let n = n.into_inner().min(1 << 20);
    let body = BODY.with_borrow_mut(|b| {
        if b.len() != n {
            *b = web::Bytes::from(vec![b'x'; n]);
        }
        b.clone()
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

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
            .route("/bytes/{n}", web::get().to(bytes))
    })
    .bind(addr)?
    .run()
    .await
}

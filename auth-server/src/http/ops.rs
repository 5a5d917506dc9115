//! Operations endpoints: liveness, readiness (database and Redis reachable) and metrics.

use super::state::Metrics;
use crate::service::Ctx;
use actix_web::{HttpResponse, get, web};

/// `GET /healthz`: the process answers.
#[get("/healthz")]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 only when the database and the ephemeral store answer.
#[get("/readyz")]
pub async fn get_readyz(ctx: web::Data<Ctx>) -> HttpResponse {
    let db = ctx.store.ping().await.is_ok();
    let cache = ctx.cache.ping().await.is_ok();
    let body = serde_json::json!({"database": if db { "ok" } else { "down" }, "cache": if cache { "ok" } else { "down" }});
    if db && cache {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text format.
#[get("/metrics")]
pub async fn get_metrics(metrics: web::Data<Metrics>, ctx: web::Data<Ctx>) -> HttpResponse {
    metrics.observe_pool(ctx.store.pool_status());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

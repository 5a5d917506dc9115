//! Per-application HTTP state beside the service [`Ctx`](crate::service::Ctx): the
//! Prometheus registry (one per app, no globals, so two apps can run in one process).

use crate::store::PoolStatus;
use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Prometheus metrics of one application.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Request latency by route pattern, method and status.
    pub requests: HistogramVec,
    /// Tokens issued by grant type.
    pub tokens_issued: IntCounterVec,
    /// Introspection calls.
    pub introspections: IntCounter,
    /// Failed logins.
    pub login_failures: IntCounter,
    /// Database pool connections by state (`idle`, `in_use`), read at each scrape.
    pub db_pool: IntGaugeVec,
    /// The database pool's bound: `in_use` reaching it means requests queue for a
    /// connection (and answer 503 after the 2 s acquire timeout).
    pub db_pool_max: IntGauge,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["route", "method", "status"],
        )?;
        let tokens_issued = IntCounterVec::new(
            Opts::new("tokens_issued_total", "Tokens issued by grant type"),
            &["grant_type"],
        )?;
        let introspections = IntCounter::new("introspections_total", "Token introspections")?;
        let login_failures = IntCounter::new("login_failures_total", "Failed password logins")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(tokens_issued.clone()))?;
        registry.register(Box::new(introspections.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        let db_pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let db_pool_max = IntGauge::new("db_pool_max_connections", "Database pool bound")?;
        registry.register(Box::new(db_pool.clone()))?;
        registry.register(Box::new(db_pool_max.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            tokens_issued,
            introspections,
            login_failures,
            db_pool,
            db_pool_max,
        })
    }

    /// Add metrics kept elsewhere (the Redis store's command latency and errors).
    pub fn register(&self, collector: Box<dyn Collector>) -> Result<(), prometheus::Error> {
        self.registry.register(collector)
    }

    /// Record the database pool's state (at each scrape: it is a reading, not an event).
    pub fn observe_pool(&self, pool: PoolStatus) {
        let in_use = pool.open.saturating_sub(pool.idle);
        self.db_pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.db_pool
            .with_label_values(&["in_use"])
            .set(i64::from(in_use));
        self.db_pool_max.set(i64::from(pool.max));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

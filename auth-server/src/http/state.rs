//! Per-application HTTP state beside the service [`Ctx`](crate::service::Ctx): the
//! Prometheus registry (one per app, no globals, so two apps can run in one process).

use super::latency::{LatencyHistogram, Shard};
use crate::store::PoolStatus;
use prometheus::core::Collector;
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;

/// Prometheus metrics of one application.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Request latency by route pattern, method and status, as scraped.
    requests: LatencyHistogram,
    /// This handle's part of `requests`: each worker writes its own (see
    /// [`Metrics::for_worker`]).
    pub latency: Arc<Shard>,
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
        let requests = LatencyHistogram::new()?;
        let latency = requests.shard();
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
            latency,
            tokens_issued,
            introspections,
            login_failures,
            db_pool,
            db_pool_max,
        })
    }

    /// The same metrics with a latency shard of its own, for one worker.
    pub fn for_worker(&self) -> Metrics {
        Metrics {
            latency: self.requests.shard(),
            ..self.clone()
        }
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

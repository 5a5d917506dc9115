//! Per-application HTTP state beside the service [`Ctx`](crate::service::Ctx): the
//! Prometheus registry (one per app, no globals, so two apps can run in one process).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
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
        Ok(Metrics {
            registry,
            requests,
            tokens_issued,
            introspections,
            login_failures,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

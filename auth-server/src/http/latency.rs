//! The request latency histogram, kept per worker and merged when scraped.
//!
//! prometheus's `HistogramVec` is shared by every worker: each observation takes a read
//! lock on the series map, clones the series' `Arc` and makes four atomic writes to its
//! counters. With two workers on two cores those cache lines move between the cores on
//! every request (docs/performance.md, session 14). Here each worker writes its own
//! [`Shard`], behind a lock only a scrape ever contends for, and a scrape adds the shards.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The upper bounds of the buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The counts of one series (route, method, status) in one shard.
#[derive(Debug, Default)]
struct Counts {
    /// Observations per bucket, not cumulative (the one an observation falls in).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Counts {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|upper| seconds <= *upper) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn add(&mut self, other: &Counts) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// One series' method and status, and its counts.
type Series = (String, String, Counts);

/// One worker's part of the histogram: series by route, then by method and status (a
/// route has a handful of those, so they are scanned).
#[derive(Debug, Default)]
pub struct Shard(Mutex<HashMap<String, Vec<Series>>>);

impl Shard {
    /// Count one request of `route` answered with `status` after `seconds`.
    pub fn observe(&self, route: &str, method: &str, status: &str, seconds: f64) {
        let mut routes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let series = match routes.get_mut(route) {
            Some(series) => series,
            None => routes.entry(route.to_owned()).or_default(),
        };
        match series
            .iter_mut()
            .find(|(m, s, _)| m == method && s == status)
        {
            Some((_, _, counts)) => counts.observe(seconds),
            None => {
                let mut counts = Counts::default();
                counts.observe(seconds);
                series.push((method.to_owned(), status.to_owned(), counts));
            }
        }
    }
}

/// `http_request_duration_seconds` by route pattern, method and status: the collector
/// registered once, and the shards the workers write.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    desc: Arc<Desc>,
    shards: Arc<Mutex<Vec<Arc<Shard>>>>,
}

impl LatencyHistogram {
    /// A histogram without observations or shards.
    pub fn new() -> Result<Self, prometheus::Error> {
        let desc = Desc::new(
            "http_request_duration_seconds".into(),
            "HTTP request latency".into(),
            vec!["route".into(), "method".into(), "status".into()],
            HashMap::new(),
        )?;
        Ok(LatencyHistogram {
            desc: Arc::new(desc),
            shards: Arc::default(),
        })
    }

    /// A new shard for one worker, counted in every scrape from now on. A shard outlives
    /// its worker (a restarted worker gets a new one), so no count is ever lost.
    pub fn shard(&self) -> Arc<Shard> {
        let shard = Arc::new(Shard::default());
        self.shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&shard));
        shard
    }

    /// Every shard's counts added up, by (route, method, status).
    fn merged(&self) -> BTreeMap<(String, String, String), Counts> {
        let shards = self
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut merged: BTreeMap<(String, String, String), Counts> = BTreeMap::new();
        for shard in shards {
            let routes = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            for (route, series) in routes.iter() {
                for (method, status, counts) in series {
                    merged
                        .entry((route.clone(), method.clone(), status.clone()))
                        .or_default()
                        .add(counts);
                }
            }
        }
        merged
    }
}

impl Collector for LatencyHistogram {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = self
            .merged()
            .into_iter()
            .map(|((route, method, status), counts)| {
                let mut histogram = Histogram::default();
                histogram.set_sample_count(counts.count);
                histogram.set_sample_sum(counts.sum);
                let mut cumulative = 0;
                histogram.set_bucket(
                    BUCKETS
                        .iter()
                        .zip(counts.buckets)
                        .map(|(upper, n)| {
                            cumulative += n;
                            let mut bucket = Bucket::default();
                            bucket.set_upper_bound(*upper);
                            bucket.set_cumulative_count(cumulative);
                            bucket
                        })
                        .collect(),
                );
                let mut metric = Metric::default();
                // By label name, as prometheus's own vectors order them.
                metric.set_label(vec![
                    label("method", method),
                    label("route", route),
                    label("status", status),
                ]);
                metric.set_histogram(histogram);
                metric
            })
            .collect();
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(metrics);
        vec![family]
    }
}

fn label(name: &str, value: String) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.into());
    pair.set_value(value);
    pair
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, HistogramOpts, HistogramVec, Registry, TextEncoder};

    fn text(registry: &Registry) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn the_shards_scrape_as_one_prometheus_histogram_would() {
        // The same observations into prometheus's own histogram and into two shards.
        let reference = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(BUCKETS.to_vec()),
            &["route", "method", "status"],
        )
        .unwrap();
        let ours = LatencyHistogram::new().unwrap();
        let (a, b) = (ours.shard(), ours.shard());
        let observations = [
            ("/t/{slug}/introspect", "POST", "200", 0.0001),
            ("/t/{slug}/introspect", "POST", "200", 0.003),
            ("/t/{slug}/introspect", "POST", "401", 0.0007),
            ("/t/{slug}/token", "POST", "200", 0.25),
            ("/t/{slug}/token", "POST", "200", 7.5),
            ("/healthz", "GET", "200", 0.0005),
        ];
        for (i, (route, method, status, seconds)) in observations.iter().enumerate() {
            reference
                .with_label_values(&[route, method, status])
                .observe(*seconds);
            let shard = if i % 2 == 0 { &a } else { &b };
            shard.observe(route, method, status, *seconds);
        }
        let (expected, actual) = (Registry::new(), Registry::new());
        expected.register(Box::new(reference)).unwrap();
        actual.register(Box::new(ours.clone())).unwrap();
        assert_eq!(text(&actual), text(&expected));
        assert!(text(&actual).contains(
            "http_request_duration_seconds_count{method=\"POST\",route=\"/t/{slug}/token\",status=\"200\"} 2"
        ));

        // A shard added later (a restarted worker) adds to what the others counted.
        ours.shard().observe("/healthz", "GET", "200", 0.0004);
        assert!(text(&actual).contains(
            "http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
    }
}

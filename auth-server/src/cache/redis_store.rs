//! Redis-backed [`Ephemeral`], shared by every instance. Single use is atomic in Redis
//! itself (`GETDEL`, `SET NX PX`), so a code redeemed on one instance is gone on all.
//!
//! Standalone Redis (`redis://`, `rediss://`, …) goes through a connection manager that
//! reconnects by itself; Redis Cluster (`redis+cluster://host:port,host:port`) through
//! the cluster client, which follows slot moves and failovers; Redis behind Sentinel
//! (`redis+sentinel://`) through [`SentinelConn`], which asks the Sentinels for the
//! master again whenever its connection breaks or the master was demoted. Every command touches one
//! key (the Lua counter script included), so nothing needs a hash tag. Every command is
//! bounded by a response timeout so that no request hangs when Redis is away.
//!
//! TLS (`rediss://`, `rediss+cluster://`) is rustls with the `ring` provider, verifying
//! the server certificate and host name against the system roots, plus the CA
//! certificates of `AUTH_REDIS_CA_FILE` for a private PKI. There is no way to turn
//! verification off: a Redis holding authorization codes and sessions that an attacker
//! can impersonate hands out logins.

use super::sentinel::{self, SentinelConn};
use super::{CacheError, Ephemeral};
use redis::AsyncCommands;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use std::path::Path;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// One connection handle, whichever the deployment.
#[derive(Clone)]
enum Conn {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Standalone(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Standalone(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}

/// The seed node URLs of a `redis+cluster://` or `rediss+cluster://` URL: credentials
/// (if any) apply to every node. `None` when `url` is not a cluster URL.
pub fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    let (scheme, rest) = url.split_once("://")?;
    let node_scheme = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => "redis",
        "rediss+cluster" => "rediss",
        _ => return None,
    };
    let rest = rest.split(['/', '?']).next().unwrap_or_default();
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| format!("{node_scheme}://{auth}{h}"))
        .collect();
    (!nodes.is_empty()).then_some(nodes)
}

/// Latency and failures of Redis commands, per command (`/metrics`). Owned by the
/// store, not a global registry, so that two apps in one test process count apart.
#[derive(Clone)]
struct Stats {
    latency: prometheus::HistogramVec,
    errors: prometheus::IntCounterVec,
}

impl Stats {
    fn new() -> Result<Stats, prometheus::Error> {
        let latency = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "redis_command_duration_seconds",
                "Redis command latency, failures included",
            )
            .buckets(vec![
                0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0, 5.0,
            ]),
            &["command"],
        )?;
        let errors = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "redis_errors_total",
                "Redis commands that failed (unreachable, timed out, refused)",
            ),
            &["command"],
        )?;
        Ok(Stats { latency, errors })
    }
}

/// Redis store with a key namespace (tests use one per test; never FLUSHDB).
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    prefix: String,
    stats: Stats,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn unavailable(e: redis::RedisError) -> CacheError {
    CacheError::Unavailable(e.to_string())
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The trust anchors for a TLS Redis with `ca_file`: the system roots and the file's
/// certificates, as PEM (the redis crate replaces its roots with whatever it is given, so
/// the system roots are passed along to keep them).
fn tls_roots(ca_file: &Path) -> Result<redis::TlsCertificates, CacheError> {
    let shown = ca_file.display();
    let pem = std::fs::read(ca_file).map_err(|e| {
        CacheError::Config(format!("AUTH_REDIS_CA_FILE: {shown} cannot be read ({e})"))
    })?;
    let extra = crate::trust::pem_certificates(&pem)
        .map_err(|e| CacheError::Config(format!("AUTH_REDIS_CA_FILE: {shown}: {e}")))?;
    let mut roots = crate::trust::system_roots();
    roots.extend(extra);
    Ok(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(crate::trust::to_pem(&roots)),
    })
}

/// A connection failure, with the hint an operator needs when it is the certificate.
fn connect_failed(e: redis::RedisError) -> CacheError {
    let text = e.to_string();
    let hint = if text.contains("certificate") || text.contains("UnknownIssuer") {
        " (the Redis server's TLS certificate is not trusted: check its host name, or add \
         its CA to AUTH_REDIS_CA_FILE)"
    } else {
        ""
    };
    CacheError::Unavailable(format!("{text}{hint}"))
}

impl RedisStore {
    /// Connect to `url` (standalone or `redis+cluster://`); keys are prefixed with `prefix`.
    /// `ca_file` adds trust anchors for a TLS URL (`AUTH_REDIS_CA_FILE`).
    pub async fn connect(
        url: &str,
        prefix: &str,
        ca_file: Option<&Path>,
    ) -> Result<RedisStore, CacheError> {
        // The redis crate builds its rustls configuration with the process-wide default
        // provider: make it `ring`, the one the rest of the server uses, so that the choice
        // never depends on which rustls features another dependency happens to enable. An
        // error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = ca_file.map(tls_roots).transpose()?;
        let stats = Stats::new().map_err(|e| CacheError::Config(format!("metrics: {e}")))?;
        if let Some(parsed) = sentinel::parse_url(url) {
            let parsed = parsed.map_err(CacheError::Config)?;
            if certs.is_some() {
                return Err(CacheError::Config(
                    "AUTH_REDIS_CA_FILE: Sentinel URLs are plain text only".into(),
                ));
            }
            let conn = SentinelConn::connect(&parsed, CONNECT_TIMEOUT, RESPONSE_TIMEOUT)
                .await
                .map_err(connect_failed)?;
            return Ok(RedisStore {
                conn: Conn::Sentinel(conn),
                prefix: prefix.to_owned(),
                stats,
            });
        }
        let conn = match cluster_nodes(url) {
            Some(nodes) => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(nodes);
                if let Some(certs) = certs {
                    builder = builder.certs(certs);
                }
                let client = builder
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(2)
                    .build()
                    .map_err(unavailable)?;
                let conn =
                    tokio::time::timeout(Duration::from_secs(5), client.get_async_connection())
                        .await
                        .map_err(|_| {
                            CacheError::Unavailable("timed out connecting to Redis".into())
                        })?
                        .map_err(connect_failed)?;
                Conn::Cluster(conn)
            }
            None => {
                let client = match certs {
                    Some(certs) => redis::Client::build_with_tls(url, certs),
                    None => redis::Client::open(url),
                }
                .map_err(unavailable)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                let conn = tokio::time::timeout(
                    Duration::from_secs(5),
                    ConnectionManager::new_with_config(client, config),
                )
                .await
                .map_err(|_| CacheError::Unavailable("timed out connecting to Redis".into()))?
                .map_err(connect_failed)?;
                Conn::Standalone(conn)
            }
        };
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
            stats,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// Run one command, recording its latency and, if it fails, the failure.
    async fn timed<T>(
        &self,
        command: &'static str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        let timer = self
            .stats
            .latency
            .with_label_values(&[command])
            .start_timer();
        let result = call.await;
        timer.observe_duration();
        if result.is_err() {
            self.stats.errors.with_label_values(&[command]).inc();
        }
        result.map_err(unavailable)
    }
}

#[async_trait::async_trait]
impl Ephemeral for RedisStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .clone();
        self.timed("set", cmd.query_async::<()>(&mut c)).await
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, CacheError> {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .clone();
        let reply: Option<String> = self.timed("set_nx", cmd.query_async(&mut c)).await?;
        Ok(reply.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut c = self.conn.clone();
        let k = self.key(key);
        self.timed("get", c.get(k)).await
    }

    async fn get_pair(&self, a: &str, b: &str) -> Result<super::Pair, CacheError> {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("MGET").arg(self.key(a)).arg(self.key(b)).clone();
        self.timed("mget", cmd.query_async(&mut c)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("GETDEL").arg(self.key(key)).clone();
        self.timed("getdel", cmd.query_async(&mut c)).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut c = self.conn.clone();
        let k = self.key(key);
        self.timed("del", c.del::<_, ()>(k)).await
    }

    async fn incr_by(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError> {
        let mut c = self.conn.clone();
        let k = self.key(key);
        // INCRBY and the first PEXPIRE in one script, so a counter never lives forever.
        let script = redis::Script::new(
            "local n = redis.call('INCRBY', KEYS[1], ARGV[2]) if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
        );
        let mut invocation = script.key(k);
        invocation.arg(millis(ttl)).arg(by);
        self.timed("incr", invocation.invoke_async(&mut c)).await
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut c = self.conn.clone();
        let cmd = redis::cmd("PING");
        self.timed("ping", cmd.query_async::<String>(&mut c))
            .await
            .map(|_| ())
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.stats.latency.clone()),
            Box::new(self.stats.errors.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::cluster_nodes;

    #[test]
    fn a_cluster_url_names_every_seed_node_with_the_shared_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://u:p@a:7000,b:7001/"),
            Some(vec![
                "redis://u:p@a:7000".into(),
                "redis://u:p@b:7001".into()
            ])
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://h:6380"),
            Some(vec!["rediss://h:6380".into()])
        );
        assert_eq!(cluster_nodes("redis://h:6379"), None);
        assert_eq!(cluster_nodes("redis+cluster://"), None);
    }
}

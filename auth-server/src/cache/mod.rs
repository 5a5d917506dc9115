//! Ephemeral shared state: authorization codes, login sessions, authorization
//! transactions, CSRF, replay tombstones, single-use `jti`s and counters.
//!
//! Two implementations of one trait: Redis (`AUTH_REDIS_URL`, shared by every instance)
//! and an in-process map (single instance, the embedded default). TTLs here only bound
//! memory: every value that expires by contract carries its own `expires_at`, checked by
//! the service against the injected clock, so tests can move time without sleeping.
//! Every key carries the store's namespace prefix.

mod memory;
mod redis_store;
mod sentinel;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use sentinel::{SentinelUrl, parse_url as parse_sentinel_url};

use std::time::Duration;

/// A failure of the ephemeral store; the services fail closed on it.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The backing service is unreachable or timed out.
    #[error("ephemeral store unavailable: {0}")]
    Unavailable(String),
    /// The store cannot be set up as configured (startup only), e.g. an unusable CA file.
    #[error("{0}")]
    Config(String),
}

/// Two values read together, in the order asked.
pub type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Atomic single-use key/value operations with expiry.
#[async_trait::async_trait]
pub trait Ephemeral: Send + Sync + std::fmt::Debug {
    /// Store `value` under `key` for `ttl`, replacing any value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError>;
    /// Store only when `key` is absent (SET NX); `true` when stored.
    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, CacheError>;
    /// Read a value.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Read two values in one round trip (MGET).
    async fn get_pair(&self, a: &str, b: &str) -> Result<Pair, CacheError>;
    /// Read and delete in one atomic step (GETDEL): exactly one caller gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Delete a key.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Increment a counter; the TTL is set when the counter is created.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, CacheError> {
        self.incr_by(key, 1, ttl).await
    }
    /// Add `by` to a counter in one atomic step (INCRBY); the TTL is set when the
    /// counter is created.
    async fn incr_by(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError>;
    /// Reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), CacheError>;
    /// Metrics of the backing service (command latency, errors) for `/metrics`; the
    /// in-process store has none.
    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        Vec::new()
    }
}

//! In-process [`Ephemeral`] for a single instance (the embedded default).

use super::{CacheError, Ephemeral, Pair};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// A lock-guarded map with per-entry deadlines. Expired entries are dropped lazily and
/// by a sweep every 1,024 writes, so memory stays bounded by the live entries. Reads
/// share the lock: every introspection reads the state generation, so readers must not
/// queue behind each other.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, (Vec<u8>, Instant)>,
    writes: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> Result<T, CacheError> {
        let mut guard = self
            .inner
            .write()
            .map_err(|_| CacheError::Unavailable("memory store poisoned".into()))?;
        Ok(f(&mut guard, Instant::now()))
    }

    /// [`MemoryStore::with`] for reads: a shared lock, so readers do not wait on each other.
    fn reading<T>(&self, f: impl FnOnce(&Inner, Instant) -> T) -> Result<T, CacheError> {
        let guard = self
            .inner
            .read()
            .map_err(|_| CacheError::Unavailable("memory store poisoned".into()))?;
        Ok(f(&guard, Instant::now()))
    }
}

impl Inner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (Vec<u8>, Instant)> {
        if self
            .map
            .get(key)
            .is_some_and(|(_, deadline)| *deadline <= now)
        {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    /// The value under `key` unless it has expired (left for a writer to remove).
    fn current(&self, key: &str, now: Instant) -> Option<Vec<u8>> {
        self.map
            .get(key)
            .filter(|(_, deadline)| *deadline > now)
            .map(|(v, _)| v.clone())
    }

    fn insert(&mut self, key: &str, value: Vec<u8>, deadline: Instant, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(1024) {
            self.map.retain(|_, (_, d)| *d > now);
        }
        self.map.insert(key.to_owned(), (value, deadline));
    }
}

#[async_trait::async_trait]
impl Ephemeral for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        self.with(|inner, now| inner.insert(key, value.to_vec(), now + ttl, now))
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, CacheError> {
        self.with(|inner, now| {
            if inner.live(key, now).is_some() {
                return false;
            }
            inner.insert(key, value.to_vec(), now + ttl, now);
            true
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.reading(|inner, now| inner.current(key, now))
    }

    async fn get_pair(&self, a: &str, b: &str) -> Result<Pair, CacheError> {
        self.reading(|inner, now| (inner.current(a, now), inner.current(b, now)))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.with(|inner, now| {
            let live = inner.live(key, now).is_some();
            if live {
                inner.map.remove(key).map(|(v, _)| v)
            } else {
                None
            }
        })
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.with(|inner, _| {
            inner.map.remove(key);
        })
    }

    async fn incr_by(&self, key: &str, by: i64, ttl: Duration) -> Result<i64, CacheError> {
        self.with(|inner, now| {
            let current = inner.live(key, now).and_then(|(v, _)| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
            });
            match current {
                Some(n) => {
                    let n = n.saturating_add(by);
                    if let Some(entry) = inner.map.get_mut(key) {
                        entry.0 = n.to_string().into_bytes();
                    }
                    n
                }
                None => {
                    inner.insert(key, by.to_string().into_bytes(), now + ttl, now);
                    by
                }
            }
        })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_single_use() {
        let s = MemoryStore::new();
        s.put("k", b"v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(s.take("k").await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(s.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_new_refuses_an_existing_key_and_expired_entries_vanish() {
        let s = MemoryStore::new();
        assert!(s.put_new("j", b"1", Duration::from_secs(60)).await.unwrap());
        assert!(!s.put_new("j", b"2", Duration::from_secs(60)).await.unwrap());
        s.put("e", b"1", Duration::from_millis(0)).await.unwrap();
        assert_eq!(s.get("e").await.unwrap(), None);
        assert_eq!(s.incr("c", Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(s.incr("c", Duration::from_secs(60)).await.unwrap(), 2);
    }
}

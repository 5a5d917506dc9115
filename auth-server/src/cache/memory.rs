//! In-process [`Ephemeral`] for a single instance (the embedded default).

use super::{CacheError, Ephemeral};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A lock-guarded map with per-entry deadlines. Expired entries are dropped lazily and
/// by a sweep every 1,024 writes, so memory stays bounded by the live entries.
///
/// Every introspection reads the state generation, so reads must not queue behind each
/// other, and they should not write shared memory either: taking even the read lock
/// writes its lock word, which then moves between the cores on every request
/// (docs/performance.md, session 14). So each thread remembers the values it read, and
/// uses them while the store's [`version`](MemoryStore::version), bumped by every write,
/// has not moved.
#[derive(Debug)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    /// Which store a thread's remembered values come from (tests run many stores).
    id: u64,
    /// Bumped under the write lock by every write.
    version: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        static STORES: AtomicU64 = AtomicU64::new(0);
        MemoryStore {
            inner: RwLock::default(),
            id: STORES.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
        }
    }
}

/// What one thread read from one store at one version.
#[derive(Default)]
struct Remembered {
    store: u64,
    version: u64,
    values: HashMap<String, (Vec<u8>, Instant)>,
}

/// The most values a thread remembers: the generations and a few others.
const REMEMBERED: usize = 64;

thread_local! {
    static READS: RefCell<Remembered> = RefCell::default();
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
        let out = f(&mut guard, Instant::now());
        // Before the lock is released: a reader that takes it next sees the new version.
        self.version.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// The live value of `key` as this thread last read it, if no write came since.
    fn remembered(&self, key: &str, version: u64, now: Instant) -> Option<Vec<u8>> {
        READS.with_borrow(|r| {
            if r.store != self.id || r.version != version {
                return None;
            }
            let (value, deadline) = r.values.get(key)?;
            (*deadline > now).then(|| value.clone())
        })
    }

    /// Remember what was read at `version` (read before the value was).
    fn remember(&self, key: &str, version: u64, entry: &(Vec<u8>, Instant)) {
        READS.with_borrow_mut(|r| {
            if r.store != self.id || r.version != version {
                r.values.clear();
                r.store = self.id;
                r.version = version;
            }
            if r.values.len() < REMEMBERED {
                r.values.insert(key.to_owned(), entry.clone());
            }
        });
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
        let now = Instant::now();
        // Loaded before the map is read: a write in between moves the version past the
        // one the value is remembered under, so the value is read again next time.
        let version = self.version.load(Ordering::Acquire);
        if let Some(value) = self.remembered(key, version, now) {
            return Ok(Some(value));
        }
        let entry = {
            let inner = self
                .inner
                .read()
                .map_err(|_| CacheError::Unavailable("memory store poisoned".into()))?;
            inner
                .map
                .get(key)
                .filter(|(_, deadline)| *deadline > now)
                .cloned()
        };
        Ok(entry.map(|entry| {
            self.remember(key, version, &entry);
            entry.0
        }))
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
    async fn a_remembered_read_gives_way_to_any_later_write_from_any_thread() {
        let s = std::sync::Arc::new(MemoryStore::new());
        let ttl = Duration::from_secs(60);
        s.put("g", b"1", ttl).await.unwrap();
        assert_eq!(s.get("g").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get("g").await.unwrap(), Some(b"1".to_vec()), "remembered");
        // Writes from another thread, of this key or of another one.
        let other = std::sync::Arc::clone(&s);
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(other.put("g", b"2", Duration::from_secs(60)))
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(s.get("g").await.unwrap(), Some(b"2".to_vec()));
        s.delete("g").await.unwrap();
        assert_eq!(s.get("g").await.unwrap(), None);
        s.put("g", b"3", ttl).await.unwrap();
        assert_eq!(s.get("g").await.unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.take("g").await.unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.get("g").await.unwrap(), None);
        // Another store on the same thread remembers nothing of this one.
        s.put("g", b"4", ttl).await.unwrap();
        assert_eq!(s.get("g").await.unwrap(), Some(b"4".to_vec()));
        assert_eq!(MemoryStore::new().get("g").await.unwrap(), None);
        // A remembered value still expires at its deadline.
        s.put("short", b"5", Duration::from_millis(30))
            .await
            .unwrap();
        assert_eq!(s.get("short").await.unwrap(), Some(b"5".to_vec()));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(s.get("short").await.unwrap(), None);
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

//! Per-thread first-level caches ("fronts") in front of the shared `moka` caches on the
//! hottest lookups: the subscription behind a slug, its key ring, the calling client, the
//! verdict on a token, the discovery document and a user's ACL facts in a workspace.
//!
//! A hit in a shared cache writes memory that every worker shares: `moka` records each
//! read in a shared buffer (and later replays it under a lock), and handing out the value
//! bumps and drops its `Arc`'s reference count. On two cores each such write moves a
//! cache line from one core to the other (docs/performance.md, sessions 14 and 15). A
//! front is private to its thread and, where the value is shared, holds the thread's own
//! copy, so a hit writes nothing another core reads.
//!
//! A front never decides freshness. Each entry carries what its shared entry carried (a
//! state generation, or the time of the database read plus the shared cache's [`Drops`])
//! and its caller checks that exactly as it checks the shared entry, so a front serves
//! nothing the shared cache would not. It is direct-mapped and small: a key goes to one
//! slot and replaces what was there, so its memory is bounded by its slot count and an
//! unlucky collision only costs a trip to the shared cache.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Slots per front and thread. A power of two.
pub const SLOTS: usize = 256;

/// The identity a context's entries carry in the fronts. Fronts are per thread, and one
/// process may run more than one server (the tests do): an entry is only read by the
/// context that kept it.
#[derive(Debug)]
pub struct Owner(u64);

impl Default for Owner {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Owner(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Owner {
    /// This owner's tag.
    pub fn id(&self) -> u64 {
        self.0
    }
}

/// A direct-mapped cache private to one thread, keyed by byte strings given in parts (so
/// a composite key needs no allocation to be looked up).
#[derive(Debug)]
pub struct Front<V> {
    slots: Box<[Option<Slot<V>>]>,
}

#[derive(Debug)]
struct Slot<V> {
    owner: u64,
    key: Box<[u8]>,
    value: V,
}

impl<V> Default for Front<V> {
    fn default() -> Self {
        Front::with_slots(SLOTS)
    }
}

impl<V> Front<V> {
    /// A front of `slots` slots (rounded up to a power of two).
    pub fn with_slots(slots: usize) -> Self {
        Front {
            slots: (0..slots.next_power_of_two()).map(|_| None).collect(),
        }
    }

    /// The value kept for `owner` under the key made of `parts`.
    pub fn get(&self, owner: u64, parts: &[&[u8]]) -> Option<&V> {
        match &self.slots[self.index(parts)] {
            Some(s) if s.owner == owner && same_key(&s.key, parts) => Some(&s.value),
            _ => None,
        }
    }

    /// Keep `value` for `owner` under the key made of `parts`, in place of whatever
    /// held its slot.
    pub fn put(&mut self, owner: u64, parts: &[&[u8]], value: V) {
        let i = self.index(parts);
        self.slots[i] = Some(Slot {
            owner,
            key: parts.concat().into_boxed_slice(),
            value,
        });
    }

    fn index(&self, parts: &[&[u8]]) -> usize {
        // A fixed hasher: the slot only spreads keys, and keys that collide on purpose
        // only send each other to the shared cache.
        let mut h = BuildHasherDefault::<DefaultHasher>::default().build_hasher();
        for p in parts {
            h.write(p);
        }
        // The mask keeps the value below the slot count, which is a `usize`.
        usize::try_from(h.finish() & (self.slots.len() as u64 - 1)).unwrap_or(0)
    }
}

/// How many times a shared cache dropped an entry on a change (a subscription changed, a
/// key ring rotated here). A front entry remembers the count it was filled under and is
/// not served once the count moved, so every front sees the drop at once.
#[derive(Debug, Default)]
pub struct Drops(AtomicU64);

impl Drops {
    /// The count now. Read it before the shared cache: a drop after this read leaves
    /// what is filled under it unserved.
    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Count a drop, after the shared cache dropped the entry.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// A front entry that lives exactly as long as its shared entry: it keeps the time the
/// shared entry was read from the database, and the [`Drops`] count it was filled under.
#[derive(Debug)]
pub struct Timed<V> {
    /// The value (the thread's own copy, where it can be copied).
    pub value: V,
    /// When the shared entry was read from the database.
    pub read_at: Instant,
    /// The drop count the entry was filled under.
    pub drops: u64,
}

impl<V> Front<Timed<V>> {
    /// The value under `parts` if it was read less than `ttl` ago and no drop came since
    /// `drops` was read.
    pub fn fresh_ref(&self, owner: u64, parts: &[&[u8]], ttl: Duration, drops: u64) -> Option<&V> {
        self.get(owner, parts)
            .filter(|t| t.drops == drops && t.read_at.elapsed() < ttl)
            .map(|t| &t.value)
    }
}

impl<V: Clone> Front<Timed<V>> {
    /// [`Front::fresh_ref`], cloned.
    pub fn fresh(&self, owner: u64, parts: &[&[u8]], ttl: Duration, drops: u64) -> Option<V> {
        self.fresh_ref(owner, parts, ttl, drops).cloned()
    }
}

fn same_key(key: &[u8], parts: &[&[u8]]) -> bool {
    let mut rest = key;
    for p in parts {
        match rest.strip_prefix(*p) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_only_by_its_owner_and_its_exact_parts() {
        let mut f = Front::with_slots(16);
        f.put(1, &[b"sub", b":", b"client"], "v");
        assert_eq!(f.get(1, &[b"sub", b":", b"client"]), Some(&"v"));
        assert_eq!(
            f.get(1, &[b"sub:", b"client"]),
            Some(&"v"),
            "the parts join"
        );
        assert_eq!(f.get(2, &[b"sub", b":", b"client"]), None, "another owner");
        assert_eq!(f.get(1, &[b"sub", b":", b"clien"]), None);
        assert_eq!(f.get(1, &[b"sub", b":", b"clientx"]), None);
    }

    #[test]
    fn a_timed_entry_is_fresh_until_its_read_time_runs_out_or_a_drop_comes() {
        let mut f = Front::with_slots(4);
        let drops = Drops::default();
        let before = drops.read();
        let ttl = Duration::from_secs(5);
        let timed = |read_at| Timed {
            value: 7,
            read_at,
            drops: before,
        };
        f.put(1, &[b"t"], timed(Instant::now()));
        assert_eq!(f.fresh(1, &[b"t"], ttl, drops.read()), Some(7));
        drops.bump();
        assert_eq!(
            f.fresh(1, &[b"t"], ttl, drops.read()),
            None,
            "dropped since"
        );
        let long_ago = Instant::now().checked_sub(ttl).unwrap();
        f.put(1, &[b"t"], timed(long_ago));
        assert_eq!(f.fresh(1, &[b"t"], ttl, before), None, "read too long ago");
    }

    #[test]
    fn memory_is_bounded_by_the_slots_and_a_collision_replaces() {
        let mut f = Front::with_slots(8);
        for i in 0..1_000u32 {
            f.put(1, &[&i.to_be_bytes()], i);
        }
        assert_eq!(f.slots.len(), 8);
        let kept: Vec<u32> = (0..1_000u32)
            .filter(|i| f.get(1, &[&i.to_be_bytes()]) == Some(i))
            .collect();
        assert!(!kept.is_empty() && kept.len() <= 8, "{kept:?}");
        // The last key written is always there.
        assert_eq!(f.get(1, &[&999u32.to_be_bytes()]), Some(&999));
    }
}

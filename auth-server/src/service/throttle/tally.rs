//! Per-instance pre-aggregation of the per-address counters (SECURITY.md §3; issue 9's
//! "≤ 10 % slower with rate limiting on").
//!
//! With Redis, counting every protocol request costs one round trip per request, which
//! measured 17–20 % of the token and introspection throughput (docs/performance.md).
//! Instead each instance adds requests up locally and sends them to the shared counter
//! as one `INCRBY` every `batch` requests of an address, the way rate limiters in front
//! of large fleets pre-aggregate (Envoy's local-then-global limits). The price is
//! bounded: the shared count lags by fewer than `batch` requests per address and
//! instance, so the limit can be overshot by at most `batch − 1` per instance in a window,
//! and `batch` is at most 1/1,024 of the limit ([`batch_for`]); a limit under 2,048 per
//! window is counted exactly, request by request.
//!
//! Refusals are never decided on the local estimate alone: once the estimate would pass
//! the limit the pending requests are sent and the shared answer decides. A window
//! found spent stays spent on this instance until it ends (a fixed window only grows),
//! so a flood above the limit costs no round trip per refused request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::IpClass;

/// The largest batch: one round trip per 32 requests of a busy address.
const MAX_BATCH: i64 = 32;

/// Above this many tracked addresses the entries of past windows are dropped, and if that
/// is not enough all of them, so a flood from many addresses neither grows the map
/// without bound nor makes every request scan it.
const PRUNE_ABOVE: usize = 65_536;

/// How many requests of one address may be added up before they are sent: 1 (exact)
/// for small limits, at most [`MAX_BATCH`] and 1/1,024 of the limit.
pub fn batch_for(limit: i64) -> i64 {
    (limit / 1024).clamp(1, MAX_BATCH)
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Admit it; it is counted locally and sent with a later batch.
    Admit,
    /// Refuse it: this window was already found spent.
    Refuse,
    /// Send this many requests (this one included) to the shared counter and decide on
    /// its answer.
    Send(i64),
}

/// One address's window as this instance knows it.
#[derive(Debug, Clone, Copy)]
struct Tally {
    window: i64,
    /// Requests admitted here and not yet sent.
    pending: i64,
    /// The shared count at the last answer, on the shared limit's scale.
    known: i64,
    /// The last answer came from the shared store (during an outage every request is
    /// counted in the in-process fallback at once, which is cheap).
    shared: bool,
}

impl Tally {
    fn new(window: i64) -> Tally {
        Tally {
            window,
            pending: 0,
            known: 0,
            shared: true,
        }
    }
}

/// The local tallies of one instance.
#[derive(Debug, Default)]
pub struct Tallies {
    map: Mutex<HashMap<(IpClass, IpAddr), Tally>>,
}

impl Tallies {
    /// Count one request of `ip` in `window` against `limit`, adding up to `batch`.
    pub fn note(&self, class: IpClass, ip: IpAddr, window: i64, limit: i64, batch: i64) -> Step {
        let Ok(mut map) = self.map.lock() else {
            return Step::Send(1);
        };
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, t| t.window >= window);
            // Still full within one window (a flood from very many addresses): start
            // over rather than scan the map at every new address. What is dropped is
            // each address's pending part, less than one batch.
            if map.len() > PRUNE_ABOVE {
                map.clear();
            }
        }
        let t = map.entry((class, ip)).or_insert_with(|| Tally::new(window));
        if t.window != window {
            *t = Tally::new(window);
        }
        if t.known > limit {
            return Step::Refuse;
        }
        t.pending += 1;
        if t.shared && t.pending < batch && t.known + t.pending <= limit {
            return Step::Admit;
        }
        Step::Send(std::mem::take(&mut t.pending))
    }

    /// Record the shared counter's answer (`count`, on the limit's scale) for `window`.
    pub fn answered(&self, class: IpClass, ip: IpAddr, window: i64, count: i64, shared: bool) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if let Some(t) = map.get_mut(&(class, ip))
            && t.window == window
        {
            // Answers of concurrent sends may arrive out of order; the count only grows.
            t.known = t.known.max(count);
            t.shared = shared;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const P: IpClass = IpClass::Protocol;

    #[test]
    fn small_limits_are_counted_request_by_request() {
        assert_eq!(batch_for(60), 1);
        assert_eq!(batch_for(2047), 1);
        assert_eq!(batch_for(600_000), 32);
        let t = Tallies::default();
        for _ in 0..5 {
            assert_eq!(t.note(P, IP, 1, 60, 1), Step::Send(1));
        }
    }

    #[test]
    fn a_batch_is_sent_when_full_and_the_answer_is_remembered() {
        let t = Tallies::default();
        for _ in 0..31 {
            assert_eq!(t.note(P, IP, 1, 600_000, 32), Step::Admit);
        }
        assert_eq!(t.note(P, IP, 1, 600_000, 32), Step::Send(32));
        t.answered(P, IP, 1, 500, true);
        assert_eq!(t.note(P, IP, 1, 600_000, 32), Step::Admit);
    }

    #[test]
    fn near_the_limit_every_request_is_sent_and_a_spent_window_refuses_locally() {
        let t = Tallies::default();
        assert_eq!(t.note(P, IP, 1, 100, 32), Step::Admit);
        // Other instances' requests: 98 known + 2 pending = 100, still within; the next
        // one would pass the limit, so the three pending are sent.
        t.answered(P, IP, 1, 98, true);
        assert_eq!(t.note(P, IP, 1, 100, 32), Step::Admit);
        assert_eq!(t.note(P, IP, 1, 100, 32), Step::Send(3));
        t.answered(P, IP, 1, 102, true);
        assert_eq!(t.note(P, IP, 1, 100, 32), Step::Refuse);
        // A new window starts afresh.
        assert_eq!(t.note(P, IP, 2, 100, 32), Step::Admit);
    }

    #[test]
    fn a_flood_from_many_addresses_keeps_the_map_bounded() {
        let t = Tallies::default();
        for i in 0..(PRUNE_ABOVE as u32 + 10) {
            t.note(P, IpAddr::V4(i.into()), 1, 600_000, 32);
        }
        assert!(t.map.lock().unwrap().len() <= PRUNE_ABOVE);
    }

    #[test]
    fn during_an_outage_nothing_is_batched_and_classes_and_windows_are_apart() {
        let t = Tallies::default();
        t.note(P, IP, 1, 600_000, 32);
        t.answered(P, IP, 1, 10, false);
        assert_eq!(t.note(P, IP, 1, 600_000, 32), Step::Send(2));
        assert_eq!(t.note(IpClass::Login, IP, 1, 60, 1), Step::Send(1));
        // A late answer for an old window does not touch the new one.
        t.note(P, IP, 2, 600_000, 32);
        t.answered(P, IP, 1, 700_000, true);
        assert_eq!(t.note(P, IP, 2, 600_000, 32), Step::Admit);
    }
}

//! Time as a dependency: services read `state.clock`, pure code takes `now` as a
//! parameter, and tests advance a [`ManualClock`] instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in Unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }
}

/// A clock that starts at the system time plus an offset the test moves forward.
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    offset: Arc<AtomicI64>,
    /// When non-zero, the system time at which [`ManualClock::freeze`] stopped the clock.
    frozen_at: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock at the current system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Stop following the system time: from now on only [`ManualClock::advance`] moves
    /// the clock. Tests of one-second rules freeze it, because two requests may
    /// otherwise straddle a second boundary of the real time.
    pub fn freeze(&self) {
        let _ = self.frozen_at.compare_exchange(
            0,
            SystemClock.now(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        let base = match self.frozen_at.load(Ordering::SeqCst) {
            0 => SystemClock.now(),
            frozen => frozen,
        };
        base + self.offset.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        clock.freeze();
        let at = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(clock.now(), at);
        clock.advance(5);
        assert_eq!(clock.now(), at + 5);
    }
}

//! The brute-force policy as pure functions of the counted state and `now`
//! (SECURITY.md §3 "numbers we adopt"):
//!
//! - progressive delay from the first failure: after n failures in the window the next
//!   password is checked only 1, 2, 4, then 8 s after the last failure;
//! - temporary lock: the 5th failure within the 5-minute window locks the name for
//!   5 minutes;
//! - hard lock: the 100th consecutive failure (NIST SP 800-63B §5.2.2) locks the name
//!   until an admin unlocks it.
//!
//! An attempt refused by the policy is answered exactly like a wrong password, after the
//! same argon2 work, so the policy itself reveals nothing about the account.

/// Length of the sliding failure window, seconds.
pub const WINDOW: i64 = 300;
/// Granularity of the window: failures are counted in one-minute buckets.
pub const BUCKET: i64 = 60;
/// Failures within [`WINDOW`] that set the temporary lock.
pub const TEMP_LOCK_AFTER: i64 = 5;
/// How long the temporary lock lasts, seconds.
pub const TEMP_LOCK_SECS: i64 = 300;
/// Consecutive failures that set the hard lock.
pub const HARD_LOCK_AFTER: i64 = 100;
/// How long an unlocked name's consecutive failures are remembered after the last one
/// (30 days): "consecutive" means within this memory.
pub const FAILURE_MEMORY: i64 = 30 * 86_400;
/// Longest progressive delay, seconds.
pub const MAX_DELAY: i64 = 8;

/// What is known about a login name before an attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Failures counted in the current window.
    pub recent_failures: i64,
    /// Time of the last failure, if one is remembered.
    pub last_failure_at: Option<i64>,
    /// End of a temporary lock, if one was set.
    pub locked_until: Option<i64>,
    /// Whether an admin must unlock the name.
    pub hard_locked: bool,
}

/// The policy's answer to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password.
    Open,
    /// Too soon after the last failure: retry in this many seconds.
    Wait(i64),
    /// Temporarily locked until this time.
    Locked(i64),
    /// Locked until an admin unlocks.
    HardLocked,
}

impl Gate {
    /// The audit reason of a refusal.
    pub fn reason(self) -> &'static str {
        match self {
            Gate::Open => "open",
            Gate::Wait(_) => "throttled",
            Gate::Locked(_) => "locked",
            Gate::HardLocked => "hard_locked",
        }
    }
}

/// Seconds to wait after `failures` recent failures before the next check.
pub fn delay_after(failures: i64) -> i64 {
    if failures <= 0 {
        0
    } else {
        (1_i64 << (failures - 1).min(3)).min(MAX_DELAY)
    }
}

/// Whether an attempt at `now` may check a password.
pub fn gate(state: &State, now: i64) -> Gate {
    if state.hard_locked {
        return Gate::HardLocked;
    }
    if let Some(until) = state.locked_until
        && until > now
    {
        return Gate::Locked(until);
    }
    if state.recent_failures >= TEMP_LOCK_AFTER {
        return Gate::Locked(now + TEMP_LOCK_SECS);
    }
    if let Some(last) = state.last_failure_at {
        let ready = last + delay_after(state.recent_failures);
        if ready > now {
            return Gate::Wait(ready - now);
        }
    }
    Gate::Open
}

/// Whether the attempt that brought the window count to `charged` (counted before the
/// check, so that parallel attempts cannot overtake the count) may still check.
pub fn within_budget(charged: i64) -> bool {
    charged <= TEMP_LOCK_AFTER
}

/// After a failed check that left `recent` failures in the window: the end of the
/// temporary lock to set, if any.
pub fn temporary_lock(recent: i64, now: i64) -> Option<i64> {
    (recent >= TEMP_LOCK_AFTER).then_some(now + TEMP_LOCK_SECS)
}

/// Whether `consecutive` failures call for the hard lock.
pub fn hard_lock(consecutive: i64) -> bool {
    consecutive >= HARD_LOCK_AFTER
}

/// The share of a shared `limit` that one of `instances` instances enforces alone while
/// the shared counters are unreachable: limit/N rounded up (never 0, which would lock
/// everyone out), so that N instances together stay within about the shared limit.
pub fn per_instance_limit(limit: i64, instances: u32) -> i64 {
    let n = i64::from(instances.max(1));
    (limit.max(1) + n - 1) / n
}

/// A count kept on one instance alone, on the scale of the shared `limit`: exactly
/// [`per_instance_limit`] maps to `limit`, fewer stays below it and more goes above it, so
/// every comparison with the shared limit (`>=` to lock, `<=` to admit) holds as if the
/// instance's share were the limit.
pub fn on_shared_scale(local: i64, limit: i64, instances: u32) -> i64 {
    if instances <= 1 || limit <= 0 {
        return local;
    }
    local.saturating_mul(limit) / per_instance_limit(limit, instances)
}

/// The one-minute buckets of the window ending at `now`, oldest first.
pub fn window_buckets(now: i64) -> std::ops::RangeInclusive<i64> {
    let current = now.div_euclid(BUCKET);
    (current - WINDOW / BUCKET + 1)..=current
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000;

    #[test]
    fn during_an_outage_each_of_n_instances_enforces_limit_over_n() {
        assert_eq!(per_instance_limit(60, 3), 20);
        assert_eq!(per_instance_limit(5, 2), 3);
        assert_eq!(per_instance_limit(2, 5), 1, "never 0");
        assert_eq!(per_instance_limit(600_000, 1), 600_000);
        for limit in 1..=30 {
            for n in 1..=6 {
                let share = per_instance_limit(limit, n);
                for local in 0..=2 * limit {
                    let scaled = on_shared_scale(local, limit, n);
                    assert_eq!(scaled >= limit, local >= share, "{local}/{limit}/{n}");
                    assert_eq!(scaled <= limit, local <= share, "{local}/{limit}/{n}");
                }
            }
        }
        // The login lock: 5 failures shared, so 3 on each of 2 instances.
        let locks = |local| temporary_lock(on_shared_scale(local, TEMP_LOCK_AFTER, 2), T);
        assert!(locks(2).is_none() && locks(3).is_some());
        assert!(within_budget(on_shared_scale(3, TEMP_LOCK_AFTER, 2)));
        assert!(!within_budget(on_shared_scale(4, TEMP_LOCK_AFTER, 2)));
    }

    #[test]
    fn the_delay_grows_from_the_first_failure_and_is_capped() {
        let delays: Vec<i64> = (0..7).map(delay_after).collect();
        assert_eq!(delays, [0, 1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn a_clean_name_is_open_and_a_recent_failure_makes_it_wait() {
        assert_eq!(gate(&State::default(), T), Gate::Open);
        let s = State {
            recent_failures: 3,
            last_failure_at: Some(T),
            ..State::default()
        };
        assert_eq!(gate(&s, T), Gate::Wait(4));
        assert_eq!(gate(&s, T + 3), Gate::Wait(1));
        assert_eq!(gate(&s, T + 4), Gate::Open);
    }

    #[test]
    fn five_failures_in_the_window_lock_for_five_minutes() {
        assert_eq!(temporary_lock(4, T), None);
        assert_eq!(temporary_lock(5, T), Some(T + 300));
        let s = State {
            locked_until: Some(T + 300),
            ..State::default()
        };
        assert_eq!(gate(&s, T + 299), Gate::Locked(T + 300));
        assert_eq!(gate(&s, T + 300), Gate::Open);
        // Parallel attempts were counted before their check: only five get one.
        assert!(within_budget(5));
        assert!(!within_budget(6));
    }

    #[test]
    fn the_hundredth_consecutive_failure_locks_until_unlocked() {
        assert!(!hard_lock(99));
        assert!(hard_lock(100));
        let s = State {
            hard_locked: true,
            ..State::default()
        };
        assert_eq!(gate(&s, T + 10_000_000), Gate::HardLocked);
    }

    #[test]
    fn the_window_is_five_minute_buckets_ending_now() {
        let w = window_buckets(T);
        assert_eq!(w.clone().count(), 5);
        assert_eq!(*w.end(), T / 60);
    }
}

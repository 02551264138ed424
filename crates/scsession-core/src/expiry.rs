//! Session lifetime: an absolute `max_age` from `created`, an `idle_timeout` from `last_seen`.
//!
//! Both are enforced from the sealed timestamps, never from the browser's cookie expiry. All
//! times are unix seconds and `now` is always passed in: the core never reads a clock.
//!
//! ```
//! use scsession_core::Lifetime;
//!
//! let life = Lifetime { max_age: Some(3600), idle_timeout: Some(600) };
//! assert!(!life.is_expired(1000, 1000, 1599));
//! assert!(life.is_expired(1000, 1000, 1600)); // idle for 600 s
//! assert!(life.needs_refresh(1000, 1060)); // a tenth of the idle timeout has passed
//! assert_eq!(life.remaining(1000, 1000, 1100), Some(500));
//! ```

/// How far in the future (seconds) a timestamp may be before the record counts as forged or the
/// clocks as too far apart.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// Time to live (seconds) of stored sessions that have neither `max_age` nor `idle_timeout`:
/// the browser ends them, but a store needs some end.
pub const STORE_TTL_WITHOUT_LIMITS: u64 = 14 * 24 * 3600;

/// How long sessions live. `None` means no limit of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// Seconds from creation after which the session has expired, however busy.
    pub max_age: Option<u64>,
    /// Seconds of inactivity (since `last_seen`) after which the session has expired.
    pub idle_timeout: Option<u64>,
}

impl Lifetime {
    /// A lifetime with these limits.
    #[must_use]
    pub const fn new(max_age: Option<u64>, idle_timeout: Option<u64>) -> Self {
        Self {
            max_age,
            idle_timeout,
        }
    }

    /// Whether a session created at `created` and last seen at `last_seen` has expired at `now`:
    /// `now >= created + max_age` or `now >= last_seen + idle_timeout` (saturating), or either
    /// timestamp is more than [`MAX_CLOCK_SKEW`] seconds in the future.
    #[must_use]
    pub fn is_expired(&self, created: u64, last_seen: u64, now: u64) -> bool {
        let horizon = now.saturating_add(MAX_CLOCK_SKEW);
        if created > horizon || last_seen > horizon {
            return true;
        }
        self.deadline(created, last_seen)
            .is_some_and(|deadline| now >= deadline)
    }

    /// Whether `last_seen` should be rewritten now: only with an idle timeout, once at least a
    /// tenth of it (and at least one second) has passed since `last_seen`.
    #[must_use]
    pub fn needs_refresh(&self, last_seen: u64, now: u64) -> bool {
        self.idle_timeout
            .is_some_and(|idle| now.saturating_sub(last_seen) >= (idle / 10).max(1))
    }

    /// Seconds until the earlier deadline (0 once it has passed), or `None` when neither limit
    /// is set. Suits a cookie's `Max-Age` and a store's time to live.
    #[must_use]
    pub fn remaining(&self, created: u64, last_seen: u64, now: u64) -> Option<u64> {
        self.deadline(created, last_seen)
            .map(|deadline| deadline.saturating_sub(now))
    }

    /// How long a store should keep a session written at `now`: until it expires, at least one
    /// second (a time to live of zero means "forever" to some stores), and
    /// [`STORE_TTL_WITHOUT_LIMITS`] when no limit is set.
    #[must_use]
    pub fn store_ttl(&self, created: u64, now: u64) -> u64 {
        self.remaining(created, now, now)
            .unwrap_or(STORE_TTL_WITHOUT_LIMITS)
            .max(1)
    }

    pub(crate) fn deadline(&self, created: u64, last_seen: u64) -> Option<u64> {
        let absolute = self.max_age.map(|a| created.saturating_add(a));
        let idle = self.idle_timeout.map(|i| last_seen.saturating_add(i));
        match (absolute, idle) {
            (Some(a), Some(i)) => Some(a.min(i)),
            (a, i) => a.or(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Lifetime = Lifetime::new(None, None);
    const ABS: Lifetime = Lifetime::new(Some(100), None);
    const IDLE: Lifetime = Lifetime::new(None, Some(50));
    const BOTH: Lifetime = Lifetime::new(Some(100), Some(50));

    #[test]
    fn max_age_edges() {
        assert!(!ABS.is_expired(1000, 1000, 1099));
        assert!(ABS.is_expired(1000, 1000, 1100));
        assert!(ABS.is_expired(1000, 1099, 1100)); // activity does not extend max_age
        assert!(Lifetime::new(Some(0), None).is_expired(1000, 1000, 1000));
    }

    #[test]
    fn idle_edges() {
        assert!(!IDLE.is_expired(0, 1000, 1049));
        assert!(IDLE.is_expired(0, 1000, 1050));
        assert!(!IDLE.is_expired(0, 5000, 5049)); // no max_age: old sessions live on
    }

    #[test]
    fn both_limits_the_earlier_wins() {
        assert!(!BOTH.is_expired(1000, 1060, 1099));
        assert!(BOTH.is_expired(1000, 1060, 1100)); // max_age
        assert!(BOTH.is_expired(1000, 1000, 1050)); // idle
        assert_eq!(BOTH.remaining(1000, 1000, 1000), Some(50));
        assert_eq!(BOTH.remaining(1000, 1080, 1080), Some(20));
        assert_eq!(BOTH.remaining(1000, 1000, 2000), Some(0));
    }

    #[test]
    fn no_limits() {
        assert!(!NONE.is_expired(0, 0, u64::MAX));
        assert_eq!(NONE.remaining(0, 0, 10), None);
        assert!(!NONE.needs_refresh(0, u64::MAX));
        assert_eq!(Lifetime::default(), NONE);
    }

    #[test]
    fn future_timestamps_are_forged_or_skewed() {
        assert!(!NONE.is_expired(1300, 1300, 1000));
        assert!(NONE.is_expired(1301, 1000, 1000));
        assert!(NONE.is_expired(1000, 1301, 1000));
        assert!(ABS.is_expired(u64::MAX, 0, 1000));
        // Near the end of time, saturating arithmetic.
        assert!(!NONE.is_expired(u64::MAX, u64::MAX, u64::MAX - 10));
    }

    #[test]
    fn saturating_deadlines() {
        let huge = Lifetime::new(Some(u64::MAX), Some(u64::MAX));
        assert!(!huge.is_expired(10, 10, u64::MAX - 1));
        assert!(huge.is_expired(10, 10, u64::MAX));
        assert_eq!(huge.remaining(10, 10, 20), Some(u64::MAX - 20));
    }

    #[test]
    fn refresh_after_a_tenth_of_idle() {
        let idle = Lifetime::new(None, Some(600));
        assert!(!idle.needs_refresh(1000, 1059));
        assert!(idle.needs_refresh(1000, 1060));
        assert!(!idle.needs_refresh(1000, 900)); // last_seen in the future
                                                 // At least one second, even for tiny timeouts.
        let tiny = Lifetime::new(None, Some(5));
        assert!(!tiny.needs_refresh(1000, 1000));
        assert!(tiny.needs_refresh(1000, 1001));
        assert!(!ABS.needs_refresh(0, 1_000_000));
    }
}

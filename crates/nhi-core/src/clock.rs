//! Where time comes from: the [`Clock`] trait, the system clock and a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::time::Timestamp;

/// A source of the current time.
///
/// Nothing in nhi reads the system clock directly: every component takes a clock, so
/// tests and simulations can move time forward with a [`ManualClock`] instead of sleeping.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

/// A clock that moves only when told to; for tests, simulations and replays.
///
/// It is safe to share between threads; every reader sees the latest `set` or `advance`.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            nanos: AtomicU64::new(start.unix_nanos()),
        }
    }

    /// Moves the clock forward by `by` (stopping at the largest representable time).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Shows `time` from now on; it may move the clock backwards, which tests of clock
    /// skew need.
    pub fn set(&self, time: Timestamp) {
        self.nanos.store(time.unix_nanos(), Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.nanos.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_unix_secs(100));
        assert_eq!(clock.now().unix_secs(), 100);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now().unix_nanos(), 101_500_000_000);
        clock.set(Timestamp::from_unix_secs(50));
        assert_eq!(clock.now().unix_secs(), 50);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now().unix_nanos(), u64::MAX);
    }

    #[test]
    fn shared_clocks_see_the_same_time() {
        let clock = Arc::new(ManualClock::new(Timestamp::EPOCH));
        let shared: SharedClock = clock.clone();
        clock.advance(Duration::from_secs(7));
        assert_eq!(shared.now().unix_secs(), 7);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now().unix_secs() > 1_700_000_000);
    }
}

//! A clock that follows the wall clock but can jump ahead, so the story can skip the
//! minutes an on-call engineer spends reviewing while real latencies stay real.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nhi::core::{Clock, SystemClock, Timestamp};

#[derive(Debug, Default)]
pub(crate) struct StoryClock {
    skipped_nanos: AtomicU64,
}

impl StoryClock {
    /// Jumps the story ahead by `by`.
    pub(crate) fn skip(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.skipped_nanos.fetch_add(by, Ordering::Relaxed);
    }
}

impl Clock for StoryClock {
    fn now(&self) -> Timestamp {
        let skipped = Duration::from_nanos(self.skipped_nanos.load(Ordering::Relaxed));
        SystemClock.now().saturating_add(skipped)
    }
}

//! A layer's quota that can be replaced while checks run, read without locks.
//!
//! The quota is two atomics guarded by a sequence number (a seqlock): a writer makes
//! the number odd, stores the parts, then makes it even again; a reader retries when
//! the number changed or was odd while it read, so it never sees half of one quota and
//! half of another. Writers are serialised by a mutex; readers never wait for it.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crate::quota::Quota;

/// A quota, or none (the layer is not limited), replaceable at any time.
#[derive(Debug, Default)]
pub(crate) struct LiveQuota {
    sequence: AtomicU64,
    interval_nanos: AtomicU64,
    burst: AtomicU32,
    writer: Mutex<()>,
}

impl LiveQuota {
    pub(crate) fn new(quota: Option<Quota>) -> Self {
        let live = Self::default();
        live.set(quota);
        live
    }

    /// The current quota; `None` when the layer is not limited.
    pub(crate) fn get(&self) -> Option<Quota> {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            let interval = self.interval_nanos.load(Ordering::Relaxed);
            let burst = self.burst.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let after = self.sequence.load(Ordering::Relaxed);
            if before == after && before.is_multiple_of(2) {
                let burst = NonZeroU32::new(burst)?;
                return Some(Quota::from_parts(interval, burst));
            }
            std::hint::spin_loop();
        }
    }

    /// Replaces the quota; `None` stops limiting the layer.
    pub(crate) fn set(&self, quota: Option<Quota>) {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (interval, burst) = quota.map_or((0, 0), |q| (q.interval_nanos(), q.burst()));
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.interval_nanos.store(interval, Ordering::Relaxed);
        self.burst.store(burst, Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    fn quota(per_second: u32, burst: u32) -> Quota {
        Quota::per_second(NonZeroU32::new(per_second).unwrap())
            .with_burst(NonZeroU32::new(burst).unwrap())
    }

    #[test]
    fn reads_what_was_set_and_none_for_unlimited() {
        let live = LiveQuota::new(Some(quota(10, 20)));
        assert_eq!(live.get(), Some(quota(10, 20)));
        live.set(None);
        assert_eq!(live.get(), None);
        live.set(Some(Quota::once()));
        assert_eq!(live.get(), Some(Quota::once()));
    }

    #[test]
    fn readers_never_see_a_torn_quota() {
        let first = quota(10, 10);
        let second = quota(1000, 7);
        let live = Arc::new(LiveQuota::new(Some(first)));
        let writer = {
            let live = Arc::clone(&live);
            thread::spawn(move || {
                for round in 0..20_000 {
                    live.set(Some(if round % 2 == 0 { second } else { first }));
                }
            })
        };
        for _ in 0..200_000 {
            let seen = live.get().unwrap();
            assert!(seen == first || seen == second, "torn read: {seen:?}");
        }
        writer.join().unwrap();
    }
}

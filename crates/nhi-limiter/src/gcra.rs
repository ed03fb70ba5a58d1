//! The generic cell rate algorithm on one bucket.
//!
//! A bucket is a single theoretical arrival time (TAT) in nanoseconds since the epoch.
//! With emission interval `T` and burst `B`, a request of cost `c` at time `now` is
//! allowed when `max(TAT, now) + c*T - now <= B*T`, and the TAT then moves to
//! `max(TAT, now) + c*T`. A TAT at or before `now` means a full bucket, so after any
//! idle gap exactly `B` units fit. Rejections never write.
//!
//! All arithmetic is in `u128` so no product overflows; stored times saturate at
//! `u64::MAX`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::quota::Quota;

/// One bucket: its theoretical arrival time, and a quota that overrides the layer's
/// for this key alone.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub(crate) tat: AtomicU64,
    pub(crate) quota: Option<Quota>,
}

impl Bucket {
    /// Whether forgetting this bucket at `now` would change no decision.
    pub(crate) fn is_forgettable(&self, now: u64) -> bool {
        self.quota.is_none() && self.tat.load(Ordering::Acquire) <= now
    }
}

/// What charging (or inspecting) a bucket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// The cost fits (and was taken, unless this was an inspection); `remaining` whole
    /// units are left after it, and the bucket is full again after `reset_after`.
    Taken {
        remaining: u32,
        reset_after: Duration,
    },
    /// The cost does not fit yet; it will after `wait`. `remaining` and `reset_after`
    /// describe the bucket as it is.
    Refused {
        wait: Duration,
        remaining: u32,
        reset_after: Duration,
    },
}

/// Takes `cost` units from `bucket` at `now` if they fit, by compare-and-swap.
pub(crate) fn charge(bucket: &AtomicU64, quota: &Quota, now: u64, cost: u32) -> Charge {
    let mut current = bucket.load(Ordering::Acquire);
    loop {
        let next = match evaluate(current, quota, now, cost) {
            Ok(next) => next,
            Err(wait) => return refused(current, quota, now, wait),
        };

        match bucket.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return taken(next, quota, now),
            Err(actual) => current = actual,
        }
    }
}

/// What [`charge`] would answer for a bucket at `tat`, without changing anything.
pub(crate) fn inspect(tat: u64, quota: &Quota, now: u64, cost: u32) -> Charge {
    match evaluate(tat, quota, now, cost) {
        Ok(next) => taken(next, quota, now),
        Err(wait) => refused(tat, quota, now, wait),
    }
}

/// Gives back `cost` units taken by [`charge`], whatever was charged since.
pub(crate) fn refund(bucket: &AtomicU64, quota: &Quota, cost: u32) {
    let amount = cost_nanos(quota, cost);
    let _ = bucket.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
        Some(saturate(u128::from(tat).saturating_sub(amount)))
    });
}

/// The new TAT if `cost` fits a bucket at `tat`, or how long until it would.
pub(crate) fn evaluate(tat: u64, quota: &Quota, now: u64, cost: u32) -> Result<u64, Duration> {
    // Almost every quota and time fits in 64 bits; only then is the fast path taken.
    let interval = quota.interval_nanos();
    let fast = interval
        .checked_mul(u64::from(quota.burst()))
        .zip(interval.checked_mul(u64::from(cost)))
        .and_then(|(capacity, cost)| {
            let ahead = tat.saturating_sub(now).checked_add(cost)?;
            now.checked_add(ahead).map(|next| (capacity, ahead, next))
        });
    if let Some((capacity, ahead, next)) = fast {
        if ahead <= capacity {
            return Ok(next);
        }
        return Err(Duration::from_nanos(ahead - capacity));
    }
    evaluate_wide(tat, quota, now, cost)
}

/// [`evaluate`] in 128 bits, for quotas and times near the ends of the range.
fn evaluate_wide(tat: u64, quota: &Quota, now: u64, cost: u32) -> Result<u64, Duration> {
    let now = u128::from(now);
    let capacity = cost_nanos(quota, quota.burst());
    let next = u128::from(tat).max(now) + cost_nanos(quota, cost);

    // `next - now` is how far ahead of real time the bucket would run.
    let ahead = next - now;
    if ahead <= capacity {
        return Ok(saturate(next));
    }
    if quota.never_refills() {
        return Err(Duration::MAX);
    }
    Err(Duration::from_nanos(saturate(ahead - capacity)))
}

fn taken(tat: u64, quota: &Quota, now: u64) -> Charge {
    Charge::Taken {
        remaining: remaining(tat, quota, now),
        reset_after: reset_after(tat, quota, now),
    }
}

fn refused(tat: u64, quota: &Quota, now: u64, wait: Duration) -> Charge {
    Charge::Refused {
        wait,
        remaining: remaining(tat, quota, now),
        reset_after: reset_after(tat, quota, now),
    }
}

/// Whole units left in a bucket whose TAT is `tat` at `now`.
fn remaining(tat: u64, quota: &Quota, now: u64) -> u32 {
    let interval = quota.interval_nanos();
    if let Some(capacity) = interval.checked_mul(u64::from(quota.burst())) {
        let free = capacity.saturating_sub(tat.saturating_sub(now));
        return u32::try_from(free / interval).unwrap_or(u32::MAX);
    }
    let ahead = u128::from(tat.saturating_sub(now));
    let free = cost_nanos(quota, quota.burst()).saturating_sub(ahead);
    let units = free / u128::from(quota.interval_nanos());
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// How long until a bucket whose TAT is `tat` is full again.
fn reset_after(tat: u64, quota: &Quota, now: u64) -> Duration {
    match tat.saturating_sub(now) {
        0 => Duration::ZERO,
        _ if quota.never_refills() => Duration::MAX,
        ahead => Duration::from_nanos(ahead),
    }
}

/// The time it takes to earn `cost` units.
fn cost_nanos(quota: &Quota, cost: u32) -> u128 {
    u128::from(quota.interval_nanos()) * u128::from(cost)
}

fn saturate(nanos: u128) -> u64 {
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn quota(per_second: u32, burst: u32) -> Quota {
        Quota::per_second(NonZeroU32::new(per_second).unwrap())
            .with_burst(NonZeroU32::new(burst).unwrap())
    }

    #[test]
    fn a_full_bucket_allows_exactly_its_burst() {
        let quota = quota(10, 3);
        let bucket = AtomicU64::new(0);
        let now = 100 * SECOND;
        assert_eq!(
            charge(&bucket, &quota, now, 1),
            Charge::Taken {
                remaining: 2,
                reset_after: Duration::from_millis(100)
            }
        );
        assert_eq!(
            charge(&bucket, &quota, now, 1),
            Charge::Taken {
                remaining: 1,
                reset_after: Duration::from_millis(200)
            }
        );
        assert_eq!(
            charge(&bucket, &quota, now, 1),
            Charge::Taken {
                remaining: 0,
                reset_after: Duration::from_millis(300)
            }
        );
        let refused = charge(&bucket, &quota, now, 1);
        assert_eq!(
            refused,
            Charge::Refused {
                wait: Duration::from_millis(100),
                remaining: 0,
                reset_after: Duration::from_millis(300)
            }
        );
    }

    #[test]
    fn a_rejection_does_not_write() {
        let quota = quota(1, 2);
        let bucket = AtomicU64::new(0);
        assert!(matches!(
            charge(&bucket, &quota, SECOND, 2),
            Charge::Taken { .. }
        ));
        let before = bucket.load(Ordering::Acquire);
        assert!(matches!(
            charge(&bucket, &quota, SECOND, 1),
            Charge::Refused { .. }
        ));
        assert_eq!(bucket.load(Ordering::Acquire), before);
    }

    #[test]
    fn refund_restores_what_was_taken() {
        let quota = quota(10, 5);
        let bucket = AtomicU64::new(0);
        assert!(matches!(
            charge(&bucket, &quota, SECOND, 2),
            Charge::Taken { .. }
        ));
        let after_first = bucket.load(Ordering::Acquire);
        assert!(matches!(
            charge(&bucket, &quota, SECOND, 3),
            Charge::Taken { .. }
        ));
        refund(&bucket, &quota, 3);
        assert_eq!(bucket.load(Ordering::Acquire), after_first);
    }

    #[test]
    fn a_once_quota_allows_one_unit_and_never_refills() {
        let quota = Quota::once();
        let bucket = AtomicU64::new(0);
        assert_eq!(
            charge(&bucket, &quota, SECOND, 1),
            Charge::Taken {
                remaining: 0,
                reset_after: Duration::MAX
            }
        );
        let refused = charge(&bucket, &quota, 1_000_000 * SECOND, 1);
        assert!(matches!(
            refused,
            Charge::Refused {
                wait: Duration::MAX,
                ..
            }
        ));
        refund(&bucket, &quota, 1);
        assert_eq!(bucket.load(Ordering::Acquire), 0);
    }

    #[test]
    fn inspecting_never_writes() {
        let quota = quota(10, 2);
        let bucket = AtomicU64::new(0);
        let seen = inspect(bucket.load(Ordering::Acquire), &quota, SECOND, 1);
        assert!(matches!(seen, Charge::Taken { remaining: 1, .. }));
        assert_eq!(bucket.load(Ordering::Acquire), 0);
    }

    #[test]
    fn times_near_the_end_of_the_clock_saturate() {
        let quota = quota(1, 1);
        let bucket = AtomicU64::new(0);
        assert!(matches!(
            charge(&bucket, &quota, u64::MAX, 1),
            Charge::Taken { .. }
        ));
        assert_eq!(bucket.load(Ordering::Acquire), u64::MAX);
        assert!(matches!(
            inspect(bucket.load(Ordering::Acquire), &quota, u64::MAX, 1),
            Charge::Taken { .. }
        ));
    }
}

//! Scenarios named after bugs that rate limiters are known to have shipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{Layer, LimitError, LimitRequest, Limiter, Quota, QuotaPlan};

const START: u64 = 1_700_000_000;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn limiter(quota: Quota) -> (Limiter, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let plan = QuotaPlan::new().layer(Layer::Identity, quota);
    (Limiter::new(plan, clock.clone()), clock)
}

fn read() -> LimitRequest<'static> {
    LimitRequest::new("agent", Severity::Read)
}

fn allowed_in_a_row(limiter: &Limiter) -> u32 {
    let mut allowed = 0;
    while limiter.check(&read()).unwrap().is_allowed() {
        allowed += 1;
    }
    allowed
}

#[test]
fn an_idle_gap_grants_no_extra_request() {
    let (limiter, clock) = limiter(Quota::per_second(nz(10)).with_burst(nz(5)));
    assert_eq!(allowed_in_a_row(&limiter), 5);
    for gap in [1, 60, 86_400] {
        clock.advance(Duration::from_secs(gap));
        assert_eq!(
            allowed_in_a_row(&limiter),
            5,
            "after an idle gap of {gap} s"
        );
    }
}

#[test]
fn a_cost_above_the_burst_is_refused_instead_of_waiting_forever() {
    let (limiter, clock) = limiter(Quota::per_second(nz(1)).with_burst(nz(3)));
    let write = LimitRequest::new("agent", Severity::Write);
    for _ in 0..3 {
        let err = limiter.check(&write).unwrap_err();
        assert!(matches!(
            err,
            LimitError::CostExceedsBurst {
                cost: 5,
                burst: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("never fit"), "{err}");
        clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(limiter.tracked_keys(), 0);
}

#[test]
fn huge_rates_neither_round_to_zero_nor_overflow() {
    let billion = Quota::new(nz(1_000_000_000), Duration::from_secs(1), nz(1_000)).unwrap();
    assert_eq!(billion.interval(), Duration::from_nanos(1));
    let (fast, clock) = limiter(billion);
    assert_eq!(allowed_in_a_row(&fast), 1_000);
    clock.advance(Duration::from_nanos(7));
    assert_eq!(allowed_in_a_row(&fast), 7);

    let too_fast = Quota::new(nz(2_000_000_000), Duration::from_secs(1), nz(1));
    assert!(matches!(too_fast, Err(LimitError::InvalidQuota { .. })));

    // The other end: one a day is exact, not rounded to zero or to "unlimited".
    let daily = Quota::new(nz(1), Duration::from_secs(86_400), nz(1)).unwrap();
    let (limiter, clock) = limiter(daily);
    assert!(limiter.check(&read()).unwrap().is_allowed());
    let refused = limiter.check(&read()).unwrap();
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(86_400)));
    clock.advance(Duration::from_secs(86_399));
    assert!(!limiter.check(&read()).unwrap().is_allowed());
    clock.advance(Duration::from_secs(1));
    assert!(limiter.check(&read()).unwrap().is_allowed());
}

#[test]
fn a_clock_read_going_backwards_causes_no_false_rejection() {
    let (limiter, clock) = limiter(Quota::per_second(nz(1)).with_burst(nz(2)));
    assert!(limiter.check(&read()).unwrap().is_allowed());
    clock.advance(Duration::from_secs(1));
    assert_eq!(limiter.peek(&read()).unwrap().remaining(), 1);

    // A lagging core reads a time an hour old: the bucket still sees the newest time.
    clock.set(Timestamp::from_unix_secs(START - 3600));
    let decision = limiter.check(&read()).unwrap();
    assert!(decision.is_allowed());
    assert_eq!(decision.remaining(), 1);
}

#[test]
fn state_never_expires_while_the_bucket_is_still_refilling() {
    let (limiter, clock) = limiter(Quota::per_second(nz(1)).with_burst(nz(3)));
    assert_eq!(allowed_in_a_row(&limiter), 3);
    // One nanosecond before the bucket is full again, a sweep must keep it.
    clock.advance(Duration::from_secs(3) - Duration::from_nanos(1));
    limiter.sweep();
    assert_eq!(allowed_in_a_row(&limiter), 2);
    // Exactly full: the sweep may drop it, and that changes nothing.
    clock.advance(Duration::from_secs(3));
    assert_eq!(limiter.sweep(), 1);
    assert_eq!(allowed_in_a_row(&limiter), 3);
}

#[test]
fn fractional_refill_is_never_lost() {
    // Three per second: one unit every 333,333,334 ns. Checking every 100 ms must
    // still earn 3 units a second, not round each partial unit away (the bucket
    // holds two, so it is never full and nothing overflows).
    let (limiter, clock) = limiter(Quota::per_second(nz(3)).with_burst(nz(2)));
    let mut allowed = 0;
    for _ in 0..100 {
        clock.advance(Duration::from_millis(100));
        if limiter.check(&read()).unwrap().is_allowed() {
            allowed += 1;
        }
    }
    // The two units the bucket started with, plus 10 s at 3 per second (29 whole
    // units by the last check, as the interval is rounded up by under a nanosecond).
    assert_eq!(allowed, 31);
}

#[test]
fn a_refused_layer_leaves_no_partial_charge_behind() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let plan = QuotaPlan::new()
        .layer(
            Layer::Identity,
            Quota::per_second(nz(1)).with_burst(nz(100)),
        )
        .layer(Layer::Tenant, Quota::per_second(nz(1)).with_burst(nz(1)));
    let limiter = Limiter::new(plan, clock);
    let request = read().tenant("acme");
    assert!(limiter.check(&request).unwrap().is_allowed());
    for _ in 0..1000 {
        assert!(!limiter.check(&request).unwrap().is_allowed());
    }
    assert_eq!(limiter.peek(&read()).unwrap().remaining(), 98);
}

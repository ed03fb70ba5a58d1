//! One layer's buckets: burst, refill, retry time, cost, clock skew, extreme rates.

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
use nhi_limiter::{
    Layer, LimitDecision, LimitError, LimitRequest, Limiter, Quota, QuotaPlan, SeverityCosts,
};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)))
}

/// A limiter with only the identity layer at `per_second` and `burst`.
fn limiter(per_second: u32, burst: u32) -> (Limiter, Arc<ManualClock>) {
    let clock = clock();
    let quota = Quota::per_second(nz(per_second)).with_burst(nz(burst));
    let plan = QuotaPlan::new().layer(Layer::Identity, quota);
    (Limiter::new(plan, clock.clone()), clock)
}

fn read(identity: &str) -> LimitRequest<'_> {
    LimitRequest::new(identity, Severity::Read)
}

fn allowed(limiter: &Limiter, request: &LimitRequest<'_>) -> bool {
    limiter.check(request).unwrap().is_allowed()
}

/// Asserts an allowance with `remaining` units left, outside shadow mode.
fn assert_allowed(decision: &LimitDecision, remaining: u32) {
    assert!(decision.is_allowed(), "{decision:?}");
    assert_eq!(decision.remaining(), remaining, "{decision:?}");
    assert_eq!(decision.shadow_rejected(), None);
}

#[test]
fn a_burst_is_allowed_then_the_next_request_is_rejected() {
    let (limiter, _clock) = limiter(10, 5);
    for expected_left in (0..5).rev() {
        let decision = limiter.check(&read("agent")).unwrap();
        assert_allowed(&decision, expected_left);
    }
    let decision = limiter.check(&read("agent")).unwrap();
    assert_eq!(
        decision,
        LimitDecision::Rejected {
            layer: Layer::Identity,
            retry_after: Duration::from_millis(100),
            breach: None,
            remaining: 0,
            limit: 5,
            reset_after: Duration::from_millis(500),
        }
    );
}

#[test]
fn one_unit_comes_back_after_exactly_the_interval() {
    let (limiter, clock) = limiter(10, 2);
    assert!(allowed(&limiter, &read("agent")));
    assert!(allowed(&limiter, &read("agent")));

    clock.advance(Duration::from_millis(100) - Duration::from_nanos(1));
    assert!(!allowed(&limiter, &read("agent")));
    clock.advance(Duration::from_nanos(1));
    assert!(allowed(&limiter, &read("agent")));
    assert!(!allowed(&limiter, &read("agent")));
}

#[test]
fn an_idle_gap_refills_exactly_the_burst_never_one_more() {
    let (limiter, clock) = limiter(10, 4);
    for gap in [
        Duration::from_secs(1),
        Duration::from_secs(3600),
        Duration::from_secs(1),
    ] {
        clock.advance(gap);
        let taken = (0..10)
            .filter(|_| allowed(&limiter, &read("agent")))
            .count();
        assert_eq!(taken, 4, "after a gap of {gap:?}");
    }
}

#[test]
fn partial_refills_are_kept_between_checks() {
    // 3 per second does not divide a second evenly; units must still arrive on time.
    let (limiter, clock) = limiter(3, 1);
    assert!(allowed(&limiter, &read("agent")));
    let mut taken = 0;
    for _ in 0..300 {
        clock.advance(Duration::from_millis(10));
        if allowed(&limiter, &read("agent")) {
            taken += 1;
        }
    }
    assert_eq!(
        taken, 8,
        "3 per second over 3 s, the last unit due at 3.000000002 s"
    );
}

#[test]
fn severity_sets_the_cost() {
    let (limiter, _clock) = limiter(1, 20);
    let write = LimitRequest::new("agent", Severity::Write);
    let destructive = LimitRequest::new("agent", Severity::Destructive);

    assert_allowed(&limiter.check(&write).unwrap(), 15);
    assert_allowed(&limiter.check(&read("agent")).unwrap(), 14);
    let decision = limiter.check(&destructive).unwrap();
    assert_eq!(decision.retry_after(), Some(Duration::from_secs(6)));
}

#[test]
fn custom_costs_are_used_and_zero_cost_is_free() {
    let clock = clock();
    let plan = QuotaPlan {
        costs: SeverityCosts {
            read: 0,
            write: 2,
            destructive: 3,
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, Quota::per_minute(nz(3)));
    let limiter = Limiter::new(plan, clock);

    for _ in 0..100 {
        assert!(allowed(&limiter, &read("agent")));
    }
    let destructive = LimitRequest::new("agent", Severity::Destructive);
    assert!(allowed(&limiter, &destructive));
    assert!(!allowed(
        &limiter,
        &LimitRequest::new("agent", Severity::Write)
    ));
}

#[test]
fn a_cost_above_the_burst_is_an_error_not_a_wait() {
    let (limiter, clock) = limiter(100, 10);
    let destructive = LimitRequest::new("agent", Severity::Destructive);
    let err = limiter.check(&destructive).unwrap_err();
    assert!(matches!(
        err,
        LimitError::CostExceedsBurst {
            layer: Layer::Identity,
            cost: 20,
            burst: 10
        }
    ));
    assert!(err.to_string().contains("never fit"), "{err}");

    // Nothing was charged, and waiting does not help.
    assert_allowed(&limiter.check(&read("agent")).unwrap(), 9);
    clock.advance(Duration::from_secs(3600));
    assert!(limiter.check(&destructive).is_err());
}

#[test]
fn waiting_the_retry_time_lets_the_request_through() {
    let (limiter, clock) = limiter(7, 30);
    let write = LimitRequest::new("agent", Severity::Write);
    for round in 0..20 {
        let decision = loop {
            let decision = limiter.check(&write).unwrap();
            if !decision.is_allowed() {
                break decision;
            }
        };
        let wait = decision.retry_after().unwrap();
        assert!(wait > Duration::ZERO);

        clock.advance(wait - Duration::from_nanos(1));
        assert!(!allowed(&limiter, &write), "round {round}: early by 1 ns");
        clock.advance(Duration::from_nanos(1));
        assert!(allowed(&limiter, &write), "round {round}: on time");
        clock.advance(Duration::from_millis(37 * round));
    }
}

#[test]
fn a_clock_going_backwards_causes_no_false_rejection_or_panic() {
    let (limiter, clock) = limiter(10, 2);
    assert!(allowed(&limiter, &read("agent")));
    assert!(allowed(&limiter, &read("agent")));
    clock.advance(Duration::from_secs(1));

    assert!(allowed(&limiter, &read("agent")));

    // The clock jumps back an hour, then to the epoch: the limiter keeps using the
    // latest reading, so the unit left is still there and the wait stays short.
    clock.set(Timestamp::from_unix_secs(1_700_000_000 - 3600));
    assert!(allowed(&limiter, &read("agent")));
    assert!(allowed(&limiter, &read("fresh")));
    clock.set(Timestamp::EPOCH);
    let decision = limiter.check(&read("agent")).unwrap();
    assert_eq!(decision.retry_after(), Some(Duration::from_millis(100)));
    assert_eq!(limiter.sweep(), 0);
}

#[test]
fn rates_at_and_above_a_billion_per_second_are_handled() {
    let (limiter, clock) = limiter(1_000_000_000, 3);
    for _ in 0..3 {
        assert!(allowed(&limiter, &read("agent")));
    }
    assert!(!allowed(&limiter, &read("agent")));
    clock.advance(Duration::from_nanos(1));
    assert!(allowed(&limiter, &read("agent")));

    // Faster rates are refused by the checked constructor and capped by the shortcut.
    let refused = Quota::new(nz(2_000_000_000), Duration::from_secs(1), nz(1));
    assert!(matches!(refused, Err(LimitError::InvalidQuota { .. })));
    assert_eq!(
        Quota::per_second(nz(u32::MAX)).interval(),
        Duration::from_nanos(1)
    );

    // The slowest and largest quotas do not overflow either.
    let slow = Quota::new(nz(1), Duration::from_secs(400 * 365 * 86_400), nz(u32::MAX)).unwrap();
    let plan = QuotaPlan::new().layer(Layer::Identity, slow);
    let limiter = Limiter::new(plan, clock.clone());
    assert!(allowed(&limiter, &read("agent")));
}

#[test]
fn hostile_keys_are_refused_before_anything_is_charged() {
    let (limiter, _clock) = limiter(10, 1);
    let err = limiter.check(&read("")).unwrap_err();
    assert!(matches!(
        err,
        LimitError::InvalidKey {
            layer: Layer::Identity,
            ..
        }
    ));

    let huge = "x".repeat(nhi_limiter::MAX_KEY_LEN + 1);
    assert!(limiter.check(&read(&huge)).is_err());
    assert_eq!(limiter.tracked_keys(), 0);

    let longest = "é".repeat(nhi_limiter::MAX_KEY_LEN / 2);
    assert!(allowed(&limiter, &read(&longest)));
}

#[test]
fn keys_have_their_own_buckets() {
    let (limiter, _clock) = limiter(1, 1);
    assert!(allowed(&limiter, &read("a")));
    assert!(!allowed(&limiter, &read("a")));
    assert!(allowed(&limiter, &read("b")));
}

#[test]
fn a_plan_without_layers_allows_everything() {
    let limiter = Limiter::new(QuotaPlan::new(), clock());
    let decision = limiter.check(&read("agent")).unwrap();
    assert_allowed(&decision, u32::MAX);
    assert_eq!(limiter.tracked_keys(), 0);
}

//! Several layers charged at once, all or nothing.

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
use nhi_limiter::{Layer, LimitDecision, LimitRequest, Limiter, Quota, QuotaPlan};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn quota(per_second: u32, burst: u32) -> Quota {
    Quota::per_second(nz(per_second)).with_burst(nz(burst))
}

fn limiter(plan: QuotaPlan) -> (Limiter, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    (Limiter::new(plan, clock.clone()), clock)
}

fn remaining(decision: &LimitDecision) -> u32 {
    match decision {
        LimitDecision::Allowed { remaining, .. } => *remaining,
        LimitDecision::Rejected { .. } => panic!("rejected: {decision:?}"),
    }
}

#[test]
fn a_rejection_in_the_endpoint_layer_leaves_the_identity_layer_untouched() {
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota(1, 10))
        .layer(Layer::Endpoint, quota(1, 2));
    let (limiter, _clock) = limiter(plan);
    let hit = LimitRequest::new("agent", Severity::Read).endpoint("k8s:prod");

    // The endpoint holds 2: two pass, the rest are rejected by it.
    assert_eq!(remaining(&limiter.check(&hit).unwrap()), 1);
    assert_eq!(remaining(&limiter.check(&hit).unwrap()), 0);
    for _ in 0..5 {
        let decision = limiter.check(&hit).unwrap();
        assert!(matches!(
            decision,
            LimitDecision::Rejected {
                layer: Layer::Endpoint,
                ..
            }
        ));
    }

    // The identity was charged only for the two that passed: 8 units are left.
    let elsewhere = LimitRequest::new("agent", Severity::Read);
    assert_eq!(remaining(&limiter.check(&elsewhere).unwrap()), 7);
}

#[test]
fn a_rejection_in_a_later_layer_gives_back_every_earlier_charge() {
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota(1, 20))
        .layer(Layer::Workflow, quota(1, 20))
        .layer(Layer::Tenant, quota(1, 20))
        .layer(Layer::IncidentClass, quota(1, 5));
    let (limiter, _clock) = limiter(plan);
    let write = LimitRequest::new("agent", Severity::Write)
        .workflow("wf")
        .tenant("acme")
        .incident_class("disk-full");

    assert_eq!(remaining(&limiter.check(&write).unwrap()), 0);
    let rejected = limiter.check(&write).unwrap();
    assert!(matches!(
        rejected,
        LimitDecision::Rejected {
            layer: Layer::IncidentClass,
            ..
        }
    ));

    // Each earlier layer still has exactly 15 units: 5 were taken once, never twice.
    let probe = LimitRequest::new("agent", Severity::Read)
        .workflow("wf")
        .tenant("acme");
    assert_eq!(remaining(&limiter.check(&probe).unwrap()), 14);
}

#[test]
fn the_tightest_charged_layer_sets_the_remaining_units() {
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota(1, 10))
        .layer(Layer::Tenant, quota(1, 3));
    let (limiter, _clock) = limiter(plan);
    let with_tenant = LimitRequest::new("agent", Severity::Read).tenant("acme");
    assert_eq!(remaining(&limiter.check(&with_tenant).unwrap()), 2);

    // A request that names no tenant is charged to the identity alone.
    let without = LimitRequest::new("agent", Severity::Read);
    assert_eq!(remaining(&limiter.check(&without).unwrap()), 8);
}

#[test]
fn keys_for_layers_the_plan_does_not_limit_are_ignored() {
    let plan = QuotaPlan::new().layer(Layer::Identity, quota(1, 1));
    let (limiter, _clock) = limiter(plan);
    let request = LimitRequest::new("agent", Severity::Read).endpoint("anything");
    assert!(limiter.check(&request).unwrap().is_allowed());
    assert_eq!(limiter.tracked_keys(), 1);
}

#[test]
fn the_retry_time_covers_every_layer_not_only_the_first_to_reject() {
    // Identity refills 1 per second, endpoint 1 per 10 seconds; both are empty.
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota(1, 1))
        .layer(Layer::Endpoint, Quota::per_minute(nz(6)).with_burst(nz(1)));
    let (limiter, clock) = limiter(plan);
    let hit = LimitRequest::new("agent", Severity::Read).endpoint("db");
    assert!(limiter.check(&hit).unwrap().is_allowed());

    let decision = limiter.check(&hit).unwrap();
    assert_eq!(
        decision,
        LimitDecision::Rejected {
            layer: Layer::Endpoint,
            retry_after: Duration::from_secs(10),
            breach: None,
            remaining: 0,
            limit: 1,
            reset_after: Duration::from_secs(10),
        }
    );
    clock.advance(Duration::from_secs(10));
    assert!(limiter.check(&hit).unwrap().is_allowed());
}

#[test]
fn a_cost_too_big_for_any_layer_charges_none() {
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota(1, 50))
        .layer(Layer::Endpoint, quota(1, 10));
    let (limiter, _clock) = limiter(plan);
    let destructive = LimitRequest::new("agent", Severity::Destructive).endpoint("db");
    assert!(limiter.check(&destructive).is_err());
    assert_eq!(limiter.tracked_keys(), 0);
}

//! Many threads on shared buckets, and memory held by many keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{Layer, LimitRequest, Limiter, Quota, QuotaPlan};

const THREADS: usize = 8;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)))
}

/// Runs `checks` requests from each of [`THREADS`] threads and adds up the units allowed.
fn hammer(limiter: &Arc<Limiter>, checks: usize, request: LimitRequest<'static>) -> u64 {
    let units = Arc::new(AtomicU64::new(0));
    let cost = u64::from(limiter.plan().costs.cost(request.severity));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (limiter, units) = (Arc::clone(limiter), Arc::clone(&units));
            thread::spawn(move || {
                for _ in 0..checks {
                    if limiter.check(&request).unwrap().is_allowed() {
                        units.fetch_add(cost, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    units.load(Ordering::Relaxed)
}

#[test]
fn threads_racing_on_one_bucket_take_exactly_the_burst() {
    let plan = QuotaPlan::new().layer(
        Layer::Identity,
        Quota::per_minute(nz(1)).with_burst(nz(997)),
    );
    let limiter = Arc::new(Limiter::new(plan, clock()));
    let allowed = hammer(&limiter, 500, LimitRequest::new("agent", Severity::Read));
    assert_eq!(allowed, 997);
}

#[test]
fn threads_racing_with_costs_never_overdraw() {
    // Writes cost 5: 1000 units hold exactly 200 of them.
    let plan = QuotaPlan::new()
        .layer(
            Layer::Identity,
            Quota::per_minute(nz(1)).with_burst(nz(1000)),
        )
        .layer(
            Layer::Endpoint,
            Quota::per_minute(nz(1)).with_burst(nz(5000)),
        );
    let limiter = Arc::new(Limiter::new(plan, clock()));
    let write = LimitRequest::new("agent", Severity::Write).endpoint("db");
    assert_eq!(hammer(&limiter, 200, write), 1000);
}

#[test]
fn threads_racing_on_two_layers_never_exceed_the_tighter_one() {
    // Rollbacks race with charges here; nothing may be lost or granted twice.
    let plan = QuotaPlan::new()
        .layer(
            Layer::Identity,
            Quota::per_minute(nz(1)).with_burst(nz(300)),
        )
        .layer(
            Layer::Endpoint,
            Quota::per_minute(nz(1)).with_burst(nz(100)),
        );
    let limiter = Arc::new(Limiter::new(plan, clock()));
    let hit = LimitRequest::new("agent", Severity::Read).endpoint("db");
    assert_eq!(hammer(&limiter, 200, hit), 100);

    // Every rejected request gave its identity charge back.
    let probe = LimitRequest::new("agent", Severity::Read);
    assert_eq!(limiter.check(&probe).unwrap().remaining(), 199);
}

#[test]
fn sweeping_after_a_flood_of_distinct_keys_forgets_them_all() {
    let clock = clock();
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, Quota::per_second(nz(10)))
        .layer(Layer::Endpoint, Quota::per_second(nz(1)));
    let limiter = Limiter::new(plan, clock.clone());

    for n in 0..10_000 {
        let identity = format!("agent-{n}");
        let endpoint = format!("host-{}", n % 100);
        let request = LimitRequest::new(&identity, Severity::Read).endpoint(&endpoint);
        limiter.check(&request).unwrap();
    }
    // Each endpoint let one request through and rejected 99: 10 000 identity buckets,
    // 100 endpoint buckets, 9 900 violation logs.
    assert_eq!(limiter.tracked_keys(), 20_000);

    // A rejected request's identity charge was given back, so those 9 900 buckets are
    // already full and go at once; the rest are still refilling or recent.
    assert_eq!(limiter.sweep(), 9_900);
    assert_eq!(limiter.tracked_keys(), 10_100);

    clock.advance(Duration::from_secs(61));
    let before = limiter.tracked_keys();
    assert_eq!(limiter.sweep(), before);
    assert_eq!(limiter.tracked_keys(), 0);
}

#[test]
fn sweeping_keeps_buckets_that_are_still_refilling() {
    let clock = clock();
    let plan = QuotaPlan::new().layer(Layer::Identity, Quota::per_second(nz(1)));
    let limiter = Limiter::new(plan, clock.clone());
    limiter
        .check(&LimitRequest::new("busy", Severity::Read))
        .unwrap();
    clock.advance(Duration::from_millis(999));
    assert_eq!(limiter.sweep(), 0);
    assert!(
        !limiter
            .check(&LimitRequest::new("busy", Severity::Read))
            .unwrap()
            .is_allowed()
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(limiter.sweep(), 2);
}

#[test]
fn sweeping_keeps_a_tripped_switch_until_it_is_cleared() {
    let clock = clock();
    let plan = QuotaPlan::new().layer(Layer::Identity, Quota::per_second(nz(1)));
    let limiter = Limiter::new(plan, clock.clone());
    let read = LimitRequest::new("agent", Severity::Read);
    let tripped = (0..6)
        .filter(|_| limiter.check(&read).unwrap().breach().is_some())
        .count();
    assert_eq!(tripped, 1);

    clock.advance(Duration::from_secs(3600));
    assert_eq!(limiter.sweep(), 1);
    assert!(limiter.is_breached("agent"));
    assert_eq!(limiter.tracked_keys(), 1);
    limiter.clear_breach("agent");
    assert_eq!(limiter.tracked_keys(), 0);
}

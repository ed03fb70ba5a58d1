//! Waiting for a bucket with `acquire`, and sweeping on a timer, on tokio's paused
//! clock: no test here sleeps for real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{Clock, Severity, Timestamp};
use nhi_limiter::{Layer, LimitRequest, Limiter, Quota, QuotaPlan, spawn_sweeper};
use tokio::time::Instant;

/// A clock that follows tokio's (paused) time.
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = u64::try_from(self.start.elapsed().as_nanos()).unwrap();
        Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + elapsed)
    }
}

fn limiter(plan: QuotaPlan) -> Arc<Limiter> {
    let clock = Arc::new(TokioClock {
        start: Instant::now(),
    });
    Arc::new(Limiter::new(plan, clock))
}

fn per_second(count: u32, burst: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(count).unwrap()).with_burst(NonZeroU32::new(burst).unwrap())
}

fn read() -> LimitRequest<'static> {
    LimitRequest::new("agent", Severity::Read)
}

#[tokio::test(start_paused = true)]
async fn acquire_paces_requests_at_the_quota_rate() {
    let limiter = limiter(QuotaPlan::new().layer(Layer::Identity, per_second(10, 2)));
    let start = Instant::now();
    for _ in 0..12 {
        assert!(limiter.acquire(&read()).await.unwrap().is_allowed());
    }
    // Two from the burst, then one every 100 ms.
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(limiter.stats().breaches, 0);
    assert!(!limiter.is_breached("agent"));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_acquire_charges_nothing() {
    let limiter = limiter(QuotaPlan::new().layer(Layer::Identity, per_second(1, 1)));
    assert!(limiter.check(&read()).unwrap().is_allowed());

    let waited = tokio::time::timeout(Duration::from_millis(500), limiter.acquire(&read())).await;
    assert!(waited.is_err(), "the acquire should still be waiting");

    // Half a second later the unit comes back whole: the cancelled wait took nothing.
    tokio::time::advance(Duration::from_millis(500)).await;
    let decision = limiter.check(&read()).unwrap();
    assert!(decision.is_allowed());
    assert_eq!(decision.remaining(), 0);
}

#[tokio::test(start_paused = true)]
async fn acquire_refuses_what_can_never_fit() {
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, per_second(1, 1))
        .layer(Layer::Incident, Quota::once());
    let limiter = limiter(plan);
    let write = LimitRequest::new("agent", Severity::Write);
    assert!(limiter.acquire(&write).await.is_err());

    limiter.set_layer_quota(Layer::Identity, Some(per_second(100, 100)));
    let restart = LimitRequest::new("agent", Severity::Destructive).incident("INC-1");
    assert!(limiter.acquire(&restart).await.unwrap().is_allowed());
    let again = limiter.acquire(&restart).await.unwrap();
    assert_eq!(again.retry_after(), Some(Duration::MAX));
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_forgets_refilled_buckets_and_stops_with_the_limiter() {
    let limiter = limiter(QuotaPlan::new().layer(Layer::Identity, per_second(10, 10)));
    for n in 0..100 {
        let identity = format!("agent-{n}");
        limiter
            .check(&LimitRequest::new(&identity, Severity::Read))
            .unwrap();
    }
    assert_eq!(limiter.tracked_keys(), 100);

    let sweeper = spawn_sweeper(&limiter, Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(limiter.tracked_keys(), 0);

    drop(limiter);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sweeper.is_finished());
}

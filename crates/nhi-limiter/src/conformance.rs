//! A suite of behaviours every [`RateLimiter`] backend must show (feature
//! `conformance`).
//!
//! Call [`run_all`] from a test with a function that builds a fresh, empty limiter
//! for a plan. The cases use slow rates (one unit per hour) so that the real time a
//! shared store's clock moves while they run can never change an outcome; time
//! figures are checked within a minute of their exact value.
//!
//! ```
//! use std::sync::Arc;
//!
//! use nhi_core::{ManualClock, Timestamp};
//! use nhi_limiter::{Limiter, RateLimiter};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! nhi_limiter::conformance::run_all(|plan| async move {
//!     let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
//!     Arc::new(Limiter::new(plan, clock)) as Arc<dyn RateLimiter>
//! })
//! .await;
//! # });
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::Severity;

use crate::breach::BreachPolicy;
use crate::error::LimitError;
use crate::plan::QuotaPlan;
use crate::quota::{Layer, Quota};
use crate::rate_limiter::RateLimiter;
use crate::request::{LimitDecision, LimitRequest};

const HOUR: Duration = Duration::from_secs(3600);
const SLACK: Duration = Duration::from_secs(60);

/// Runs every case against limiters built by `make`, panicking on the first failure.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    a_burst_is_allowed_then_the_retry_time_is_given(&make).await;
    a_cost_above_the_burst_is_an_error(&make).await;
    a_rejection_in_one_layer_leaves_the_others_untouched(&make).await;
    a_peek_charges_nothing(&make).await;
    shadow_mode_allows_and_marks_what_it_would_reject(&make).await;
    the_kill_switch_trips_once_and_reinstating_re_arms_it(&make).await;
    one_destructive_action_per_incident(&make).await;
    identities_have_their_own_buckets(&make).await;
    hostile_keys_are_refused(&make).await;
    a_plan_without_layers_allows_everything(&make).await;
}

/// One unit per hour with a bucket of `burst`.
fn hourly(burst: u32) -> Quota {
    Quota::new(NonZeroU32::MIN, HOUR, NonZeroU32::new(burst).unwrap()).unwrap()
}

fn read(identity: &str) -> LimitRequest<'_> {
    LimitRequest::new(identity, Severity::Read)
}

fn near(actual: Duration, expected: Duration) -> bool {
    actual <= expected && actual + SLACK >= expected
}

async fn a_burst_is_allowed_then_the_retry_time_is_given<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let limiter = make(QuotaPlan::new().layer(Layer::Identity, hourly(3))).await;
    for left in [2, 1, 0] {
        let decision = limiter.check(&read("agent")).await.unwrap();
        assert!(decision.is_allowed(), "burst: {decision:?}");
        assert_eq!(decision.remaining(), left, "remaining: {decision:?}");
        assert_eq!(decision.limit(), 3, "limit: {decision:?}");
        assert!(
            near(decision.reset_after(), HOUR * (3 - left)),
            "{decision:?}"
        );
    }
    let decision = limiter.check(&read("agent")).await.unwrap();
    let LimitDecision::Rejected {
        layer,
        retry_after,
        breach,
        remaining,
        ..
    } = &decision
    else {
        panic!("the request after the burst was allowed: {decision:?}");
    };
    assert_eq!(*layer, Layer::Identity);
    assert!(near(*retry_after, HOUR), "retry after: {decision:?}");
    assert!(near(decision.reset_after(), HOUR * 3), "{decision:?}");
    assert_eq!((*remaining, breach), (0, &None));
}

async fn a_cost_above_the_burst_is_an_error<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let limiter = make(QuotaPlan::new().layer(Layer::Identity, hourly(3))).await;
    let write = LimitRequest::new("agent", Severity::Write);
    let err = limiter.check(&write).await.unwrap_err();
    assert!(
        matches!(
            err,
            LimitError::CostExceedsBurst {
                layer: Layer::Identity,
                cost: 5,
                burst: 3
            }
        ),
        "{err}"
    );
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 2);
}

async fn a_rejection_in_one_layer_leaves_the_others_untouched<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, hourly(10))
        .layer(Layer::Endpoint, hourly(1));
    let limiter = make(plan).await;
    let first = read("agent").endpoint("db");
    assert!(limiter.check(&first).await.unwrap().is_allowed());
    for _ in 0..3 {
        let decision = limiter.check(&first).await.unwrap();
        assert!(matches!(
            decision,
            LimitDecision::Rejected {
                layer: Layer::Endpoint,
                ..
            }
        ));
    }
    // Only the first request was charged to the identity: 9 left, 8 after this one.
    let other = read("agent").endpoint("cache");
    let decision = limiter.check(&other).await.unwrap();
    assert!(decision.is_allowed(), "{decision:?}");
    let identity_only = limiter.peek(&read("agent")).await.unwrap();
    assert_eq!(identity_only.remaining(), 7, "{identity_only:?}");
}

async fn a_peek_charges_nothing<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let limiter = make(QuotaPlan::new().layer(Layer::Identity, hourly(2))).await;
    for _ in 0..5 {
        let decision = limiter.peek(&read("agent")).await.unwrap();
        assert!(decision.is_allowed());
        assert_eq!(decision.remaining(), 1);
    }
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 1);
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 0);
    let peeked = limiter.peek(&read("agent")).await.unwrap();
    assert!(!peeked.is_allowed());
    assert!(near(peeked.retry_after().unwrap(), HOUR), "{peeked:?}");
}

async fn shadow_mode_allows_and_marks_what_it_would_reject<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let plan = QuotaPlan {
        shadow: true,
        breach: BreachPolicy {
            rejections: NonZeroU32::new(2).unwrap(),
            window: HOUR,
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, hourly(1));
    let limiter = make(plan).await;
    let first = limiter.check(&read("agent")).await.unwrap();
    assert_eq!(first.shadow_rejected(), None);
    for _ in 0..4 {
        let decision = limiter.check(&read("agent")).await.unwrap();
        assert!(decision.is_allowed(), "{decision:?}");
        assert_eq!(decision.shadow_rejected(), Some(Layer::Identity));
        assert_eq!(decision.remaining(), 0);
    }
}

async fn the_kill_switch_trips_once_and_reinstating_re_arms_it<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let plan = QuotaPlan {
        breach: BreachPolicy {
            rejections: NonZeroU32::new(3).unwrap(),
            window: HOUR,
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, hourly(1));
    let limiter = make(plan).await;
    assert!(limiter.check(&read("agent")).await.unwrap().is_allowed());

    let mut tripped = Vec::new();
    for attempt in 1..=6 {
        let decision = limiter.check(&read("agent")).await.unwrap();
        assert!(!decision.is_allowed());
        if let Some(breach) = decision.breach() {
            assert_eq!(
                (breach.identity.as_str(), breach.layer),
                ("agent", Layer::Identity)
            );
            tripped.push(attempt);
        }
    }
    assert_eq!(
        tripped,
        [3],
        "the switch must trip once, on the third rejection"
    );

    limiter.reinstate("agent").await.unwrap();
    let breaches: Vec<bool> = {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let decision = limiter.check(&read("agent")).await.unwrap();
            seen.push(decision.breach().is_some());
        }
        seen
    };
    assert_eq!(breaches, [false, false, true]);
}

async fn one_destructive_action_per_incident<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, hourly(1000))
        .layer(Layer::Incident, Quota::once());
    let limiter = make(plan).await;
    let restart = LimitRequest::new("agent", Severity::Destructive).incident("INC-1");
    assert!(limiter.check(&restart).await.unwrap().is_allowed());
    let again = limiter.check(&restart).await.unwrap();
    assert!(
        matches!(
            again,
            LimitDecision::Rejected {
                layer: Layer::Incident,
                retry_after: Duration::MAX,
                ..
            }
        ),
        "{again:?}"
    );
    let look = read("agent").incident("INC-1");
    assert!(limiter.check(&look).await.unwrap().is_allowed());
    let elsewhere = LimitRequest::new("agent", Severity::Destructive).incident("INC-2");
    assert!(limiter.check(&elsewhere).await.unwrap().is_allowed());
}

async fn identities_have_their_own_buckets<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let limiter = make(QuotaPlan::new().layer(Layer::Identity, hourly(1))).await;
    assert!(limiter.check(&read("a")).await.unwrap().is_allowed());
    assert!(!limiter.check(&read("a")).await.unwrap().is_allowed());
    assert!(limiter.check(&read("b")).await.unwrap().is_allowed());
}

async fn hostile_keys_are_refused<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, hourly(5))
        .layer(Layer::Endpoint, hourly(5));
    let limiter = make(plan).await;
    let empty = limiter.check(&read("")).await.unwrap_err();
    assert!(matches!(empty, LimitError::InvalidKey { .. }), "{empty}");
    let long = "k".repeat(crate::MAX_KEY_LEN + 1);
    let err = limiter
        .check(&read("agent").endpoint(&long))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LimitError::InvalidKey {
                layer: Layer::Endpoint,
                ..
            }
        ),
        "{err}"
    );
    // Nothing was charged by the refused requests.
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 4);
    let odd = read("agent").endpoint("{a}:b\n\u{0}*?");
    assert!(limiter.check(&odd).await.unwrap().is_allowed());
}

async fn a_plan_without_layers_allows_everything<F, Fut>(make: &F)
where
    F: Fn(QuotaPlan) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let limiter = make(QuotaPlan::new()).await;
    for _ in 0..10 {
        let decision = limiter
            .check(&LimitRequest::new("agent", Severity::Destructive))
            .await
            .unwrap();
        assert_eq!(decision.remaining(), u32::MAX);
    }
}

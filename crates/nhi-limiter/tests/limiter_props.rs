//! Properties of the buckets over arbitrary sequences of time steps and requests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{Clock, ManualClock, Severity, Timestamp};
use nhi_limiter::{Layer, LimitRequest, Limiter, Quota, QuotaPlan, SeverityCosts};
use proptest::prelude::*;

const START: u64 = 1_700_000_000_000_000_000;

/// A quota, costs that fit it, and a sequence of (clock move in ns, severity) steps;
/// a negative move sets the clock back.
fn scenario() -> impl Strategy<Value = (u32, u64, u32, SeverityCosts, Vec<(i64, Severity)>)> {
    (1u32..1_000, 1u64..10_000_000_000, 1u32..50).prop_flat_map(|(count, per, burst)| {
        let costs = (0..=burst, 0..=burst, 0..=burst).prop_map(|(read, write, destructive)| {
            SeverityCosts {
                read,
                write,
                destructive,
            }
        });
        let severity = prop_oneof![
            Just(Severity::Read),
            Just(Severity::Write),
            Just(Severity::Destructive)
        ];
        let step = (-2_000_000_000i64..4_000_000_000, severity);
        (
            Just(count),
            Just(per.max(u64::from(count))),
            Just(burst),
            costs,
            prop::collection::vec(step, 1..200),
        )
    })
}

fn limiter(count: u32, per: u64, burst: u32, costs: SeverityCosts) -> (Limiter, Arc<ManualClock>) {
    let quota = Quota::new(
        NonZeroU32::new(count).unwrap(),
        Duration::from_nanos(per),
        NonZeroU32::new(burst).unwrap(),
    )
    .unwrap();
    let plan = QuotaPlan {
        costs,
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, quota);
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_nanos(START)));
    (Limiter::new(plan, clock.clone()), clock)
}

fn step_clock(clock: &ManualClock, by: i64) {
    if by >= 0 {
        clock.advance(Duration::from_nanos(by.unsigned_abs()));
    } else {
        let back = clock.now().unix_nanos().saturating_sub(by.unsigned_abs());
        clock.set(Timestamp::from_unix_nanos(back));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn allowed_cost_never_exceeds_burst_plus_rate_times_elapsed(
        (count, per, burst, costs, steps) in scenario()
    ) {
        let (limiter, clock) = limiter(count, per, burst, costs);
        let mut allowed: u128 = 0;
        let mut first = None;
        let mut latest = 0;

        for (by, severity) in steps {
            step_clock(&clock, by);
            let reading = clock.now().unix_nanos();
            let first = *first.get_or_insert(reading);
            latest = latest.max(reading);
            if limiter.check(&LimitRequest::new("agent", severity)).unwrap().is_allowed() {
                allowed += u128::from(costs.cost(severity));
            }

            // allowed <= burst + elapsed * count / per, kept in integers.
            let elapsed = u128::from(latest - first);
            prop_assert!(
                allowed * u128::from(per) <= u128::from(burst) * u128::from(per)
                    + elapsed * u128::from(count),
                "allowed {} units in {} ns", allowed, elapsed
            );
        }
    }

    #[test]
    fn the_retry_time_is_exact(
        (count, per, burst, costs, steps) in scenario()
    ) {
        let (limiter, clock) = limiter(count, per, burst, costs);
        for (by, severity) in steps {
            clock.advance(Duration::from_nanos(by.unsigned_abs()));
            let request = LimitRequest::new("agent", severity);
            let Some(wait) = limiter.check(&request).unwrap().retry_after() else {
                continue;
            };

            // One nanosecond early is still too early; on time it fits.
            prop_assert!(wait > Duration::ZERO);
            clock.advance(wait - Duration::from_nanos(1));
            prop_assert!(!limiter.check(&request).unwrap().is_allowed());
            clock.advance(Duration::from_nanos(1));
            prop_assert!(limiter.check(&request).unwrap().is_allowed());
        }
    }

    #[test]
    fn two_layers_match_a_reference_model_that_charges_all_or_nothing(
        quotas in prop::array::uniform2((1u32..100, 1u64..2_000_000_000, 1u32..30)),
        steps in prop::collection::vec((0u64..500_000_000, 1u32..30, any::<bool>()), 1..150),
    ) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_nanos(START)));
        let mut plan = QuotaPlan {
            costs: SeverityCosts { read: 1, write: 1, destructive: 1 },
            ..QuotaPlan::new()
        };
        let mut model = Vec::new();
        for (layer, (count, per, burst)) in [Layer::Identity, Layer::Endpoint].into_iter().zip(quotas) {
            let quota = Quota::new(
                NonZeroU32::new(count).unwrap(),
                Duration::from_nanos(per.max(u64::from(count))),
                NonZeroU32::new(burst).unwrap(),
            )
            .unwrap();
            plan = plan.layer(layer, quota);
            model.push(Model { tat: 0, interval: quota.interval().as_nanos(), burst });
        }
        let limiter = Limiter::new(plan, clock.clone());

        for (by, units, to_endpoint) in steps {
            clock.advance(Duration::from_nanos(by));
            let now = u128::from(clock.now().unix_nanos());
            // Send `units` reads in a row, to the endpoint as well when asked.
            let request = LimitRequest::new("agent", Severity::Read);
            let request = if to_endpoint { request.endpoint("db") } else { request };
            let layers = if to_endpoint { &mut model[..] } else { &mut model[..1] };
            for _ in 0..units {
                let expected = Model::charge(layers, now);
                let decision = limiter.check(&request).unwrap();
                match expected {
                    Ok((remaining, reset_after)) => {
                        prop_assert!(decision.is_allowed());
                        prop_assert_eq!(decision.remaining(), remaining);
                        prop_assert_eq!(decision.reset_after(), reset_after);
                    }
                    Err(wait) => prop_assert_eq!(decision.retry_after(), Some(wait)),
                }
            }
        }
    }
}

/// A plain model of one GCRA bucket, for comparison.
struct Model {
    tat: u128,
    interval: u128,
    burst: u32,
}

impl Model {
    /// Charges one unit to every layer or to none; the remaining units and the time
    /// until all are full, or the wait.
    fn charge(layers: &mut [Model], now: u128) -> Result<(u32, Duration), Duration> {
        let capacity = |m: &Model| m.interval * u128::from(m.burst);
        let next: Vec<u128> = layers.iter().map(|m| m.tat.max(now) + m.interval).collect();
        let wait = layers
            .iter()
            .zip(&next)
            .map(|(m, next)| (next - now).saturating_sub(capacity(m)))
            .max()
            .unwrap();
        if wait > 0 {
            return Err(Duration::from_nanos(u64::try_from(wait).unwrap()));
        }
        let mut remaining = u32::MAX;
        let mut reset = 0;
        for (m, next) in layers.iter_mut().zip(next) {
            m.tat = next;
            let left = (capacity(m) - (next - now)) / m.interval;
            remaining = remaining.min(u32::try_from(left).unwrap());
            reset = reset.max(next - now);
        }
        Ok((
            remaining,
            Duration::from_nanos(u64::try_from(reset).unwrap()),
        ))
    }
}

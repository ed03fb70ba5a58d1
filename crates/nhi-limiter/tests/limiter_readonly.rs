//! Peeks and shadow mode write nothing: a limiter that is peeked at, or that ran in
//! shadow mode, decides afterwards exactly like one that was left alone.

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
use nhi_limiter::{Layer, LimitRequest, Limiter, Quota, QuotaPlan};
use proptest::prelude::*;

fn pair(count: u32, per_ms: u64, burst: u32) -> (Limiter, Limiter, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let quota = Quota::new(
        NonZeroU32::new(count).unwrap(),
        Duration::from_millis(per_ms),
        NonZeroU32::new(burst).unwrap(),
    )
    .unwrap();
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, quota)
        .layer(Layer::Endpoint, quota);
    (
        Limiter::new(plan.clone(), clock.clone()),
        Limiter::new(plan, clock.clone()),
        clock,
    )
}

fn severity(n: u8) -> Severity {
    [Severity::Read, Severity::Write, Severity::Destructive][usize::from(n % 3)]
}

proptest! {
    #[test]
    fn peeks_change_no_later_decision(
        (count, per_ms, burst) in (1u32..20, 1u64..2_000, 20u32..60),
        steps in prop::collection::vec((0u64..500, any::<u8>(), any::<bool>(), 0u8..4), 1..200),
    ) {
        let (peeked, untouched, clock) = pair(count, per_ms, burst);
        for (advance_ms, kind, to_endpoint, peeks) in steps {
            clock.advance(Duration::from_millis(advance_ms));
            let request = LimitRequest::new("agent", severity(kind));
            let request = if to_endpoint { request.endpoint("db") } else { request };
            for _ in 0..peeks {
                let _ = peeked.peek(&request);
            }
            let expected = untouched.check(&request).map_err(|e| e.to_string());
            let actual = peeked.check(&request).map_err(|e| e.to_string());
            prop_assert_eq!(actual, expected);
        }
    }

    #[test]
    fn shadow_mode_charges_exactly_what_enforcing_would(
        (count, per_ms, burst) in (1u32..20, 1u64..2_000, 20u32..60),
        steps in prop::collection::vec((0u64..500, any::<u8>(), any::<bool>()), 1..200),
    ) {
        let (shadow, enforcing, clock) = pair(count, per_ms, burst);
        shadow.set_shadow(true);
        for (advance_ms, kind, to_endpoint) in steps {
            clock.advance(Duration::from_millis(advance_ms));
            let request = LimitRequest::new("agent", severity(kind));
            let request = if to_endpoint { request.endpoint("db") } else { request };
            let enforced = enforcing.check(&request).unwrap();
            let shadowed = shadow.check(&request).unwrap();
            prop_assert!(shadowed.is_allowed());
            prop_assert_eq!(shadowed.shadow_rejected().is_some(), !enforced.is_allowed());
            prop_assert_eq!(shadowed.remaining(), enforced.remaining());
        }
        prop_assert_eq!(shadow.stats().shadow_rejections, enforcing.stats().rejections);
    }
}

//! The Redis script against the in-process limiter, step by step on the same times:
//! every decision must be identical. The script is given each time explicitly, which
//! only tests can do, so no real clock is involved.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{BreachPolicy, Layer, LimitRequest, Limiter, Quota, QuotaPlan, SeverityCosts};

use crate::script::Mode;
use crate::{RedisLimiter, RedisLimiterConfig, SlotTag};

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Steps(u64);

impl Steps {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn plan(steps: &mut Steps) -> QuotaPlan {
    let mut plan = QuotaPlan {
        costs: SeverityCosts {
            read: 1,
            write: 3,
            destructive: 7,
        },
        breach: BreachPolicy {
            rejections: NonZeroU32::new(3).unwrap(),
            window: Duration::from_millis(500),
        },
        ..QuotaPlan::new()
    };
    for layer in [Layer::Identity, Layer::Endpoint] {
        let per = Duration::from_micros(1_000 + steps.below(999_000));
        let count = NonZeroU32::new(1 + u32::try_from(steps.below(3)).unwrap()).unwrap();
        let burst = NonZeroU32::new(1 + u32::try_from(steps.below(20)).unwrap()).unwrap();
        plan = plan.layer(layer, Quota::new(count, per, burst).unwrap());
    }
    plan.layer(Layer::Incident, Quota::once())
}

#[tokio::test]
async fn the_script_decides_exactly_like_the_local_limiter() {
    let Some(url) = std::env::var("NHI_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!(
            "skipped the_script_decides_exactly_like_the_local_limiter: NHI_TEST_REDIS_URL is not set"
        );
        return;
    };
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (mut allowed, mut rejected, mut breaches, mut errors) = (0, 0, 0, 0);
    for seed in [7_u64, 1_234_567, 99_999_999_989] {
        let mut steps = Steps(seed);
        let plan = plan(&mut steps);
        let start = Timestamp::from_unix_nanos(1_700_000_000_123_456_789);
        let clock = Arc::new(ManualClock::new(start));
        let local = Limiter::new(plan.clone(), clock.clone());
        let config = RedisLimiterConfig {
            prefix: format!("nhi-test:differential:{}:{seed}:{run}", std::process::id()),
            slot: SlotTag::Fixed("all".into()),
            ..RedisLimiterConfig::default()
        };
        let shared = RedisLimiter::new(&url, plan, config).unwrap();
        let _ = shared.reinstate("agent").await;

        for step in 0..400 {
            clock.advance(Duration::from_nanos(steps.below(300_000_000)));
            let severity = [Severity::Read, Severity::Write, Severity::Destructive]
                [usize::try_from(steps.below(3)).unwrap()];
            let mut request = LimitRequest::new("agent", severity);
            match steps.below(3) {
                0 => request = request.endpoint("db"),
                1 => request = request.endpoint("queue"),
                _ => {}
            }
            if steps.below(10) == 0 {
                request = request.incident("INC-1");
            }
            let peek = steps.below(5) == 0;
            let (mode, expected) = if peek {
                (Mode::Peek, local.peek(&request))
            } else {
                (Mode::Check, local.check(&request))
            };
            let actual = shared.run(&request, mode, Some(clock.now_for_test())).await;
            match (expected, actual) {
                (Ok(expected), Ok(actual)) => {
                    assert_eq!(expected, actual, "seed {seed}, step {step}, {request:?}");
                    allowed += usize::from(actual.is_allowed());
                    rejected += usize::from(!actual.is_allowed());
                    breaches += usize::from(actual.breach().is_some());
                }
                (Err(expected), Err(actual)) => {
                    errors += 1;
                    assert_eq!(
                        expected.to_string(),
                        actual.to_string(),
                        "seed {seed}, step {step}"
                    );
                }
                (expected, actual) => {
                    panic!("seed {seed}, step {step}: local {expected:?}, redis {actual:?}")
                }
            }
        }
        let _ = shared.reinstate("agent").await;
    }
    // The sequences exercise every kind of outcome.
    assert!(
        allowed > 100 && rejected > 100,
        "{allowed} allowed, {rejected} rejected"
    );
    assert!(
        breaches >= 3 && errors > 0,
        "{breaches} breaches, {errors} errors"
    );
}

trait NowForTest {
    fn now_for_test(&self) -> Timestamp;
}

impl NowForTest for ManualClock {
    fn now_for_test(&self) -> Timestamp {
        nhi_core::Clock::now(self)
    }
}

//! Breach detection: repeated rejections of one identity trip a kill switch.
//!
//! Each identity has a violation count that is itself a token bucket: it holds
//! `rejections - 1` units and earns them back at `rejections - 1` per window. Every
//! rejection takes one unit; the rejection that finds the bucket empty trips the
//! switch, once, and the switch stays latched until the host clears it. So a burst of
//! `rejections` rejections trips it, and so does a steady stream of rejections faster
//! than `rejections - 1` per window; one rejection now and then never does.

use std::num::NonZeroU32;
use std::time::Duration;

use dashmap::DashMap;
use nhi_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::gcra;
use crate::quota::{Layer, Quota};

/// When repeated rejections of one identity count as a breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachPolicy {
    /// How many rejections trip the switch. Use at least 2 so that a single rejection,
    /// which a well-behaved client meets now and then, never does.
    pub rejections: NonZeroU32,
    /// How close together they must be: the newest no more than this after the oldest.
    #[serde(with = "nhi_core::duration_text")]
    pub window: Duration,
}

impl Default for BreachPolicy {
    /// Five rejections within sixty seconds.
    fn default() -> Self {
        Self {
            rejections: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            window: Duration::from_secs(60),
        }
    }
}

/// A breach: an identity was rejected too often too quickly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// The identity that was rejected.
    pub identity: String,
    /// The layer that rejected the request that tripped the switch.
    pub layer: Layer,
    /// How many rejections fell within the window.
    pub rejections: u32,
    /// The window they fell within.
    #[serde(with = "nhi_core::duration_text")]
    pub window: Duration,
    /// When the switch tripped.
    pub at: Timestamp,
}

/// What the host does when an identity breaches its limits: suspend it, revoke its
/// credentials, page someone.
///
/// It is called once per breach, outside the limiter's locks, on the thread whose
/// request tripped the switch; it may call back into the limiter. Any closure
/// `Fn(&Breach) + Send + Sync` is a protective action.
pub trait ProtectiveAction: Send + Sync {
    /// Reacts to `breach`.
    fn on_breach(&self, breach: &Breach);
}

impl<F: Fn(&Breach) + Send + Sync> ProtectiveAction for F {
    fn on_breach(&self, breach: &Breach) {
        self(breach);
    }
}

impl BreachPolicy {
    /// The violation bucket: `rejections - 1` units, earned back at that many per
    /// window; `None` when a single rejection trips the switch.
    pub fn violation_quota(&self) -> Option<Quota> {
        let units = NonZeroU32::new(self.rejections.get() - 1)?;
        let window = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        let interval = window.div_ceil(u64::from(units.get())).max(1);
        Some(Quota::from_parts(interval, units))
    }
}

/// The violation counts of every identity rejected recently.
#[derive(Debug, Default)]
pub(crate) struct BreachDetector {
    policy: BreachPolicy,
    quota: Option<Quota>,
    counts: DashMap<Box<str>, Violations>,
}

/// One identity's violation bucket, and whether its switch has tripped.
#[derive(Debug, Default)]
struct Violations {
    tat: u64,
    latched: bool,
}

impl BreachDetector {
    pub(crate) fn new(policy: BreachPolicy) -> Self {
        Self {
            policy,
            quota: policy.violation_quota(),
            counts: DashMap::new(),
        }
    }

    /// Records a rejection of `identity` by `layer` at `now` (nanoseconds), and returns
    /// the breach if this rejection trips the switch.
    pub(crate) fn record(&self, identity: &str, layer: Layer, now: u64) -> Option<Breach> {
        let mut count = match self.counts.get_mut(identity) {
            Some(count) => count,
            None => self.counts.entry(identity.into()).or_default(),
        };
        if count.latched {
            return None;
        }
        if let Some(quota) = &self.quota
            && let Ok(next) = gcra::evaluate(count.tat, quota, now, 1)
        {
            count.tat = next;
            return None;
        }

        count.latched = true;
        count.tat = 0;
        Some(Breach {
            identity: identity.to_owned(),
            layer,
            rejections: self.policy.rejections.get(),
            window: self.policy.window,
            at: Timestamp::from_unix_nanos(now),
        })
    }

    /// Re-arms the switch of `identity` and forgets its past rejections.
    pub(crate) fn clear(&self, identity: &str) {
        self.counts.remove(identity);
    }

    /// Whether the switch of `identity` has tripped and not been cleared.
    pub(crate) fn is_latched(&self, identity: &str) -> bool {
        self.counts.get(identity).is_some_and(|count| count.latched)
    }

    /// Forgets violation buckets that are full again; latched switches are kept.
    pub(crate) fn sweep(&self, now: u64) -> usize {
        let before = self.counts.len();
        self.counts
            .retain(|_, count| count.latched || count.tat > now);
        before.saturating_sub(self.counts.len())
    }

    pub(crate) fn len(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn detector(rejections: u32, window_secs: u64) -> BreachDetector {
        BreachDetector::new(BreachPolicy {
            rejections: NonZeroU32::new(rejections).unwrap(),
            window: Duration::from_secs(window_secs),
        })
    }

    #[test]
    fn trips_on_the_nth_rejection_within_the_window_and_latches() {
        let detector = detector(3, 10);
        assert!(detector.record("a", Layer::Identity, SECOND).is_none());
        assert!(detector.record("a", Layer::Identity, 2 * SECOND).is_none());
        let breach = detector.record("a", Layer::Endpoint, 3 * SECOND).unwrap();
        assert_eq!(breach.layer, Layer::Endpoint);
        assert_eq!(breach.rejections, 3);
        assert!(detector.is_latched("a"));
        assert!(detector.record("a", Layer::Identity, 4 * SECOND).is_none());
    }

    #[test]
    fn rejections_spread_wider_than_the_window_never_trip() {
        let detector = detector(3, 10);
        for step in 0..20 {
            let breach = detector.record("a", Layer::Identity, step * 6 * SECOND);
            assert!(breach.is_none(), "tripped at step {step}");
        }
    }

    #[test]
    fn identities_are_counted_apart() {
        let detector = detector(2, 10);
        assert!(detector.record("a", Layer::Identity, SECOND).is_none());
        assert!(detector.record("b", Layer::Identity, SECOND).is_none());
        assert!(detector.record("a", Layer::Identity, SECOND).is_some());
    }

    #[test]
    fn a_policy_of_one_rejection_trips_at_once() {
        let detector = detector(1, 10);
        assert!(detector.record("a", Layer::Identity, SECOND).is_some());
    }

    #[test]
    fn a_steady_stream_faster_than_the_policy_trips() {
        // 3 rejections per 10 s: 2 units, one earned back every 5 s.
        let detector = detector(3, 10);
        let tripped = (0..10).find(|step| {
            detector
                .record("a", Layer::Identity, step * 4 * SECOND)
                .is_some()
        });
        assert_eq!(tripped, Some(6));
    }

    #[test]
    fn sweep_keeps_latched_and_recent_counts() {
        let detector = detector(2, 10);
        detector.record("tripped", Layer::Identity, 0);
        detector.record("tripped", Layer::Identity, 0);
        detector.record("old", Layer::Identity, 0);
        detector.record("recent", Layer::Identity, 15 * SECOND);
        assert_eq!(detector.sweep(20 * SECOND), 1);
        assert_eq!(detector.len(), 2);
        detector.clear("tripped");
        assert_eq!(detector.len(), 1);
    }
}

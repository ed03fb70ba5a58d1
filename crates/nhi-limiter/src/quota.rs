//! What one bucket allows: a [`Quota`], the [`Layer`] it applies to, and what each
//! [`Severity`] costs.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use nhi_core::Severity;
use serde::{Deserialize, Serialize};

use crate::error::LimitError;

/// The fastest rate a bucket can earn units at: one unit per nanosecond.
const MIN_INTERVAL_NANOS: u64 = 1;

/// The interval of a quota that never refills ([`Quota::once`]).
pub(crate) const NEVER_NANOS: u64 = u64::MAX;

/// A validated rate and burst: `count` units are earned per period, and a full bucket
/// holds `burst` units.
///
/// Internally a quota is the time to earn one unit (the emission interval) in whole
/// nanoseconds, rounded up so a bucket never allows more than the rate asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    interval_nanos: u64,
    burst: NonZeroU32,
}

impl Quota {
    /// `count` units per `per`, with a bucket of `burst` units.
    ///
    /// # Errors
    ///
    /// [`LimitError::InvalidQuota`] when `per` is zero, when the rate is faster than one
    /// unit per nanosecond (the interval would round to zero), or when one unit would
    /// take longer than about 584 years to earn.
    pub fn new(count: NonZeroU32, per: Duration, burst: NonZeroU32) -> Result<Self, LimitError> {
        let invalid = |reason: String| LimitError::InvalidQuota { reason };
        if per.is_zero() {
            return Err(invalid(
                "the period is zero: give a period such as `1s`".into(),
            ));
        }

        let per_nanos = per.as_nanos();
        let count = u128::from(count.get());
        if per_nanos < count {
            return Err(invalid(format!(
                "{count} units per {per:?} is faster than one unit per nanosecond: \
                 lower the rate or lengthen the period"
            )));
        }

        let interval = per_nanos.div_ceil(count);
        let interval_nanos = u64::try_from(interval).map_err(|_| {
            invalid(format!(
                "one unit every {interval} ns is too slow: shorten the period"
            ))
        })?;
        Ok(Self {
            interval_nanos,
            burst,
        })
    }

    /// `count` units per second, with a bucket of `count` units.
    ///
    /// Rates above one unit per nanosecond (1e9 per second) are capped at that rate; use
    /// [`Quota::new`] to have them refused instead.
    pub fn per_second(count: NonZeroU32) -> Self {
        Self::capped(count, 1_000_000_000)
    }

    /// `count` units per minute, with a bucket of `count` units.
    pub fn per_minute(count: NonZeroU32) -> Self {
        Self::capped(count, 60_000_000_000)
    }

    /// One unit, never earned back: the quota of the [`Layer::Incident`] layer, which
    /// lets one destructive action through per incident. The bucket is kept until the
    /// incident is closed with [`Limiter::forget`](crate::Limiter::forget).
    pub fn once() -> Self {
        Self {
            interval_nanos: NEVER_NANOS,
            burst: NonZeroU32::MIN,
        }
    }

    /// Whether units spent from this quota never come back ([`Quota::once`]).
    pub fn never_refills(&self) -> bool {
        self.interval_nanos == NEVER_NANOS
    }

    /// The same rate with a bucket of `burst` units.
    #[must_use]
    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    /// How many units a full bucket holds.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time it takes to earn one unit.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos)
    }

    /// The time it takes to earn one unit, in nanoseconds.
    pub(crate) fn interval_nanos(&self) -> u64 {
        self.interval_nanos
    }

    /// A quota from its stored parts.
    pub(crate) fn from_parts(interval_nanos: u64, burst: NonZeroU32) -> Self {
        Self {
            interval_nanos,
            burst,
        }
    }

    /// A quota of `count` per `per_nanos`, its interval rounded up and at least 1 ns.
    fn capped(count: NonZeroU32, per_nanos: u64) -> Self {
        let interval = per_nanos.div_ceil(u64::from(count.get()));
        Self {
            interval_nanos: interval.max(MIN_INTERVAL_NANOS),
            burst: count,
        }
    }
}

/// A scope that has its own bucket for each key.
///
/// Layers are charged in this order, which is also their `Ord` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// One bucket per identity; every request is charged here.
    Identity,
    /// One bucket per workflow the request runs in.
    Workflow,
    /// One bucket per tenant.
    Tenant,
    /// One bucket per endpoint or target system.
    Endpoint,
    /// One bucket per class of incident being remediated.
    IncidentClass,
    /// One bucket per incident, charged one unit by each destructive action and
    /// nothing by reads and writes. With [`Quota::once`] it allows one destructive
    /// action per incident.
    Incident,
}

impl Layer {
    /// Every layer, in charging order.
    pub const ALL: [Self; 6] = [
        Self::Identity,
        Self::Workflow,
        Self::Tenant,
        Self::Endpoint,
        Self::IncidentClass,
        Self::Incident,
    ];

    /// What a request of `severity` costs in this layer, given the plan's `costs`: the
    /// incident layer counts destructive actions only, one unit each.
    pub fn cost(self, costs: &SeverityCosts, severity: Severity) -> u32 {
        match (self, severity) {
            (Self::Incident, Severity::Destructive) => 1,
            (Self::Incident, _) => 0,
            _ => costs.cost(severity),
        }
    }

    /// The kebab-case name, as written in a plan: `identity`, `incident-class`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Workflow => "workflow",
            Self::Tenant => "tenant",
            Self::Endpoint => "endpoint",
            Self::IncidentClass => "incident-class",
            Self::Incident => "incident",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many units a request of each [`Severity`] costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityCosts {
    /// The cost of a read. Zero makes reads free.
    pub read: u32,
    /// The cost of a change that can be undone.
    pub write: u32,
    /// The cost of a restart, delete or other change that hurts if wrong.
    pub destructive: u32,
}

impl SeverityCosts {
    /// What a request of `severity` costs.
    pub fn cost(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Read => self.read,
            Severity::Write => self.write,
            Severity::Destructive => self.destructive,
        }
    }
}

impl Default for SeverityCosts {
    /// 1 for a read, 5 for a write, 20 for a destructive action.
    fn default() -> Self {
        Self {
            read: 1,
            write: 5,
            destructive: 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn interval_is_the_period_over_the_count() {
        let quota = Quota::new(nz(10), Duration::from_secs(1), nz(20)).unwrap();
        assert_eq!(quota.interval(), Duration::from_millis(100));
        assert_eq!(quota.burst(), 20);
        assert_eq!(Quota::per_minute(nz(60)).interval(), Duration::from_secs(1));
        assert_eq!(Quota::per_second(nz(4)).burst(), 4);
    }

    #[test]
    fn uneven_intervals_round_up_so_the_rate_is_never_exceeded() {
        let quota = Quota::per_second(nz(3));
        assert_eq!(quota.interval_nanos(), 333_333_334);
    }

    #[test]
    fn zero_period_is_refused() {
        let err = Quota::new(nz(1), Duration::ZERO, nz(1)).unwrap_err();
        assert!(matches!(err, LimitError::InvalidQuota { .. }));
    }

    #[test]
    fn rates_above_one_per_nanosecond_are_refused_or_capped() {
        let exact = Quota::new(nz(1_000_000_000), Duration::from_secs(1), nz(1)).unwrap();
        assert_eq!(exact.interval_nanos(), 1);

        let too_fast = Quota::new(nz(u32::MAX), Duration::from_secs(1), nz(1));
        assert!(matches!(too_fast, Err(LimitError::InvalidQuota { .. })));
        let too_fast = Quota::new(nz(2), Duration::from_nanos(1), nz(1));
        assert!(matches!(too_fast, Err(LimitError::InvalidQuota { .. })));

        assert_eq!(Quota::per_second(nz(u32::MAX)).interval_nanos(), 1);
    }

    #[test]
    fn periods_too_long_for_nanoseconds_are_refused() {
        let err = Quota::new(nz(1), Duration::MAX, nz(1)).unwrap_err();
        assert!(err.to_string().contains("too slow"), "{err}");
    }

    #[test]
    fn layers_read_and_write_kebab_case() {
        assert_eq!(Layer::IncidentClass.to_string(), "incident-class");
        let json = serde_json::to_string(&Layer::IncidentClass).unwrap();
        assert_eq!(json, "\"incident-class\"");
        assert!(Layer::Identity < Layer::Endpoint);
    }

    #[test]
    fn default_costs_grow_with_severity() {
        let costs = SeverityCosts::default();
        assert_eq!(costs.cost(Severity::Read), 1);
        assert_eq!(costs.cost(Severity::Write), 5);
        assert_eq!(costs.cost(Severity::Destructive), 20);
    }
}

//! How long credentials may live and how rarely they may be rotated, per risk tier.

use std::time::Duration;

use nhi_core::RiskTier;
use serde::{Deserialize, Serialize};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The limits for one risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLimit {
    /// The longest an issued credential may stay valid.
    #[serde(with = "nhi_core::duration_text")]
    pub max_credential_lifetime: Duration,
    /// The longest an identity may go between credential rotations.
    #[serde(with = "nhi_core::duration_text")]
    pub max_rotation_interval: Duration,
}

/// The limits provisioning enforces, one [`TierLimit`] per [`RiskTier`].
///
/// The defaults tighten with risk:
///
/// | tier | credential lifetime | rotation interval |
/// |---|---|---|
/// | low | 24h | 180d |
/// | medium | 12h | 90d |
/// | high | 1h | 30d |
/// | critical | 15m | 7d |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLimits {
    /// Limits for [`RiskTier::Low`].
    pub low: TierLimit,
    /// Limits for [`RiskTier::Medium`].
    pub medium: TierLimit,
    /// Limits for [`RiskTier::High`].
    pub high: TierLimit,
    /// Limits for [`RiskTier::Critical`].
    pub critical: TierLimit,
}

impl TierLimits {
    /// The limits for `tier`.
    pub fn for_tier(&self, tier: RiskTier) -> TierLimit {
        match tier {
            RiskTier::Low => self.low,
            RiskTier::Medium => self.medium,
            RiskTier::High => self.high,
            RiskTier::Critical => self.critical,
        }
    }

    /// These limits with `tier`'s replaced by `limit`.
    #[must_use]
    pub fn with_tier(mut self, tier: RiskTier, limit: TierLimit) -> Self {
        let slot = match tier {
            RiskTier::Low => &mut self.low,
            RiskTier::Medium => &mut self.medium,
            RiskTier::High => &mut self.high,
            RiskTier::Critical => &mut self.critical,
        };
        *slot = limit;
        self
    }
}

impl Default for TierLimits {
    fn default() -> Self {
        let limit = |lifetime_secs, rotation_secs| TierLimit {
            max_credential_lifetime: Duration::from_secs(lifetime_secs),
            max_rotation_interval: Duration::from_secs(rotation_secs),
        };
        Self {
            low: limit(24 * HOUR, 180 * DAY),
            medium: limit(12 * HOUR, 90 * DAY),
            high: limit(HOUR, 30 * DAY),
            critical: limit(15 * MINUTE, 7 * DAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_tighten_with_risk() {
        let limits = TierLimits::default();
        let mut previous = limits.for_tier(RiskTier::Low);
        for tier in &RiskTier::ALL[1..] {
            let next = limits.for_tier(*tier);
            assert!(next.max_credential_lifetime < previous.max_credential_lifetime);
            assert!(next.max_rotation_interval < previous.max_rotation_interval);
            previous = next;
        }
        assert_eq!(
            limits.for_tier(RiskTier::Critical).max_credential_lifetime,
            Duration::from_secs(900)
        );
    }

    #[test]
    fn one_tier_can_be_replaced() {
        let tight = TierLimit {
            max_credential_lifetime: Duration::from_secs(60),
            max_rotation_interval: Duration::from_secs(DAY),
        };
        let limits = TierLimits::default().with_tier(RiskTier::Low, tight);
        assert_eq!(limits.for_tier(RiskTier::Low), tight);
        assert_eq!(limits.medium, TierLimits::default().medium);
    }

    #[test]
    fn limits_read_from_text() {
        let json = r#"{"max_credential_lifetime":"5m","max_rotation_interval":"1d"}"#;
        let limit: TierLimit = serde_json::from_str(json).unwrap();
        assert_eq!(limit.max_credential_lifetime, Duration::from_secs(300));
    }
}

//! The check script: the arguments it is given and the reply it returns.

use std::time::Duration;

use nhi_core::Timestamp;
use nhi_limiter::{BreachPolicy, Layer, LimitDecision, Quota};

use crate::error::RedisLimitError;

/// The Lua source of one atomic check.
pub(crate) const SOURCE: &str = include_str!("check.lua");

/// The most nanoseconds a bucket may hold: Lua numbers are doubles, exact to 2^53.
const MAX_CAPACITY_NANOS: u128 = 1 << 53;

/// `check` charges; `peek` only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Check,
    Peek,
}

/// One layer of one request, as the script is told about it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerCall {
    pub(crate) layer: Layer,
    pub(crate) quota: Quota,
    pub(crate) cost: u32,
}

/// The script's reply, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: i64,
    pub(crate) refused: usize,
    pub(crate) wait: Duration,
    pub(crate) remaining: u32,
    pub(crate) limit: u32,
    pub(crate) reset_after: Duration,
    pub(crate) breach: bool,
    pub(crate) now: Timestamp,
}

/// The arguments after the keys: mode, shadow, time, violation bucket, then layers.
pub(crate) fn arguments(
    mode: Mode,
    shadow: bool,
    at: Option<Timestamp>,
    breach: &BreachPolicy,
    layers: &[LayerCall],
) -> Vec<String> {
    let mut args = Vec::with_capacity(6 + 3 * layers.len());
    args.push(match mode {
        Mode::Check => "check".to_owned(),
        Mode::Peek => "peek".to_owned(),
    });
    args.push(if shadow { "1" } else { "0" }.to_owned());
    match at {
        Some(at) => {
            let nanos = at.unix_nanos();
            args.push((nanos / 1_000_000_000).to_string());
            args.push((nanos % 1_000_000_000).to_string());
        }
        None => {
            args.push(String::new());
            args.push(String::new());
        }
    }
    match breach.violation_quota() {
        Some(quota) => {
            args.push(quota.interval().as_nanos().to_string());
            args.push(quota.burst().to_string());
        }
        None => {
            args.push("1".to_owned());
            args.push("0".to_owned());
        }
    }
    for call in layers {
        let interval = if call.quota.never_refills() {
            "-1".to_owned()
        } else {
            call.quota.interval().as_nanos().to_string()
        };
        args.push(interval);
        args.push(call.quota.burst().to_string());
        args.push(call.cost.to_string());
    }
    args
}

/// Refuses a quota whose bucket holds more than the script can count exactly.
pub(crate) fn check_quota(what: &str, quota: &Quota) -> Result<(), RedisLimitError> {
    if quota.never_refills() {
        return Ok(());
    }
    let capacity = quota.interval().as_nanos() * u128::from(quota.burst());
    if capacity >= MAX_CAPACITY_NANOS {
        return Err(RedisLimitError::Quota {
            layer: what.to_owned(),
            reason: format!(
                "a full bucket takes {:?} to earn, more than the 104 days the script \
                 counts exactly: lower the burst or raise the rate",
                Duration::from_nanos(u64::try_from(capacity).unwrap_or(u64::MAX))
            ),
        });
    }
    Ok(())
}

impl Reply {
    /// Decodes the nine integers the script returns.
    pub(crate) fn parse(values: &[i64]) -> Option<Self> {
        let [
            status,
            refused,
            wait,
            remaining,
            limit,
            reset,
            breach,
            now_s,
            now_ns,
        ] = values
        else {
            return None;
        };
        let now = u64::try_from(*now_s)
            .ok()?
            .checked_mul(1_000_000_000)?
            .checked_add(u64::try_from(*now_ns).ok()?)?;
        Some(Self {
            status: *status,
            refused: usize::try_from(*refused).ok()?,
            wait: duration(*wait),
            remaining: u32::try_from(*remaining).ok()?,
            limit: u32::try_from(*limit).ok()?,
            reset_after: duration(*reset),
            breach: *breach == 1,
            now: Timestamp::from_unix_nanos(now),
        })
    }

    /// The decision this reply stands for, the refusing layer taken from `layers`.
    pub(crate) fn decision(&self, layers: &[LayerCall]) -> LimitDecision {
        let layer = self
            .refused
            .checked_sub(1)
            .and_then(|index| layers.get(index))
            .map_or(Layer::Identity, |call| call.layer);
        match self.status {
            1 => LimitDecision::Allowed {
                remaining: self.remaining,
                limit: self.limit,
                reset_after: self.reset_after,
                shadow_rejected: None,
            },
            2 => LimitDecision::Allowed {
                remaining: self.remaining,
                limit: self.limit,
                reset_after: self.reset_after,
                shadow_rejected: Some(layer),
            },
            _ => LimitDecision::Rejected {
                layer,
                retry_after: self.wait,
                breach: None,
                remaining: self.remaining,
                limit: self.limit,
                reset_after: self.reset_after,
            },
        }
    }
}

/// A script duration in nanoseconds; -1 means never.
fn duration(nanos: i64) -> Duration {
    u64::try_from(nanos).map_or(Duration::MAX, Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn replies_of_the_wrong_shape_are_refused() {
        assert!(Reply::parse(&[]).is_none());
        assert!(Reply::parse(&[1, 0, 0, -5, 1, 0, 0, 1, 0]).is_none());
        assert!(Reply::parse(&[1, 0, 0, 1, 1, 0, 0, -1, 0]).is_none());
        let reply = Reply::parse(&[0, 1, -1, 0, 1, -1, 1, 2, 3]).unwrap();
        assert_eq!(reply.wait, Duration::MAX);
        assert_eq!(reply.now, Timestamp::from_unix_nanos(2_000_000_003));
        assert!(reply.breach);
    }

    #[test]
    fn buckets_beyond_what_doubles_count_exactly_are_refused() {
        let daily = |burst| {
            Quota::new(
                NonZeroU32::MIN,
                Duration::from_secs(86_400),
                NonZeroU32::new(burst).unwrap(),
            )
            .unwrap()
        };
        assert!(check_quota("identity", &daily(100)).is_ok());
        let err = check_quota("identity", &daily(200)).unwrap_err();
        assert!(err.to_string().contains("104 days"), "{err}");
        assert!(check_quota("incident", &Quota::once()).is_ok());
    }
}

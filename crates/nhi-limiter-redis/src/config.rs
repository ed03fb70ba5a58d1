//! How a [`RedisLimiter`](crate::RedisLimiter) names its keys and what it does when
//! Redis cannot be reached.

use std::time::Duration;

/// What a check does when Redis does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unreachable {
    /// Answer [`nhi_limiter::LimitError::Backend`], so the host refuses the request.
    #[default]
    FailClosed,
    /// Answer from a limiter in this process with the same plan. Each node then
    /// enforces the quotas on its own, so a fleet of `n` nodes allows up to `n` times
    /// the quota while Redis is down.
    FallBackToLocal,
}

/// Which hash tag the keys of one request carry, so that the script's keys all live
/// on one Redis Cluster node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SlotTag {
    /// Tag every key of a request with its identity: requests of different identities
    /// spread over the cluster. The workflow, tenant, endpoint and incident buckets
    /// are then kept per identity (an identity's share of the tenant quota, not the
    /// tenant's total), which is what containing one runaway identity needs.
    #[default]
    Identity,
    /// Tag every key with this fixed text: all buckets live on one node, and the
    /// shared layers are shared across identities exactly. The right choice for a
    /// single Redis server, or when tenant-wide totals must hold.
    Fixed(String),
}

/// Settings of a [`RedisLimiter`](crate::RedisLimiter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisLimiterConfig {
    /// Prefix of every key, so several limiters can share one Redis. No braces.
    pub prefix: String,
    /// How keys are tagged for Redis Cluster.
    pub slot: SlotTag,
    /// What a check does when Redis cannot be reached.
    pub on_unreachable: Unreachable,
    /// How long one check may wait for Redis before it counts as unreachable.
    pub timeout: Duration,
}

impl Default for RedisLimiterConfig {
    /// Prefix `nhi:limit`, keys tagged by identity, fail closed after 250 ms.
    fn default() -> Self {
        Self {
            prefix: "nhi:limit".into(),
            slot: SlotTag::Identity,
            on_unreachable: Unreachable::FailClosed,
            timeout: Duration::from_millis(250),
        }
    }
}

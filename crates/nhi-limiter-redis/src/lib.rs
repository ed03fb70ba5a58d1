//! The layered limiter of [`nhi_limiter`], shared by every node through Redis.
//!
//! One process's limiter contains one process's agents. When the same identity runs
//! on many nodes, its buckets must be shared: [`RedisLimiter`] keeps them in Redis
//! and answers exactly like [`nhi_limiter::Limiter`] (the same conformance suite runs
//! against both). Each check is one round trip: one Lua script, sent by hash, that
//! reads the server's clock (so node clocks never matter), evaluates every layer of
//! the request and charges all of them or none. Keys are tagged for Redis Cluster
//! ([`SlotTag`]), and expire once their bucket is full again, so Redis memory stays
//! bounded without a sweep.
//!
//! When Redis cannot be reached, a check fails closed or answers from a limiter in
//! this process, as [`RedisLimiterConfig::on_unreachable`] says; both are counted in
//! [`RedisLimiter::stats`].
//!
//! ```no_run
//! use std::num::NonZeroU32;
//!
//! use nhi_core::Severity;
//! use nhi_limiter::{Layer, LimitRequest, Quota, QuotaPlan};
//! use nhi_limiter_redis::{RedisLimiter, RedisLimiterConfig, Unreachable};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let plan = QuotaPlan::new()
//!     .layer(Layer::Identity, Quota::per_second(NonZeroU32::new(10).unwrap()))
//!     .layer(Layer::Incident, Quota::once());
//! let config = RedisLimiterConfig {
//!     on_unreachable: Unreachable::FallBackToLocal,
//!     ..RedisLimiterConfig::default()
//! };
//! let limiter = RedisLimiter::new("redis://127.0.0.1:6379", plan, config)?;
//!
//! let restart = LimitRequest::new("restart-agent", Severity::Destructive).incident("INC-42");
//! let decision = limiter.check(&restart).await?;
//! println!("allowed: {}, remaining: {}", decision.is_allowed(), decision.remaining());
//! # Ok(())
//! # }
//! ```
//!
//! # Limits of the shared form
//!
//! - Lua numbers are doubles, so a bucket may hold at most 2^53 ns (about 104 days)
//!   of refill; [`RedisLimiter::new`] refuses larger ones. [`nhi_limiter::Quota::once`]
//!   is stored as a marker and has no such limit.
//! - Layer and key quota changes ([`RedisLimiter::set_layer_quota`]) are sent with
//!   each check from the node's own plan: apply them on every node.
//! - With [`SlotTag::Identity`] (the default) the non-identity layers are counted
//!   per identity; use [`SlotTag::Fixed`] for exact fleet-wide tenant totals.

#![forbid(unsafe_code)]

mod config;
#[cfg(test)]
mod differential;
mod error;
mod limiter;
mod outcome;
mod script;
mod setup;

pub use config::{RedisLimiterConfig, SlotTag, Unreachable};
pub use error::RedisLimitError;
pub use limiter::RedisLimiter;

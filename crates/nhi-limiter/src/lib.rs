//! Rate limits for non-human identities, and a kill switch for the ones that run away.
//!
//! An agent that loops on a failing remediation, or a CI runner whose token leaked,
//! shows up first as a burst of requests. This crate charges every request to a set of
//! token buckets, one per [`Layer`] (identity, workflow, tenant, endpoint, incident
//! class) and key, and answers with a [`LimitDecision`]: allowed, or rejected with the
//! time until it would fit. Destructive actions cost more than reads
//! ([`SeverityCosts`]). When one identity is rejected too often too quickly
//! ([`BreachPolicy`]) the limiter reports a [`Breach`] once and calls the host's
//! [`ProtectiveAction`], which suspends the identity, revokes its credentials or pages
//! someone.
//!
//! The crate stands alone: it needs no token library, no cryptography and no database,
//! so an agent framework can embed it directly. [`Limiter`] keeps its state in this
//! process; [`RateLimiter`] is the seam a shared backend implements (the crate
//! `nhi-limiter-redis` is one, and the `conformance` feature holds the suite every
//! backend must pass).
//!
//! Beyond checking, a limiter can:
//!
//! - answer what `RateLimit` and `Retry-After` headers need: [`LimitDecision::remaining`],
//!   [`LimitDecision::limit`], [`LimitDecision::reset_after`],
//!   [`LimitDecision::retry_after`];
//! - read without charging ([`Limiter::peek`]);
//! - run in shadow mode, counting what it would reject ([`Limiter::set_shadow`]);
//! - change a layer's quota, or one key's, while checks run
//!   ([`Limiter::set_layer_quota`], [`Limiter::set_key_quota`]);
//! - allow one destructive action per incident ([`Layer::Incident`], [`Quota::once`]);
//! - wait instead of rejecting, and sweep on a timer (feature `tokio`:
//!   `Limiter::acquire`, `spawn_sweeper`).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//!
//! use nhi_core::{ManualClock, Severity, Timestamp};
//! use nhi_limiter::{Breach, LimitRequest, Limiter, QuotaPlan};
//!
//! # fn main() -> Result<(), nhi_limiter::LimitError> {
//! let plan = QuotaPlan::from_toml_str(
//!     r#"
//!     [costs]
//!     read = 1
//!     write = 5
//!     destructive = 20
//!
//!     [breach]
//!     rejections = 3
//!     window = "60s"
//!
//!     [layers.identity]
//!     rate = 10
//!     per = "1s"
//!     burst = 20
//!     "#,
//! )?;
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
//! let suspended = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&suspended);
//! let limiter = Limiter::new(plan, clock.clone()).with_protective_action(Arc::new(
//!     move |breach: &Breach| {
//!         counter.fetch_add(1, Ordering::SeqCst);
//!         assert_eq!(breach.identity, "restart-agent");
//!     },
//! ));
//!
//! // A destructive restart costs 20 units: the whole burst.
//! let restart = LimitRequest::new("restart-agent", Severity::Destructive);
//! assert!(limiter.check(&restart)?.is_allowed());
//!
//! // The next one must wait until 20 units are earned again, at 10 per second.
//! let decision = limiter.check(&restart)?;
//! assert_eq!(decision.retry_after(), Some(Duration::from_secs(2)));
//!
//! // Three rejections within a minute trip the kill switch, once.
//! limiter.check(&restart)?;
//! let decision = limiter.check(&restart)?;
//! assert!(decision.breach().is_some());
//! assert_eq!(suspended.load(Ordering::SeqCst), 1);
//!
//! // After waiting the retry time the request fits again.
//! clock.advance(Duration::from_secs(2));
//! assert!(limiter.check(&restart)?.is_allowed());
//! # Ok(())
//! # }
//! ```
//!
//! # The algorithm
//!
//! Each bucket is one theoretical arrival time (TAT) in nanoseconds, updated by
//! compare-and-swap: the generic cell rate algorithm. With `T` the time to earn one
//! unit and `B` the burst, a request of cost `c` at time `now` fits when
//! `max(TAT, now) + c*T - now <= B*T`. A full bucket therefore takes exactly `B` units,
//! never one more, and partial refills are never lost. A rejection writes nothing.
//!
//! A request is charged to every layer the plan limits and the request names a key for
//! (the identity layer always uses [`LimitRequest::identity`]). If a later layer
//! rejects, the earlier charges are given back, so a rejection leaves every bucket as
//! it found it. A request that costs more than some layer's burst could never fit: it
//! is the error [`LimitError::CostExceedsBurst`], not a wait.
//!
//! # The plan format
//!
//! [`QuotaPlan::from_toml_str`] reads:
//!
//! ```toml
//! # What each severity costs, in units. Optional; these are the defaults.
//! [costs]
//! read = 1
//! write = 5
//! destructive = 20
//!
//! # Trip the kill switch when this many rejections of one identity fall within the
//! # window. Optional; these are the defaults.
//! [breach]
//! rejections = 5
//! window = "60s"
//!
//! # Shadow mode (allow what would be rejected, and count it) is the top-level key
//! # `shadow = true`, written before the first table.
//!
//! # One table per limited layer: identity, workflow, tenant, endpoint, incident-class,
//! # incident. `rate` units are earned per `per`; a full bucket holds `burst` (default:
//! # `rate`). `once = true` instead allows one unit, never earned back.
//! [layers.identity]
//! rate = 10
//! per = "1s"
//! burst = 20
//!
//! [layers.endpoint]
//! rate = 100
//! per = "1s"
//! burst = 100
//!
//! [layers.incident]
//! once = true
//! ```
//!
//! Durations are a number and a unit (`500ms`, `1s`, `5m`, `1h`). Unknown keys and
//! sections are refused, and every error names its line and column.
//!
//! # Keeping memory bounded
//!
//! A bucket is created the first time a key is seen. [`Limiter::sweep`] forgets the
//! buckets that have refilled (forgetting them changes no decision) and the violation
//! logs with nothing left in the breach window; run it periodically. Keys longer than
//! [`MAX_KEY_LEN`] bytes are refused.
//!
//! No key, identity or request field is ever logged by this crate: it does not log.

#![forbid(unsafe_code)]

mod breach;
mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod gcra;
mod layers;
mod limiter;
mod live;
#[cfg(feature = "tokio")]
mod pacing;
mod plan;
mod quota;
mod rate_limiter;
mod request;
mod stats;
mod tally;

pub use breach::{Breach, BreachPolicy, ProtectiveAction};
pub use error::LimitError;
pub use limiter::{Limiter, MAX_KEY_LEN};
#[cfg(feature = "tokio")]
pub use pacing::spawn_sweeper;
pub use plan::QuotaPlan;
pub use quota::{Layer, Quota, SeverityCosts};
pub use rate_limiter::RateLimiter;
pub use request::{LimitDecision, LimitRequest};
pub use stats::LimitStats;

//! The vocabulary every nhi crate speaks.
//!
//! A non-human identity (an AI agent, a bot, a CI runner, a cron job) is named by an
//! [`IdentityId`], lives in one [`TenantId`] and one [`Environment`], belongs to an
//! owning [`TeamName`], and acts by performing an [`Action`] of some [`Severity`] on a
//! [`Resource`]. Its [`RiskTier`] decides how much scrutiny it gets. Time always comes
//! from a [`Clock`], so tests drive it with a [`ManualClock`] instead of sleeping.
//!
//! This crate has no I/O and no cryptography; every other nhi crate depends on it.
//!
//! ```
//! use std::time::Duration;
//! use nhi_core::{Action, Clock, IdentityId, ManualClock, Resource, Severity, Timestamp};
//!
//! # fn main() -> Result<(), nhi_core::CoreError> {
//! let agent = IdentityId::new("restart-agent")?;
//! let action = Action::new("Deployment.Restart")?;
//! let target: Resource = "k8s:prod/payments/api".parse()?;
//!
//! assert_eq!(action.as_str(), "deployment.restart"); // actions compare case-insensitively
//! assert_eq!(target.system(), "k8s");
//! assert!(Severity::Destructive > Severity::Read);
//!
//! let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now().unix_secs(), 1_700_000_090);
//! # let _ = agent;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod action;
mod clock;
mod error;
mod id;
mod kind;
mod time;

pub use action::{Action, Resource, Severity};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{CoreError, shorten};
pub use id::{
    CorrelationId, CredentialId, Environment, IdentityId, IncidentId, TeamName, TenantId,
    WorkflowId,
};
pub use kind::{CredentialKind, IdentityKind, RiskTier};
pub use time::{
    Timestamp, duration_text, format_duration, format_duration_rounded, parse_duration,
};

//! The identity registry: one record per non-human identity, a strict lifecycle, and a
//! storage trait with an in-memory store.
//!
//! Every AI agent, bot, CI runner or cron job gets an [`IdentityRecord`]: who owns it,
//! what it is for, where it may act, how its credentials live and rotate, and where it
//! stands in its [`LifecycleState`]. The [`Registry`] is the only way records change:
//! provisioning checks guards (owner, purpose, expiry, tier limits, scopes), high-risk
//! identities wait for an owner and a security approval, transitions follow the
//! lifecycle, and decommissioning kills credentials, removes permissions and finally
//! tombstones the id so it is never reused. [`Registry::reconcile`] finds orphaned,
//! idle and expired identities; [`Registry::metrics`] sums up the estate.
//!
//! Records live behind the [`IdentityStore`] trait. [`MemoryStore`] is built in; the
//! `nhi-registry-sqlite` crate stores them durably in one file and
//! `nhi-registry-postgres` in a database shared by many nodes, announcing every
//! committed [`Change`] so that a [`CachedStore`] on another node stays current. Every
//! store runs the `conformance` suite (cargo feature `conformance`).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nhi_core::{CredentialKind, IdentityKind, ManualClock, RiskTier, Timestamp};
//! use nhi_registry::{
//!     ApproverRole, CredentialPolicy, LifecycleState, MemoryStore, NewIdentity, Owner, Registry,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600)));
//! let registry = Registry::new(Arc::new(MemoryStore::new()), clock.clone());
//!
//! let agent = registry
//!     .provision(NewIdentity {
//!         id: "restart-agent".parse()?,
//!         kind: IdentityKind::AiAgent,
//!         owner: Some(Owner { team: "platform".parse()?, person: Some("alice".into()) }),
//!         purpose: Some("Restarts unhealthy payment pods during incidents.".into()),
//!         environment: "production".parse()?,
//!         tenant: "acme".parse()?,
//!         allowed_systems: ["k8s".to_owned()].into(),
//!         scopes: ["k8s:restart".to_owned()].into(),
//!         credential: CredentialPolicy {
//!             kind: CredentialKind::Jwt,
//!             lifetime: Duration::from_secs(15 * 60),
//!         },
//!         rotation_interval: Duration::from_secs(7 * 86_400),
//!         risk_tier: RiskTier::High,
//!         expires_at: Some(Timestamp::from_unix_secs(1_782_864_000)),
//!         decommission_at: None,
//!         last_used_at: None,
//!         last_rotated_at: None,
//!         labels: Default::default(),
//!     })
//!     .await?;
//! assert_eq!(agent.state, LifecycleState::Requested); // high risk waits for approval
//!
//! registry.approve(&agent.id, "alice", ApproverRole::Owner).await?;
//! let agent = registry.approve(&agent.id, "sam", ApproverRole::Security).await?;
//! assert!(agent.state.is_usable());
//!
//! // Disabling kills every credential issued so far.
//! clock.advance(Duration::from_secs(60));
//! let moved = registry.transition(&agent.id, LifecycleState::Disabled).await?;
//! let issued_at = agent.state_changed_at; // a token issued on activation
//! assert!(moved.after.credential_issued_too_early(issued_at));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod approvals;
mod cache;
mod change;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod encoding;
mod error;
mod limits;
mod memory;
mod metrics;
mod provision;
mod query;
mod reconcile;
mod record;
mod registry;
mod state;
mod store;

pub use cache::CachedStore;
pub use change::Change;
pub use encoding::StoredRecord;
pub use error::{BackendError, RegistryError};
pub use limits::{TierLimit, TierLimits};
pub use memory::MemoryStore;
pub use metrics::RegistryMetrics;
pub use query::IdentityQuery;
pub use reconcile::{Finding, FindingReason, ReconcileMode, ReconcilePolicy, ReconcileReport};
pub use record::{Approval, ApproverRole, CredentialPolicy, IdentityRecord, NewIdentity, Owner};
pub use registry::{Registry, Transition};
pub use state::{LifecycleState, UnknownState};
pub use store::{IdentityStore, Page, next_version};

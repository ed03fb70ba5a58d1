//! The nhi control plane: one enforcement path for non-human identities, and the
//! lifecycle operations around it.
//!
//! A platform team must always be able to answer, for every agent, bot, CI runner or
//! cron job: who is it, who owns it, what may it do, with which credential, until
//! when, what did it do and why, and how fast can we stop it. [`ControlPlane`] answers
//! by composing the nhi crates, each behind its own trait:
//!
//! | part | trait | default implementation |
//! |---|---|---|
//! | registry | [`registry::IdentityStore`] | memory, SQLite (`sqlite` feature, on by default) |
//! | credentials | [`credentials::CredentialProvider`] | Ed25519 signed tokens, mock |
//! | policy | [`policy::PolicyEngine`] | TOML rules with explained decisions |
//! | limiter | [`limiter::RateLimiter`] | layered token buckets with a kill switch |
//! | audit | [`audit::AuditSink`] | memory, hash-chained JSON lines |
//!
//! [`ControlPlane::authorize`] is the enforcement path: authenticate, check the
//! identity's state, its allowed systems and scopes, ask policy (and any approval it
//! requires), charge the quotas, and record the decision before returning it. Abuse
//! signals trip a kill switch in the same call.
//!
//! ```
//! use std::sync::Arc;
//! use nhi::{AccessOutcome, AccessRequest, ControlPlane};
//! use nhi::audit::MemorySink;
//! use nhi::core::{Action, ManualClock, Severity, SharedClock, Timestamp};
//! use nhi::credentials::{MemoryRevocationList, MockProvider};
//! use nhi::limiter::{Limiter, QuotaPlan};
//! use nhi::policy::RuleSet;
//! use nhi::registry::{MemoryStore, NewIdentity, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let start = Timestamp::from_unix_secs(1_800_000_000);
//! let clock: SharedClock = Arc::new(ManualClock::new(start));
//! let revocations = Arc::new(MemoryRevocationList::new());
//! let tokens = MockProvider::new(clock.clone()).with_revocations(revocations.clone());
//! let plane = ControlPlane::builder(clock.clone())
//!     .registry(Registry::new(Arc::new(MemoryStore::new()), clock.clone()))
//!     .provider(Arc::new(tokens))
//!     .revocations(revocations)
//!     .policy(Arc::new(RuleSet::from_toml_str(r#"
//!         [[rules]]
//!         id = "reporters-read-metrics"
//!         effect = "allow"
//!         reason = "reporting bots may read metrics"
//!         kinds = ["bot"]
//!         actions = ["metrics.read"]
//!         resources = ["metrics:**"]
//!     "#)?))
//!     .limiter(Arc::new(Limiter::new(QuotaPlan::new(), clock.clone())))
//!     .audit(Arc::new(MemorySink::new()))
//!     .build()?;
//!
//! let new: NewIdentity = toml::from_str(r#"
//!     id = "weekly-report-bot"
//!     kind = "bot"
//!     owner = { team = "analytics" }
//!     purpose = "Builds the weekly revenue report."
//!     environment = "production"
//!     tenant = "acme"
//!     allowed_systems = ["metrics"]
//!     scopes = ["metrics:metrics.read"]
//!     credential = { kind = "jwt", lifetime = "5m" }
//!     rotation_interval = "30d"
//!     risk_tier = "low"
//!     expires_at = "2030-01-01T00:00:00Z"
//! "#)?;
//! plane.provision(new).await?;
//! let id = "weekly-report-bot".parse()?;
//! let token = plane.issue_credential(&id).await?;
//!
//! let read = Action::new("metrics.read")?;
//! let report = "metrics:revenue/weekly".parse()?;
//! let request = AccessRequest::new(&token.secret, read, report, Severity::Read);
//! match plane.authorize(request).await? {
//!     AccessOutcome::Granted(permit) => {
//!         // ... read the report, then close the audit record
//!         permit.complete(nhi::ActionReport::new("succeeded")).await?;
//!     }
//!     AccessOutcome::Denied(denial) => panic!("{denial}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! No secret is ever logged or recorded: credentials appear in the audit trail and in
//! errors only by their public id.

#![forbid(unsafe_code)]

mod abuse;
mod access;
mod approvals;
mod enforce;
mod error;
mod ledger;
mod lifecycle;
mod metrics;
mod plane;
mod refuse;

pub use access::{
    AccessContext, AccessOutcome, AccessRequest, ActionReport, Denial, Permit, Stage,
};
pub use approvals::ApprovalGrant;
pub use error::Error;
pub use metrics::ProgramMetrics;
pub use plane::{AbusePolicy, AuditFailureMode, ControlPlane, ControlPlaneBuilder};

/// Audit events and sinks (`nhi-audit`).
pub use nhi_audit as audit;
/// The shared vocabulary (`nhi-core`).
pub use nhi_core as core;
/// Credential providers and revocation (`nhi-credentials`).
pub use nhi_credentials as credentials;
/// Layered limits and the kill switch (`nhi-limiter`).
pub use nhi_limiter as limiter;
/// Policy engines (`nhi-policy`).
pub use nhi_policy as policy;
/// Identity records, lifecycle and stores (`nhi-registry`).
pub use nhi_registry as registry;
/// The embedded durable registry store on SQLite (`nhi-registry-sqlite`).
#[cfg(feature = "sqlite")]
pub use nhi_registry_sqlite as sqlite;

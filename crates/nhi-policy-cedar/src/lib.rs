//! Cedar policies behind the nhi [`PolicyEngine`](nhi_policy::PolicyEngine) trait, for
//! teams that already write Cedar: the control plane asks the same question and gets the
//! same kind of [`Decision`](nhi_policy::Decision) (allow, deny or require approval; the
//! deciding rule ids; explicit or implicit deny; a caller-safe reason).
//!
//! It lives in its own crate so that the default build does not carry Cedar.
//!
//! ```
//! use nhi_core::{Action, IdentityKind, RiskTier, Severity};
//! use nhi_policy::{Effect, PolicyEngine, PolicyRequest, RequestContext, Subject};
//! use nhi_policy_cedar::CedarPolicy;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = CedarPolicy::from_cedar_str(r#"
//!     @id("sre-agents-restart")
//!     @reason("sre agents may restart production deployments")
//!     permit(principal, action == Nhi::Action::"deployment.restart", resource)
//!     when { principal.team == "sre" && resource.id like "k8s:prod/*" };
//!
//!     @id("restart-needs-oncall")
//!     @reason("restarts need the on-call's approval, once per incident")
//!     @approval("sre-oncall")
//!     @scope("once-per-incident")
//!     forbid(principal, action == Nhi::Action::"deployment.restart", resource)
//!     when { context has incident };
//! "#)?;
//!
//! let subject = Subject {
//!     id: "restart-agent".parse()?,
//!     kind: IdentityKind::AiAgent,
//!     team: Some("sre".parse()?),
//!     tenant: "acme".parse()?,
//!     risk_tier: RiskTier::Medium,
//!     environment: "production".parse()?,
//!     labels: Default::default(),
//! };
//! let restart = PolicyRequest::new(
//!     subject,
//!     Action::new("deployment.restart")?,
//!     "k8s:prod/payments/api".parse()?,
//!     Severity::Destructive,
//! );
//! assert_eq!(policy.decide(&restart).effect, Effect::Allow);
//!
//! let in_incident = restart.with_context(RequestContext {
//!     incident: Some("INC-4821".parse()?),
//!     ..RequestContext::default()
//! });
//! let decision = policy.decide(&in_incident);
//! assert_eq!(decision.effect, Effect::RequireApproval);
//! assert_eq!(decision.rule_id.as_deref(), Some("restart-needs-oncall"));
//! # Ok(())
//! # }
//! ```
//!
//! # Annotations
//!
//! - `@id("...")` on every policy: its rule id in decisions (unique; ASCII letters,
//!   digits, `-`, `_`, `.`, `:`).
//! - `@reason("...")`: the words shown to the caller; a plain default otherwise. Policy
//!   text never reaches the caller.
//! - `@approval("a, b")` on a `forbid`: the forbid means "require approval from any of
//!   these" rather than "deny"; `@scope("once" | "once-per-incident")` says how long the
//!   approval holds (`once` when absent).
//!
//! # What Cedar sees
//!
//! - `principal`: `Nhi::Identity::"<id>"` with attributes `kind`, `tenant`, `risk_tier`,
//!   `environment` (strings, as written in nhi policy files), `team` (absent when the
//!   identity has none; test with `principal has team`) and `labels` (a record).
//! - `action`: `Nhi::Action::"<name>"`, the name lowercased (actions compare without
//!   case); `context.action` holds the same text for `like` patterns.
//! - `resource`: `Nhi::Resource::"<system:path>"` with attributes `id` (the whole text,
//!   for `like`), `system` and `path`. Cedar's `*` in `like` crosses `/`, unlike the
//!   built-in engine's `*`.
//! - `context`: `action`, `severity` (`read` | `write` | `destructive`), and when the
//!   request carries them: `incident`, `workflow`, `change_ticket`, `time` (seconds since
//!   the epoch), `minute_of_day` and `weekday` (`mon`..`sun`, UTC), `token_age_secs`,
//!   `workflow_state`; plus `attributes`, a record of the request's typed attributes.
//!   A fact the request lacks is an absent key: reading it is an evaluation error.
//!
//! # Fail closed
//!
//! Cedar skips a policy whose evaluation errors. That is harmless for a `permit` (it
//! grants nothing) but would let a blanket `permit` win over a `forbid` that could not be
//! checked. This adapter turns an erroring `forbid`, plain or `@approval`, into a deny
//! naming that policy, exactly as the built-in engine treats a deny or approval rule
//! whose conditions cannot be checked.

#![forbid(unsafe_code)]

mod decide;
mod entities;
mod error;
mod policy;

pub use entities::{ACTION_TYPE, PRINCIPAL_TYPE, RESOURCE_TYPE};
pub use error::CedarPolicyError;
pub use policy::CedarPolicy;

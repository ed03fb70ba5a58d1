//! Policy for non-human identities: may this identity perform this action on this
//! resource now? The answer is allow, deny or require approval, with the rule that
//! decided and a reason that is safe to show the caller.
//!
//! [`PolicyEngine`] is the seam the control plane calls. [`RuleSet`] is the built-in
//! engine: rules read from TOML (or built in code), checked and compiled once at load,
//! then decided without I/O, without a clock and without panicking.
//!
//! ```
//! use nhi_core::{Action, IdentityKind, RiskTier, Severity};
//! use nhi_policy::{
//!     ApprovalScope, Effect, PolicyEngine, PolicyRequest, RequestContext, RuleSet, Subject,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = RuleSet::from_toml_str(r#"
//!     [[rules]]
//!     id = "agents-read-health"
//!     effect = "allow"
//!     reason = "health checks are harmless"
//!     actions = ["health.*"]
//!     resources = ["k8s:prod/**"]
//!
//!     [[rules]]
//!     id = "sre-agents-restart-in-incident"
//!     effect = "require-approval"
//!     reason = "destructive restarts need the on-call's approval, once per incident"
//!     kinds = ["ai-agent"]
//!     teams = ["sre"]
//!     actions = ["deployment.restart"]
//!     resources = ["k8s:prod/**"]
//!     [rules.when]
//!     incident = true
//!     [rules.approval]
//!     approvers = ["sre-oncall"]
//!     scope = "once-per-incident"
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
//!     Action::new("Deployment.Restart")?,
//!     "k8s:prod/payments/api".parse()?,
//!     Severity::Destructive,
//! );
//!
//! // Outside an incident nothing matches: the implicit deny.
//! let decision = policy.decide(&restart);
//! assert_eq!(decision.effect, Effect::Deny);
//! assert!(!decision.explicit);
//!
//! // Inside one, the on-call must approve.
//! let in_incident = restart.with_context(RequestContext {
//!     incident: Some("INC-4821".parse()?),
//!     ..RequestContext::default()
//! });
//! let decision = policy.decide(&in_incident);
//! assert_eq!(decision.effect, Effect::RequireApproval);
//! assert_eq!(decision.rule_id.as_deref(), Some("sre-agents-restart-in-incident"));
//! assert_eq!(decision.approval.map(|a| a.scope), Some(ApprovalScope::OncePerIncident));
//! # Ok(())
//! # }
//! ```
//!
//! # Deciding
//!
//! Decisions are order-free, in the manner of AWS IAM and Cedar:
//! 1. if any matching rule denies, the answer is [`Effect::Deny`];
//! 2. otherwise, if a deny or require-approval rule could not be checked (its conditions
//!    need context the request lacks or mistypes), the answer is [`Effect::Deny`] too;
//! 3. otherwise, if any matching rule requires approval, [`Effect::RequireApproval`];
//! 4. otherwise, if any matching rule allows, [`Effect::Allow`] (an allow rule that could
//!    not be checked grants nothing);
//! 5. otherwise the implicit default deny ([`Decision::explicit`] is `false`, no rule id).
//!
//! Every decision carries its own [`DecisionId`], the ids of the rules behind it
//! ([`Decision::deciding`], in id order; [`Decision::rule_id`] is the first, preferring a
//! rule that surely matched) and a reason safe to show the caller: the deciding rule's
//! `reason`, or a fixed sentence for the implicit deny and for unchecked rules. Policy
//! text never reaches the caller.
//!
//! Rules are indexed by action (exact name or namespace) and by principal (identity,
//! team, tenant or kind), so a request looks only at rules that could match it; see
//! `docs/policy.md` for measured costs. A decision shares its rule ids, reason and
//! approval requirement with the rule set (`Arc`), so deciding copies no text.
//! [`ReloadablePolicy`] swaps a whole policy atomically while requests are decided.
//!
//! # Policy file format
//!
//! A policy file is a list of `[[rules]]` tables. Unknown keys are errors, as are
//! keywords outside the lists below.
//!
//! ```toml
//! [[rules]]
//! id = "sre-agents-restart-in-incident"  # required, unique; letters, digits, - _ . :
//! effect = "require-approval"            # required: allow | deny | require-approval
//! reason = "restarts need the on-call's approval, once per incident"  # required
//!
//! # Whom the rule is about. Each key is optional; a missing key matches everyone;
//! # an empty list is refused, since it would match no one.
//! identities = ["restart-agent"]
//! kinds = ["ai-agent"]         # ai-agent | bot | ci-runner | cron | workflow | integration
//! teams = ["sre"]              # a subject without a team never matches this key
//! tenants = ["acme"]
//! risk_tiers = ["medium", "high"]   # low | medium | high | critical
//! environments = ["production"]
//! labels = { "purpose" = "remediation" }   # every label given must be present and equal
//!
//! actions = ["deployment.restart"]   # required, at least one pattern
//! resources = ["k8s:prod/**"]        # required, at least one pattern
//! severities = ["destructive"]       # optional: read | write | destructive
//!
//! [rules.when]             # optional conditions on the request's context
//! incident = true          # true: an incident id must be present; false: must be absent
//! workflow = false         # the same for a workflow id
//! change_ticket = true     # the same for a (non-blank) change ticket
//! hours = "08:00-18:00"    # UTC daily window, start included; "22:00-06:00" wraps midnight
//! weekdays = ["mon", "tue", "wed", "thu", "fri"]   # UTC
//! not_before = "2026-01-01T00:00:00Z"
//! not_after = "2026-12-31T23:59:59Z"
//! max_token_age = "15m"    # the credential was issued at most this long ago
//! workflow_states = ["approved"]
//!
//! [rules.when.attributes]  # tests on the request's typed attributes
//! regions = { all_in = ["eu-west-1"] }   # every value of a list is in the set
//! services = { any_in = ["payments"] }   # some value of a list is in the set
//! tier = { one_of = ["gold", "silver"] } # a text is in the set
//! blast_radius = { at_most = 10 }        # also at_least; numbers
//! dry_run = { equals = true }            # text, number or boolean, of the same type
//!
//! [rules.approval]         # required exactly when effect = "require-approval"
//! approvers = ["sre-oncall"]
//! scope = "once-per-incident"        # once | once-per-incident
//! ```
//!
//! Time conditions read [`RequestContext::time`] and token-age conditions
//! [`RequestContext::token_age`]: deciding never reads a clock. A condition whose value
//! is missing from the context, or of the wrong type, is unknown: see "Deciding".
//!
//! Errors report the line and column of the problem and say what to change; loading a
//! file names the file.
//!
//! # Patterns
//!
//! Action and resource patterns share one glob dialect:
//! - `*` matches any run of characters except `/`;
//! - `**` matches any run of characters, `/` included;
//! - `?` matches one character other than `/`;
//! - `\` makes the next character literal (`\*` is a star); a trailing `\` is an error;
//! - the pattern must match the whole text.
//!
//! Resource patterns match the whole `system:path` text, case-sensitively:
//! `k8s:prod/*` matches `k8s:prod/api` but not `k8s:prod/payments/api`;
//! `k8s:prod/**` matches both. Action patterns compare case-insensitively (they are
//! lowercased at load, as actions are); actions hold no `/`, so a lone `*` matches every
//! action. Matching costs at most the text length times the pattern length, whatever the
//! pattern.

#![forbid(unsafe_code)]

mod condition;
mod decision;
mod error;
mod index;
mod load;
mod pattern;
mod reload;
mod request;
mod rule;
mod ruleset;

pub use condition::{AttributeTest, Conditions, DailyWindow, Truth, Weekday};
pub use decision::{
    ApprovalRequirement, ApprovalScope, Decision, DecisionId, Effect, PolicyEngine,
};
pub use error::PolicyError;
pub use pattern::{ActionPattern, ResourcePattern};
pub use reload::ReloadablePolicy;
pub use request::{ContextValue, PolicyRequest, RequestContext, Subject};
pub use rule::{PrincipalMatch, Rule};
pub use ruleset::RuleSet;

//! What a policy answers: a [`Decision`] with its [`Effect`], the rules behind it and a
//! reason that is safe to show the caller; and the [`PolicyEngine`] trait that answers.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::request::PolicyRequest;

/// Anything that can decide policy requests.
///
/// Deciding never fails and never reads a clock: an engine that cannot decide must answer
/// with a deny.
pub trait PolicyEngine: Send + Sync {
    /// Decides one request.
    fn decide(&self, request: &PolicyRequest) -> Decision;
}

impl<E: PolicyEngine + ?Sized> PolicyEngine for Arc<E> {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        (**self).decide(request)
    }
}

impl<E: PolicyEngine + ?Sized> PolicyEngine for Box<E> {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        (**self).decide(request)
    }
}

impl<E: PolicyEngine + ?Sized> PolicyEngine for &E {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        (**self).decide(request)
    }
}

/// The three outcomes of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The action may go ahead.
    Allow,
    /// The action is refused.
    Deny,
    /// The action may go ahead once the named approvers agree.
    RequireApproval,
}

impl Effect {
    /// The keyword as written in policy files: `allow`, `deny` or `require-approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::RequireApproval => "require-approval",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long one approval lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalScope {
    /// An approval covers one action.
    Once,
    /// An approval covers one action, and only within the incident it was given for.
    OncePerIncident,
}

impl ApprovalScope {
    /// The keyword as written in policy files: `once` or `once-per-incident`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::OncePerIncident => "once-per-incident",
        }
    }
}

impl fmt::Display for ApprovalScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who must approve an action, and for how long the approval holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequirement {
    /// The approvers (people or groups, such as `sre-oncall`); any one of them may approve.
    pub approvers: Vec<String>,
    /// How long the approval holds.
    pub scope: ApprovalScope,
}

/// The answer to a [`PolicyRequest`], with its explanation.
///
/// Rule ids, the reason and the approval requirement are shared with the policy that
/// decided (`Arc`), so a decision costs no text copies; `as_deref()` or `to_string()`
/// gives plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Names this one decision in the audit trail.
    pub id: DecisionId,
    /// The outcome.
    pub effect: Effect,
    /// The rule that decided; `None` for the implicit default deny. It is the first of
    /// [`deciding`](Self::deciding), preferring a rule that surely matched to one that
    /// could not be checked.
    pub rule_id: Option<Arc<str>>,
    /// Every rule behind the outcome, by id, in id order: the matching rules of the
    /// winning effect, and for a deny also the deny and approval rules whose conditions
    /// could not be checked. Empty for the implicit default deny.
    pub deciding: Vec<Arc<str>>,
    /// Every rule that matched the request (or, for a deny or approval rule, could not
    /// be checked), by id, in id order. An engine may list only the deciding rules.
    pub matched: Vec<Arc<str>>,
    /// Whether a rule decided; `false` for the implicit default deny.
    pub explicit: bool,
    /// Why, in words safe to show the caller: the deciding rule's `reason`, never the
    /// policy text.
    pub reason: Arc<str>,
    /// Who must approve, when the effect is [`Effect::RequireApproval`].
    pub approval: Option<Arc<ApprovalRequirement>>,
}

impl Decision {
    /// The reason given when no rule matched.
    pub const DEFAULT_DENY_REASON: &'static str = "no rule allows this action";

    /// The reason given when a deny or approval rule could not be checked because the
    /// request lacks (or mistypes) context the rule needs.
    pub const UNCHECKED_REASON: &'static str =
        "the request lacks context a policy rule needs, so it is refused";

    /// The implicit deny given when no rule matches.
    pub fn default_deny() -> Self {
        Self {
            id: DecisionId::next(),
            effect: Effect::Deny,
            rule_id: None,
            deciding: Vec::new(),
            matched: Vec::new(),
            explicit: false,
            reason: shared_text(&DEFAULT_DENY, Self::DEFAULT_DENY_REASON),
            approval: None,
        }
    }

    /// [`UNCHECKED_REASON`](Self::UNCHECKED_REASON), shared.
    pub(crate) fn unchecked_reason() -> Arc<str> {
        shared_text(&UNCHECKED, Self::UNCHECKED_REASON)
    }

    /// Whether the action may go ahead without further approval.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Whether the action waits for an approval.
    pub fn needs_approval(&self) -> bool {
        self.effect == Effect::RequireApproval
    }
}

static DEFAULT_DENY: OnceLock<Arc<str>> = OnceLock::new();
static UNCHECKED: OnceLock<Arc<str>> = OnceLock::new();

/// A fixed sentence, allocated once per process and shared by every decision giving it.
fn shared_text(cell: &'static OnceLock<Arc<str>>, text: &'static str) -> Arc<str> {
    Arc::clone(cell.get_or_init(|| Arc::from(text)))
}

/// A decision's id: unique within the process, and across processes with near
/// certainty (a random 64-bit prefix per process, then a counter). Shown as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecisionId(u128);

impl DecisionId {
    /// A fresh id.
    pub fn next() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| RandomState::new().hash_one(std::process::id()));
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self((u128::from(prefix) << 64) | u128::from(count))
    }

    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for DecisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for DecisionId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_kebab_case() {
        let json = serde_json::to_string(&Effect::RequireApproval).unwrap();
        assert_eq!(json, "\"require-approval\"");
        assert_eq!(Effect::RequireApproval.to_string(), "require-approval");
        let scope: ApprovalScope = serde_json::from_str("\"once-per-incident\"").unwrap();
        assert_eq!(scope, ApprovalScope::OncePerIncident);
    }

    #[test]
    fn default_deny_is_implicit() {
        let decision = Decision::default_deny();
        assert!(!decision.is_allowed());
        assert!(!decision.explicit);
        assert_eq!(decision.rule_id, None);
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["effect"], "deny");
        assert_eq!(json["id"].as_str().map(str::len), Some(32));
    }

    #[test]
    fn decision_ids_do_not_repeat() {
        let ids: std::collections::HashSet<DecisionId> =
            (0..1000).map(|_| DecisionId::next()).collect();
        assert_eq!(ids.len(), 1000);
        assert_ne!(Decision::default_deny().id, Decision::default_deny().id);
    }
}

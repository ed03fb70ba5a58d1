//! Deciding with Cedar and translating its answer into a [`Decision`].

use std::sync::Arc;

use cedar_policy::{AuthorizationError, Decision as CedarDecision, PolicyId};
use nhi_policy::{Decision, DecisionId, Effect, PolicyEngine, PolicyRequest};

use crate::entities::cedar_input;
use crate::policy::{CedarPolicy, RuleInfo};

impl PolicyEngine for CedarPolicy {
    /// Decides with Cedar, then reads the answer in the nhi model:
    /// - a satisfied plain `forbid` denies;
    /// - a `forbid` (plain or `@approval`) that errors denies: Cedar alone would skip it;
    /// - otherwise a satisfied `@approval` forbid requires approval;
    /// - otherwise Cedar's allow (a satisfied `permit`) allows;
    /// - otherwise the implicit deny. A `permit` that errors grants nothing.
    ///
    /// A request Cedar cannot even be given is an implicit deny.
    fn decide(&self, request: &PolicyRequest) -> Decision {
        let Some(input) = cedar_input(request) else {
            return Decision {
                reason: Arc::from(Decision::UNCHECKED_REASON),
                ..Decision::default_deny()
            };
        };
        let response =
            self.authorizer
                .is_authorized(&input.request, &self.policies, &input.entities);
        let diagnostics = response.diagnostics();

        // Sort what Cedar reports into the three kinds of rule.
        let mut sure_deny = Vec::new();
        let mut unchecked = Vec::new();
        let mut approving = Vec::new();
        let mut allowing = Vec::new();
        for rule in diagnostics.reason().filter_map(|id| self.rules.get(id)) {
            match rule.effect {
                Effect::Deny => sure_deny.push(rule),
                Effect::RequireApproval => approving.push(rule),
                Effect::Allow => allowing.push(rule),
            }
        }
        let erroring = diagnostics.errors().filter_map(|error| self.rule_of(error));
        unchecked.extend(erroring.filter(|rule| rule.effect != Effect::Allow));

        self.explain(
            response.decision(),
            sure_deny,
            unchecked,
            approving,
            allowing,
        )
    }
}

/// The rule with the smallest id.
fn first<'a>(rules: &[&'a RuleInfo]) -> Option<&'a RuleInfo> {
    rules.iter().min_by(|a, b| a.id.cmp(&b.id)).copied()
}

impl CedarPolicy {
    fn rule_of(&self, error: &AuthorizationError) -> Option<&RuleInfo> {
        let id: &PolicyId = match error {
            AuthorizationError::PolicyEvaluationError(error) => error.policy_id(),
        };
        self.rules.get(id)
    }

    fn explain(
        &self,
        cedar: CedarDecision,
        sure_deny: Vec<&RuleInfo>,
        unchecked: Vec<&RuleInfo>,
        approving: Vec<&RuleInfo>,
        allowing: Vec<&RuleInfo>,
    ) -> Decision {
        let (effect, decider, deciding, reason) = if let Some(rule) = first(&sure_deny) {
            let all = [sure_deny.as_slice(), unchecked.as_slice()].concat();
            (Effect::Deny, rule, all, rule.reason.clone())
        } else if let Some(rule) = first(&unchecked) {
            let reason = Arc::from(Decision::UNCHECKED_REASON);
            (Effect::Deny, rule, unchecked, reason)
        } else if let Some(rule) = first(&approving) {
            (
                Effect::RequireApproval,
                rule,
                approving,
                rule.reason.clone(),
            )
        } else if let (CedarDecision::Allow, Some(rule)) = (cedar, first(&allowing)) {
            (Effect::Allow, rule, allowing, rule.reason.clone())
        } else {
            return Decision::default_deny();
        };

        let mut ids: Vec<Arc<str>> = deciding.iter().map(|rule| Arc::clone(&rule.id)).collect();
        ids.sort();
        ids.dedup();
        Decision {
            id: DecisionId::next(),
            effect,
            rule_id: Some(decider.id.clone()),
            matched: ids.clone(),
            deciding: ids,
            explicit: true,
            reason,
            approval: if effect == Effect::RequireApproval {
                decider.approval.clone()
            } else {
                None
            },
        }
    }
}

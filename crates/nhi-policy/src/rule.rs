//! One policy rule: whom it is about, which actions on which resources, under which
//! conditions, and what it decides.

use std::collections::BTreeMap;

use nhi_core::{Environment, IdentityId, IdentityKind, RiskTier, Severity, TeamName, TenantId};

use crate::condition::{Conditions, Truth};
use crate::decision::{ApprovalRequirement, Effect};
use crate::error::{PolicyError, clip};
use crate::pattern::{ActionPattern, ResourcePattern};
use crate::request::{PolicyRequest, Subject};

/// The longest rule id accepted, in characters.
const MAX_ID_LEN: usize = 128;

/// A rule of a [`RuleSet`](crate::RuleSet).
///
/// A rule matches a request when the subject fits its [`principal`](Self::principal), the
/// action fits one of its [`actions`](Self::actions), the resource fits one of its
/// [`resources`](Self::resources), the severity is one of its
/// [`severities`](Self::severities) (or that list is empty), and its conditions
/// ([`when`](Self::when)) hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// A unique id: ASCII letters, digits, `-`, `_`, `.` and `:`, at most 128 characters.
    pub id: String,
    /// What the rule decides when it matches.
    pub effect: Effect,
    /// Why, in words safe to show the caller.
    pub reason: String,
    /// Which subjects the rule is about.
    pub principal: PrincipalMatch,
    /// Which actions the rule covers; at least one.
    pub actions: Vec<ActionPattern>,
    /// Which resources the rule covers; at least one.
    pub resources: Vec<ResourcePattern>,
    /// Which severities the rule covers; empty covers every severity.
    pub severities: Vec<Severity>,
    /// Conditions on the request's context.
    pub when: Conditions,
    /// Who must approve; present exactly when the effect is
    /// [`Effect::RequireApproval`].
    pub approval: Option<ApprovalRequirement>,
}

impl Rule {
    /// Whether the rule surely matches the request (an unknown condition does not).
    pub fn matches(&self, request: &PolicyRequest) -> bool {
        self.evaluate(request) == Truth::Holds
    }

    /// Whether the rule matches the request, does not, or cannot tell because a
    /// condition needs context the request lacks. Everything outside `when` is always
    /// known; an unknown arises only from the conditions.
    pub fn evaluate(&self, request: &PolicyRequest) -> Truth {
        // cheapest tests first: enum and short-text comparisons before patterns
        let fits = (self.severities.is_empty() || self.severities.contains(&request.severity))
            && self.principal.matches(&request.subject)
            && self.actions.iter().any(|p| p.matches(&request.action))
            && self.resources.iter().any(|p| p.matches(&request.resource));
        if !fits {
            return Truth::Fails;
        }
        self.when.evaluate(&request.context)
    }

    /// Checks the rule against the model: a valid id, a reason, at least one action and
    /// resource pattern, and an approval exactly when the effect asks for one.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidRule`] saying what to fix.
    pub fn validate(&self) -> Result<(), PolicyError> {
        self.check().map_err(|reason| PolicyError::InvalidRule {
            rule: clip(&self.id),
            reason,
        })
    }

    /// The validation behind [`validate`](Self::validate), returning only the reason.
    pub(crate) fn check(&self) -> Result<(), String> {
        check_id(&self.id)?;
        if self.reason.trim().is_empty() {
            return Err("the `reason` is empty: say why, in words fit to show the caller".into());
        }
        if self.actions.is_empty() {
            return Err("`actions` is empty: list at least one action pattern".into());
        }
        if self.resources.is_empty() {
            return Err("`resources` is empty: list at least one resource pattern".into());
        }
        self.when.check()?;
        self.check_approval()
    }

    fn check_approval(&self) -> Result<(), String> {
        match (&self.approval, self.effect) {
            (None, Effect::RequireApproval) => Err(
                "a `require-approval` rule needs a `[rules.approval]` table naming the approvers"
                    .into(),
            ),
            (Some(_), Effect::Allow | Effect::Deny) => Err(format!(
                "only `require-approval` rules take a `[rules.approval]` table; remove it or \
                 change the effect from `{}`",
                self.effect
            )),
            (Some(approval), _) if approval.approvers.is_empty() => {
                Err("`approvers` is empty: name at least one approver".into())
            }
            (Some(approval), _) if approval.approvers.iter().any(|a| a.trim().is_empty()) => {
                Err("an approver name is blank".into())
            }
            _ => Ok(()),
        }
    }
}

/// Which subjects a rule is about. Every list that is empty matches every subject; every
/// list that is not must contain the subject's value; every label given must be present
/// on the subject with the same value.
///
/// The default matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalMatch {
    /// Identity ids.
    pub identities: Vec<IdentityId>,
    /// Identity kinds.
    pub kinds: Vec<IdentityKind>,
    /// Owning teams; a subject without a team never matches a non-empty list.
    pub teams: Vec<TeamName>,
    /// Tenants.
    pub tenants: Vec<TenantId>,
    /// Risk tiers.
    pub risk_tiers: Vec<RiskTier>,
    /// Environments.
    pub environments: Vec<Environment>,
    /// Labels that must be present with these values.
    pub labels: BTreeMap<String, String>,
}

impl PrincipalMatch {
    /// Whether the subject fits.
    pub fn matches(&self, subject: &Subject) -> bool {
        let team_fits = || match &subject.team {
            Some(team) => fits(&self.teams, team),
            None => self.teams.is_empty(),
        };
        let labels_fit = || {
            self.labels
                .iter()
                .all(|(key, value)| subject.labels.get(key) == Some(value))
        };

        fits(&self.kinds, &subject.kind)
            && fits(&self.risk_tiers, &subject.risk_tier)
            && fits(&self.identities, &subject.id)
            && team_fits()
            && fits(&self.tenants, &subject.tenant)
            && fits(&self.environments, &subject.environment)
            && labels_fit()
    }
}

/// An empty list accepts everything; otherwise the value must be in it.
fn fits<T: PartialEq>(allowed: &[T], value: &T) -> bool {
    allowed.is_empty() || allowed.contains(value)
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the rule id is empty: give every rule a unique `id`".into());
    }
    if id.chars().count() > MAX_ID_LEN {
        return Err("the rule id is longer than 128 characters".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if !id.chars().all(allowed) {
        return Err("a rule id uses only ASCII letters, digits, `-`, `_`, `.` and `:`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::ApprovalScope;

    fn rule(effect: Effect) -> Rule {
        Rule {
            id: "r1".into(),
            effect,
            reason: "because".into(),
            principal: PrincipalMatch::default(),
            actions: vec![ActionPattern::new("*").unwrap()],
            resources: vec![ResourcePattern::new("**").unwrap()],
            severities: Vec::new(),
            when: Conditions::default(),
            approval: None,
        }
    }

    #[test]
    fn approval_must_come_with_require_approval_only() {
        assert!(rule(Effect::RequireApproval).validate().is_err());

        let mut allow = rule(Effect::Allow);
        allow.approval = Some(ApprovalRequirement {
            approvers: vec!["sre-oncall".into()],
            scope: ApprovalScope::Once,
        });
        let err = allow.validate().unwrap_err().to_string();
        assert!(err.contains("`allow`"), "{err}");

        let mut approval = rule(Effect::RequireApproval);
        approval.approval = allow.approval.clone();
        assert!(approval.validate().is_ok());
        approval.approval.as_mut().unwrap().approvers.clear();
        assert!(approval.validate().is_err());
    }

    #[test]
    fn ids_reasons_and_patterns_are_required() {
        let mut r = rule(Effect::Allow);
        r.id = "has space".into();
        assert!(r.validate().is_err());
        r.id = String::new();
        assert!(r.validate().is_err());

        let mut r = rule(Effect::Deny);
        r.reason = "  ".into();
        assert!(r.validate().is_err());

        let mut r = rule(Effect::Deny);
        r.actions.clear();
        assert!(r.validate().unwrap_err().to_string().contains("`actions`"));

        let mut r = rule(Effect::Deny);
        r.resources.clear();
        assert!(r.validate().is_err());
    }

    #[test]
    fn conditions_look_only_at_what_they_name() {
        use crate::request::RequestContext;

        let context = RequestContext {
            change_ticket: Some("   ".into()),
            ..RequestContext::default()
        };
        let needs_ticket = Conditions {
            change_ticket: Some(true),
            ..Conditions::default()
        };
        assert!(!needs_ticket.holds(&context), "a blank ticket is no ticket");
        assert!(Conditions::default().holds(&context));
    }
}

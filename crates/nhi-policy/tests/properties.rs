//! Invariants of deciding, checked over generated rule sets and requests: the index never
//! changes a decision, order never matters, adding a rule only moves a decision in the
//! direction of its effect, a deny aimed at someone else changes nothing for this
//! subject, and a condition that cannot be checked never grants.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use nhi_core::{IdentityKind, RiskTier, Severity, Timestamp};
use nhi_policy::{
    ActionPattern, ApprovalRequirement, ApprovalScope, Conditions, Decision, Effect, PolicyEngine,
    PolicyRequest, PrincipalMatch, RequestContext, ResourcePattern, Rule, RuleSet, Subject, Truth,
};
use proptest::prelude::*;
use proptest::sample::select;

const ACTIONS: &[&str] = &[
    "deployment.restart",
    "deployment.scale",
    "health.read",
    "logs.read",
];
const ACTION_PATTERNS: &[&str] = &[
    "deployment.restart",
    "health.read",
    "logs.read",
    "secrets.read",
    "*",
    "deployment.*",
    "*.read",
    "DEPLOYMENT.RESTART",
    "deploy*",
    "?ealth.read",
    "Logs.*",
];
const RESOURCES: &[&str] = &[
    "k8s:prod/payments/api",
    "k8s:prod/api",
    "k8s:staging/api",
    "db:orders",
    "db:Orders",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "k8s:prod/api",
    "db:orders",
    "**",
    "k8s:prod/*",
    "k8s:prod/**",
    "k8s:*/api",
    "db:*",
    "k8s:**/api",
    "db:?rders",
    "DB:orders",
];
const IDENTITIES: &[&str] = &["restart-agent", "report-bot", "deploy-runner"];
const TEAMS: &[&str] = &["sre", "payments"];
const TENANTS: &[&str] = &["acme", "globex"];
const ENVIRONMENTS: &[&str] = &["production", "staging"];
const SEVERITIES: &[Severity] = &[Severity::Read, Severity::Write, Severity::Destructive];

fn some_of<T: Clone + std::fmt::Debug + 'static>(
    items: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    prop::sample::subsequence(items, 0..=2)
}

fn names<T: std::str::FromStr>(items: Vec<&str>) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    items
        .into_iter()
        .map(|item| item.parse().unwrap())
        .collect()
}

fn principal() -> impl Strategy<Value = PrincipalMatch> {
    (
        (some_of(IDENTITIES), some_of(IdentityKind::ALL)),
        some_of(TEAMS),
        some_of(TENANTS),
        some_of(RiskTier::ALL),
        some_of(ENVIRONMENTS),
        prop::option::weighted(0.2, select(vec!["remediation", "reporting"])),
    )
        .prop_map(
            |((identities, kinds), teams, tenants, risk_tiers, environments, purpose)| {
                PrincipalMatch {
                    identities: names(identities),
                    kinds,
                    teams: names(teams),
                    tenants: names(tenants),
                    risk_tiers,
                    environments: names(environments),
                    labels: purpose
                        .map(|p| ("purpose".to_owned(), p.to_owned()))
                        .into_iter()
                        .collect(),
                }
            },
        )
}

fn condition() -> impl Strategy<Value = Conditions> {
    let flag = || prop::option::weighted(0.25, any::<bool>());
    let hours = prop::option::weighted(0.2, select(vec!["08:00-18:00", "22:00-06:00"]));
    let max_age = prop::option::weighted(0.2, select(vec![60_u64, 900]));
    (flag(), flag(), flag(), hours, max_age).prop_map(
        |(incident, workflow, change_ticket, hours, max_age)| Conditions {
            incident,
            workflow,
            change_ticket,
            hours: hours.map(|h| h.parse().unwrap()),
            max_token_age: max_age.map(Duration::from_secs),
            ..Conditions::default()
        },
    )
}

fn rule_with(effect: impl Strategy<Value = Effect>) -> impl Strategy<Value = Rule> {
    (
        effect,
        principal(),
        prop::sample::subsequence(ACTION_PATTERNS, 1..=2),
        prop::sample::subsequence(RESOURCE_PATTERNS, 1..=2),
        some_of(SEVERITIES),
        condition(),
    )
        .prop_map(
            |(effect, principal, actions, resources, severities, when)| Rule {
                id: String::new(),
                effect,
                reason: format!("{effect} by a generated rule"),
                principal,
                actions: actions
                    .iter()
                    .map(|p| ActionPattern::new(p).unwrap())
                    .collect(),
                resources: resources
                    .iter()
                    .map(|p| ResourcePattern::new(p).unwrap())
                    .collect(),
                severities,
                when,
                approval: (effect == Effect::RequireApproval).then(|| ApprovalRequirement {
                    approvers: vec!["sre-oncall".into()],
                    scope: ApprovalScope::Once,
                }),
            },
        )
}

fn any_effect() -> impl Strategy<Value = Effect> {
    select(vec![Effect::Allow, Effect::Deny, Effect::RequireApproval])
}

/// Up to 12 rules with distinct, randomly ordered ids.
fn rules() -> impl Strategy<Value = Vec<Rule>> {
    prop::collection::vec((rule_with(any_effect()), any::<u16>()), 0..12).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, (mut rule, tag))| {
                rule.id = format!("r{tag:05}-{i}");
                rule
            })
            .collect()
    })
}

/// Up to 40 rules, each filed by the index under a different principal attribute: its
/// identities, else its teams, else its tenants, else its kinds, else under anyone. Half
/// of them cover every action, so only the principal narrows them.
fn principal_rules() -> impl Strategy<Value = Vec<Rule>> {
    let rule = (rule_with(any_effect()), 0_usize..5, any::<bool>());
    prop::collection::vec(rule, 0..40).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, (mut rule, dropped, any_action))| {
                rule.id = format!("p{i:03}");
                let principal = &mut rule.principal;
                // drop the first `dropped` of identities, teams, tenants, kinds
                if dropped > 0 {
                    principal.identities.clear();
                }
                if dropped > 1 {
                    principal.teams.clear();
                }
                if dropped > 2 {
                    principal.tenants.clear();
                }
                if dropped > 3 {
                    principal.kinds.clear();
                }
                if any_action {
                    rule.actions = vec![ActionPattern::new("*").unwrap()];
                }
                rule
            })
            .collect()
    })
}

fn request() -> impl Strategy<Value = PolicyRequest> {
    (
        (
            (select(IDENTITIES), select(IdentityKind::ALL)),
            prop::option::of(select(TEAMS)),
            select(TENANTS),
        ),
        (
            select(RiskTier::ALL),
            select(ENVIRONMENTS),
            prop::option::of(select(vec!["remediation", "reporting"])),
        ),
        (select(ACTIONS), select(RESOURCES), select(SEVERITIES)),
        (
            (any::<bool>(), any::<bool>(), any::<bool>()),
            prop::option::of(0_u64..86_400 * 7),
            prop::option::of(0_u64..2000),
        ),
    )
        .prop_map(|(who, where_, what, context)| {
            let ((id, kind), team, tenant) = who;
            let (risk_tier, environment, purpose) = where_;
            let subject = Subject {
                id: id.parse().unwrap(),
                kind,
                team: team.map(|t| t.parse().unwrap()),
                tenant: tenant.parse().unwrap(),
                risk_tier,
                environment: environment.parse().unwrap(),
                labels: purpose
                    .map(|p| ("purpose".to_owned(), p.to_owned()))
                    .into_iter()
                    .collect(),
            };
            let ((incident, workflow, ticket), time, age) = context;
            let context = RequestContext {
                incident: incident.then(|| "INC-1".parse().unwrap()),
                workflow: workflow.then(|| "run-7".parse().unwrap()),
                change_ticket: ticket.then(|| "CHG-1".to_owned()),
                time: time.map(|t| Timestamp::from_unix_secs(1_767_225_600 + t)),
                token_age: age.map(Duration::from_secs),
                ..RequestContext::default()
            };
            common::ask(subject, what.0, what.1, what.2).with_context(context)
        })
}

/// The documented semantics, computed by testing every rule in turn: a deny or approval
/// rule that cannot be checked counts as a deny, an allow rule that cannot be checked
/// does not count.
fn scan(set: &RuleSet, request: &PolicyRequest) -> (Effect, Option<String>, Vec<String>) {
    let mut sure = Vec::new();
    let mut unchecked = Vec::new();
    for rule in set.rules() {
        match (rule.evaluate(request), rule.effect) {
            (Truth::Holds, _) => sure.push(rule),
            (Truth::Unknown, Effect::Deny | Effect::RequireApproval) => unchecked.push(rule),
            _ => {}
        }
    }
    let mut ids: Vec<String> = sure
        .iter()
        .chain(&unchecked)
        .map(|r| r.id.clone())
        .collect();
    ids.sort();
    let first = |effect: Effect| {
        sure.iter()
            .filter(|r| r.effect == effect)
            .map(|r| &r.id)
            .min()
    };
    if let Some(id) = first(Effect::Deny) {
        return (Effect::Deny, Some(id.clone()), ids);
    }
    if let Some(id) = unchecked.iter().map(|r| &r.id).min() {
        return (Effect::Deny, Some(id.clone()), ids);
    }
    for effect in [Effect::RequireApproval, Effect::Allow] {
        if let Some(id) = first(effect) {
            return (effect, Some(id.clone()), ids);
        }
    }
    (Effect::Deny, None, ids)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_index_never_changes_a_decision(rules in rules(), request in request()) {
        let set = RuleSet::from_rules(rules).unwrap();
        let decision = set.decide(&request);
        let (effect, rule_id, matched) = scan(&set, &request);
        prop_assert_eq!(decision.effect, effect);
        prop_assert_eq!(decision.explicit, rule_id.is_some());
        prop_assert_eq!(decision.rule_id.as_deref(), rule_id.as_deref());
        prop_assert_eq!(common::ids(&decision.matched), matched);
        prop_assert_eq!(decision.approval.is_some(), effect == Effect::RequireApproval);
    }

    #[test]
    fn the_principal_index_never_changes_a_decision(
        rules in principal_rules(),
        request in request(),
    ) {
        let set = RuleSet::from_rules(rules).unwrap();
        let decision = set.decide(&request);
        let (effect, rule_id, matched) = scan(&set, &request);
        prop_assert_eq!(decision.effect, effect);
        prop_assert_eq!(decision.rule_id.as_deref(), rule_id.as_deref());
        prop_assert_eq!(common::ids(&decision.matched), matched);
    }

    #[test]
    fn rule_order_never_matters(
        (rules, shuffled) in rules().prop_flat_map(|r| (Just(r.clone()), Just(r).prop_shuffle())),
        request in request(),
    ) {
        let one = RuleSet::from_rules(rules).unwrap().decide(&request);
        let other = RuleSet::from_rules(shuffled).unwrap().decide(&request);
        prop_assert_eq!(Decision { id: one.id, ..other }, one);
    }

    #[test]
    fn adding_an_allow_never_takes_an_allow_away_or_lifts_a_deny(
        rules in rules(),
        extra in rule_with(Just(Effect::Allow)),
        request in request(),
    ) {
        let before = RuleSet::from_rules(rules.clone()).unwrap().decide(&request);
        let after = with_extra(rules, extra).decide(&request);
        if before.is_allowed() {
            prop_assert!(after.is_allowed());
        }
        if before.effect == Effect::Deny && before.explicit {
            prop_assert_eq!(after.effect, Effect::Deny);
            prop_assert_eq!(after.rule_id, before.rule_id);
        }
    }

    #[test]
    fn adding_a_deny_never_allows_more(
        rules in rules(),
        extra in rule_with(Just(Effect::Deny)),
        request in request(),
    ) {
        let before = RuleSet::from_rules(rules.clone()).unwrap().decide(&request);
        let after = with_extra(rules, extra).decide(&request);
        if before.effect == Effect::Deny {
            prop_assert_eq!(after.effect, Effect::Deny);
        }
        if after.is_allowed() {
            prop_assert!(before.is_allowed());
        }
    }

    #[test]
    fn a_deny_aimed_at_other_identities_changes_nothing_for_this_one(
        rules in rules(),
        extra in rule_with(Just(Effect::Deny)),
        others in prop::sample::subsequence(IDENTITIES, 1..=2),
        request in request(),
    ) {
        let mut extra = extra;
        let others: Vec<&str> = others
            .into_iter()
            .filter(|id| *id != request.subject.id.as_str())
            .collect();
        prop_assume!(!others.is_empty());
        extra.principal.identities = names(others);
        let before = RuleSet::from_rules(rules.clone()).unwrap().decide(&request);
        let after = with_extra(rules, extra).decide(&request);
        prop_assert_eq!(before.effect, after.effect);
        prop_assert_eq!(before.rule_id, after.rule_id);
        prop_assert_eq!(before.deciding, after.deciding);
        prop_assert_eq!(before.matched, after.matched);
    }

    #[test]
    fn an_unchecked_allow_grants_nothing_and_an_unchecked_deny_refuses(
        rules in rules(),
        extra in rule_with(any_effect()),
        request in request(),
    ) {
        let mut context = request.context.clone();
        context.time = None;
        let bare = request.with_context(context);
        let mut extra = extra;
        extra.when.hours = Some("08:00-18:00".parse().unwrap());
        let unchecked = extra.evaluate(&bare) == Truth::Unknown;
        let effect = extra.effect;

        let before = RuleSet::from_rules(rules.clone()).unwrap().decide(&bare);
        let after = with_extra(rules, extra).decide(&bare);
        if effect == Effect::Allow {
            prop_assert_eq!(before.effect, after.effect);
            prop_assert_eq!(before.rule_id, after.rule_id);
        } else if unchecked {
            prop_assert_eq!(after.effect, Effect::Deny);
            prop_assert!(after.explicit);
            prop_assert!(common::ids(&after.deciding).contains(&"added"));
        }
    }
}

fn with_extra(mut rules: Vec<Rule>, mut extra: Rule) -> RuleSet {
    extra.id = "added".into();
    rules.push(extra);
    RuleSet::from_rules(rules).unwrap()
}

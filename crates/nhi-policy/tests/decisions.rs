//! How a rule set decides: the three effects, precedence, matching and conditions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{ask, in_incident, rule_toml, sre_agent};
use nhi_core::{IdentityKind, RiskTier, Severity};
use nhi_policy::{
    ActionPattern, ApprovalScope, Conditions, Decision, Effect, PolicyEngine, PrincipalMatch,
    ResourcePattern, Rule, RuleSet,
};

fn policy(rules: &[String]) -> RuleSet {
    RuleSet::from_toml_str(&rules.concat()).unwrap()
}

fn restart() -> nhi_policy::PolicyRequest {
    ask(
        sre_agent(),
        "deployment.restart",
        "k8s:prod/payments/api",
        Severity::Destructive,
    )
}

#[test]
fn a_matching_allow_allows() {
    let set = policy(&[rule_toml(
        "allow-restart",
        "allow",
        r#"["deployment.restart"]"#,
        r#"["k8s:prod/**"]"#,
        "",
    )]);
    let decision = set.decide(&restart());
    assert!(decision.is_allowed());
    assert!(decision.explicit);
    assert_eq!(decision.rule_id.as_deref(), Some("allow-restart"));
    assert_eq!(&*decision.reason, "reason of allow-restart");
    assert_eq!(decision.approval, None);
}

#[test]
fn a_matching_deny_denies() {
    let set = policy(&[rule_toml(
        "no-restart",
        "deny",
        r#"["deployment.restart"]"#,
        r#"["**"]"#,
        "",
    )]);
    let decision = set.decide(&restart());
    assert_eq!(decision.effect, Effect::Deny);
    assert!(decision.explicit);
    assert_eq!(decision.rule_id.as_deref(), Some("no-restart"));
}

#[test]
fn a_matching_approval_rule_names_the_approvers() {
    let set = policy(&[rule_toml(
        "approve-restart",
        "require-approval",
        r#"["deployment.*"]"#,
        r#"["k8s:**"]"#,
        "",
    )]);
    let decision = set.decide(&restart());
    assert!(decision.needs_approval());
    assert!(!decision.is_allowed());
    let approval = decision.approval.unwrap();
    assert_eq!(approval.approvers, vec!["sre-oncall".to_owned()]);
    assert_eq!(approval.scope, ApprovalScope::Once);
}

#[test]
fn nothing_matching_is_the_implicit_deny() {
    let set = policy(&[rule_toml(
        "reads",
        "allow",
        r#"["health.read"]"#,
        r#"["**"]"#,
        "",
    )]);
    let decision = set.decide(&restart());
    let implicit = Decision::default_deny();
    assert_eq!(
        decision,
        Decision {
            id: decision.id,
            ..implicit
        }
    );
    assert_ne!(decision.id, implicit.id, "each decision has its own id");
    assert!(decision.deciding.is_empty());
    assert_eq!(&*decision.reason, "no rule allows this action");
    assert!(RuleSet::default().decide(&restart()).effect == Effect::Deny);
}

#[test]
fn deny_overrides_allow_in_either_order() {
    let allow = rule_toml("a-allow", "allow", r#"["*"]"#, r#"["**"]"#, "");
    let deny = rule_toml(
        "z-deny",
        "deny",
        r#"["deployment.restart"]"#,
        r#"["k8s:prod/**"]"#,
        "",
    );
    let approve = rule_toml("m-approve", "require-approval", r#"["*"]"#, r#"["**"]"#, "");

    for rules in [
        vec![allow.clone(), deny.clone(), approve.clone()],
        vec![deny.clone(), approve.clone(), allow.clone()],
        vec![approve.clone(), allow.clone(), deny.clone()],
    ] {
        let decision = policy(&rules).decide(&restart());
        assert_eq!(decision.effect, Effect::Deny);
        assert_eq!(decision.rule_id.as_deref(), Some("z-deny"));
        assert_eq!(
            common::ids(&decision.matched),
            ["a-allow", "m-approve", "z-deny"]
        );
    }

    // Without the deny, approval outranks allow.
    let decision = policy(&[allow, approve]).decide(&restart());
    assert_eq!(decision.effect, Effect::RequireApproval);
}

#[test]
fn the_deciding_rule_is_the_smallest_id_of_the_winning_effect() {
    let set = policy(&[
        rule_toml("deny-b", "deny", r#"["*"]"#, r#"["**"]"#, ""),
        rule_toml(
            "deny-a",
            "deny",
            r#"["deployment.restart"]"#,
            r#"["**"]"#,
            "",
        ),
    ]);
    assert_eq!(set.decide(&restart()).rule_id.as_deref(), Some("deny-a"));
    assert_eq!(set.rules()[0].id, "deny-a");
}

#[test]
fn each_principal_field_narrows_the_match() {
    let cases = [
        (
            "identities",
            r#"identities = ["other-agent"]"#,
            r#"identities = ["restart-agent"]"#,
        ),
        (
            "kinds",
            r#"kinds = ["bot", "ci-runner"]"#,
            r#"kinds = ["ai-agent"]"#,
        ),
        (
            "teams",
            r#"teams = ["payments"]"#,
            r#"teams = ["sre", "payments"]"#,
        ),
        (
            "tenants",
            r#"tenants = ["globex"]"#,
            r#"tenants = ["acme"]"#,
        ),
        (
            "risk_tiers",
            r#"risk_tiers = ["high", "critical"]"#,
            r#"risk_tiers = ["medium"]"#,
        ),
        (
            "environments",
            r#"environments = ["staging"]"#,
            r#"environments = ["production"]"#,
        ),
        (
            "labels",
            r#"labels = { purpose = "remediation" }"#,
            r#"labels = {}"#,
        ),
        (
            "severities",
            r#"severities = ["read"]"#,
            r#"severities = ["write", "destructive"]"#,
        ),
    ];
    for (field, miss, hit) in cases {
        let missing = policy(&[rule_toml("r", "allow", r#"["*"]"#, r#"["**"]"#, miss)]);
        assert!(
            !missing.decide(&restart()).is_allowed(),
            "{field} should not match"
        );
        let matching = policy(&[rule_toml("r", "allow", r#"["*"]"#, r#"["**"]"#, hit)]);
        assert!(
            matching.decide(&restart()).is_allowed(),
            "{field} should match"
        );
    }
}

#[test]
fn labels_must_be_present_and_equal() {
    let set = policy(&[rule_toml(
        "r",
        "allow",
        r#"["*"]"#,
        r#"["**"]"#,
        r#"labels = { purpose = "remediation" }"#,
    )]);
    let mut subject = sre_agent();
    subject.labels.insert("purpose".into(), "reporting".into());
    let request = ask(subject.clone(), "health.read", "k8s:prod/x", Severity::Read);
    assert!(!set.decide(&request).is_allowed());

    subject
        .labels
        .insert("purpose".into(), "remediation".into());
    subject.labels.insert("extra".into(), "ignored".into());
    let request = ask(subject, "health.read", "k8s:prod/x", Severity::Read);
    assert!(set.decide(&request).is_allowed());
}

#[test]
fn a_subject_without_a_team_does_not_match_a_team_rule() {
    let set = policy(&[rule_toml(
        "r",
        "allow",
        r#"["*"]"#,
        r#"["**"]"#,
        r#"teams = ["sre"]"#,
    )]);
    let mut subject = sre_agent();
    subject.team = None;
    let request = ask(subject, "deployment.restart", "k8s:prod/a", Severity::Write);
    assert!(!set.decide(&request).is_allowed());
}

#[test]
fn a_deny_aimed_at_another_team_leaves_this_one_alone() {
    let set = policy(&[
        rule_toml("allow-all", "allow", r#"["*"]"#, r#"["**"]"#, ""),
        rule_toml(
            "deny-payments",
            "deny",
            r#"["*"]"#,
            r#"["**"]"#,
            r#"teams = ["payments"]"#,
        ),
    ]);
    let decision = set.decide(&restart());
    assert!(decision.is_allowed());
    assert_eq!(common::ids(&decision.matched), ["allow-all"]);

    let mut payments = sre_agent();
    payments.team = Some("payments".parse().unwrap());
    let request = ask(
        payments,
        "deployment.restart",
        "k8s:prod/payments/api",
        Severity::Write,
    );
    assert_eq!(set.decide(&request).effect, Effect::Deny);
}

#[test]
fn single_star_does_not_cross_a_slash_and_double_star_does() {
    let set = policy(&[rule_toml("r", "allow", r#"["*"]"#, r#"["k8s:prod/*"]"#, "")]);
    let shallow = ask(sre_agent(), "logs.read", "k8s:prod/api", Severity::Read);
    let deep = ask(
        sre_agent(),
        "logs.read",
        "k8s:prod/payments/api",
        Severity::Read,
    );
    assert!(set.decide(&shallow).is_allowed());
    assert!(!set.decide(&deep).is_allowed());

    let set = policy(&[rule_toml(
        "r",
        "allow",
        r#"["*"]"#,
        r#"["k8s:prod/**"]"#,
        "",
    )]);
    assert!(set.decide(&deep).is_allowed());
}

#[test]
fn a_wildcard_in_the_middle_does_not_match_everything() {
    let set = policy(&[rule_toml(
        "r",
        "allow",
        r#"["deployment.*"]"#,
        r#"["k8s:prod/*/api"]"#,
        "",
    )]);
    let hit = ask(
        sre_agent(),
        "deployment.scale",
        "k8s:prod/payments/api",
        Severity::Write,
    );
    assert!(set.decide(&hit).is_allowed());
    for (action, resource) in [
        ("deployment.scale", "k8s:prod/payments/db"),
        ("deployment.scale", "k8s:staging/payments/api"),
        ("secrets.read", "k8s:prod/payments/api"),
        ("deploymentx.scale", "k8s:prod/payments/api"),
    ] {
        let request = ask(sre_agent(), action, resource, Severity::Write);
        assert!(!set.decide(&request).is_allowed(), "{action} on {resource}");
    }
}

#[test]
fn actions_ignore_case_and_resources_do_not() {
    // A deny written in another case still catches the action.
    let set = policy(&[
        rule_toml("allow-all", "allow", r#"["*"]"#, r#"["**"]"#, ""),
        rule_toml(
            "deny-restart",
            "deny",
            r#"["Deployment.RESTART"]"#,
            r#"["k8s:prod/**"]"#,
            "",
        ),
    ]);
    let shouted = ask(
        sre_agent(),
        "DEPLOYMENT.Restart",
        "k8s:prod/api",
        Severity::Write,
    );
    assert_eq!(set.decide(&shouted).effect, Effect::Deny);
    let wildcard_deny = policy(&[
        rule_toml("allow-all", "allow", r#"["*"]"#, r#"["**"]"#, ""),
        rule_toml(
            "deny-deploys",
            "deny",
            r#"["DEPLOYMENT.*"]"#,
            r#"["**"]"#,
            "",
        ),
    ]);
    assert_eq!(wildcard_deny.decide(&shouted).effect, Effect::Deny);

    // Resources are case-sensitive.
    let set = policy(&[rule_toml("r", "allow", r#"["*"]"#, r#"["db:Orders"]"#, "")]);
    let lower = ask(sre_agent(), "rows.read", "db:orders", Severity::Read);
    let exact = ask(sre_agent(), "rows.read", "db:Orders", Severity::Read);
    assert!(!set.decide(&lower).is_allowed());
    assert!(set.decide(&exact).is_allowed());
}

#[test]
fn incident_conditions_require_presence_or_absence() {
    let set = policy(&[
        rule_toml(
            "in-incident",
            "allow",
            r#"["*"]"#,
            r#"["**"]"#,
            "[rules.when]\nincident = true",
        ),
        rule_toml(
            "quiet",
            "require-approval",
            r#"["*"]"#,
            r#"["**"]"#,
            "[rules.when]\nincident = false",
        ),
    ]);
    let quiet = set.decide(&restart());
    assert_eq!(quiet.effect, Effect::RequireApproval);
    assert_eq!(common::ids(&quiet.matched), ["quiet"]);

    let during = set.decide(&in_incident(restart()));
    assert!(during.is_allowed());
    assert_eq!(common::ids(&during.matched), ["in-incident"]);
}

#[test]
fn change_ticket_condition() {
    let set = policy(&[rule_toml(
        "r",
        "allow",
        r#"["*"]"#,
        r#"["**"]"#,
        "[rules.when]\nchange_ticket = true",
    )]);
    assert!(!set.decide(&restart()).is_allowed());
    let mut with_ticket = restart();
    with_ticket.context.change_ticket = Some("CHG-7".into());
    assert!(set.decide(&with_ticket).is_allowed());
}

#[test]
fn rules_built_in_code_decide_like_rules_read_from_text() {
    let rule = Rule {
        id: "code-rule".into(),
        effect: Effect::Allow,
        reason: "built in code".into(),
        principal: PrincipalMatch {
            kinds: vec![IdentityKind::AiAgent],
            risk_tiers: vec![RiskTier::Medium],
            ..PrincipalMatch::default()
        },
        actions: vec![ActionPattern::new("Deployment.Restart").unwrap()],
        resources: vec![ResourcePattern::new("k8s:prod/**").unwrap()],
        severities: vec![Severity::Destructive],
        when: Conditions::default(),
        approval: None,
    };
    let set = RuleSet::from_rules(vec![rule.clone()]).unwrap();
    assert_eq!(set.decide(&restart()).rule_id.as_deref(), Some("code-rule"));

    let twice = RuleSet::from_rules(vec![rule.clone(), rule]).unwrap_err();
    assert!(twice.to_string().contains("own id"), "{twice}");
}

#[test]
fn hostile_patterns_decide_without_panicking() {
    let stars = "*a".repeat(900);
    let set = policy(&[
        rule_toml(
            "stars",
            "deny",
            &format!("[\"{stars}\"]"),
            &format!("[\"{stars}b\"]"),
            "",
        ),
        rule_toml(
            "globstars",
            "allow",
            r#"["*"]"#,
            &format!("[\"{}\"]", "**?".repeat(300)),
            "",
        ),
    ]);
    let long_path = format!("k8s:{}", "a/".repeat(500) + "a");
    let request = ask(sre_agent(), &"a".repeat(128), &long_path, Severity::Read);
    let decision = set.decide(&request);
    assert_eq!(common::ids(&decision.matched), ["globstars"]);
    assert!(decision.is_allowed());
}

#[test]
fn engines_work_behind_shared_pointers() {
    let set = policy(&[rule_toml("r", "allow", r#"["*"]"#, r#"["**"]"#, "")]);
    let shared: std::sync::Arc<dyn PolicyEngine> = std::sync::Arc::new(set);
    assert!(shared.decide(&restart()).is_allowed());
}

//! Conditions on typed context: time window, weekdays, token age, workflow state,
//! attributes; and what happens when the context lacks what a condition needs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use nhi_core::{Severity, Timestamp};
use nhi_policy::{ContextValue, Decision, Effect, PolicyEngine, RequestContext, RuleSet};

use common::{ask, rule_toml, sre_agent};

fn policy(rules: &[String]) -> RuleSet {
    RuleSet::from_toml_str(&rules.concat()).unwrap()
}

fn restart_with(context: RequestContext) -> nhi_policy::PolicyRequest {
    ask(
        sre_agent(),
        "deployment.restart",
        "k8s:prod/payments/api",
        Severity::Destructive,
    )
    .with_context(context)
}

fn at(text: &str) -> Option<Timestamp> {
    Some(text.parse().unwrap())
}

const RESTART: &str = r#"["deployment.restart"]"#;
const PROD: &str = r#"["k8s:prod/**"]"#;

#[test]
fn a_time_window_allows_inside_and_not_outside() {
    let set = policy(&[rule_toml(
        "office-hours",
        "allow",
        RESTART,
        PROD,
        "[rules.when]\nhours = \"08:00-18:00\"\nweekdays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
    )]);
    let monday_noon = RequestContext {
        time: at("2026-03-02T12:00:00Z"),
        ..RequestContext::default()
    };
    assert!(set.decide(&restart_with(monday_noon)).is_allowed());

    let monday_night = RequestContext {
        time: at("2026-03-02T23:00:00Z"),
        ..RequestContext::default()
    };
    assert!(!set.decide(&restart_with(monday_night)).is_allowed());

    let sunday_noon = RequestContext {
        time: at("2026-03-08T12:00:00Z"),
        ..RequestContext::default()
    };
    assert!(!set.decide(&restart_with(sunday_noon)).is_allowed());
}

#[test]
fn an_allow_that_needs_the_time_grants_nothing_without_it() {
    let set = policy(&[rule_toml(
        "office-hours",
        "allow",
        RESTART,
        PROD,
        "[rules.when]\nhours = \"08:00-18:00\"",
    )]);
    let decision = set.decide(&restart_with(RequestContext::default()));
    assert_eq!(decision.effect, Effect::Deny);
    assert!(
        !decision.explicit,
        "the unchecked allow simply does not count"
    );
}

#[test]
fn a_deny_that_needs_the_time_refuses_without_it() {
    let set = policy(&[
        rule_toml("allow-restarts", "allow", RESTART, PROD, ""),
        rule_toml(
            "freeze-weekend",
            "deny",
            RESTART,
            PROD,
            "[rules.when]\nweekdays = [\"sat\", \"sun\"]",
        ),
    ]);
    let decision = set.decide(&restart_with(RequestContext::default()));
    assert_eq!(decision.effect, Effect::Deny);
    assert!(decision.explicit);
    assert_eq!(decision.rule_id.as_deref(), Some("freeze-weekend"));
    assert_eq!(&*decision.reason, Decision::UNCHECKED_REASON);

    let weekday = RequestContext {
        time: at("2026-03-04T09:00:00Z"),
        ..RequestContext::default()
    };
    assert!(set.decide(&restart_with(weekday)).is_allowed());
}

#[test]
fn an_approval_rule_that_cannot_be_checked_denies() {
    let set = policy(&[
        rule_toml("allow-restarts", "allow", RESTART, PROD, ""),
        rule_toml(
            "approve-stale-tokens",
            "require-approval",
            RESTART,
            PROD,
            "[rules.when]\nworkflow_states = [\"paused\"]",
        ),
    ]);
    let decision = set.decide(&restart_with(RequestContext::default()));
    assert_eq!(decision.effect, Effect::Deny);
    assert_eq!(common::ids(&decision.deciding), ["approve-stale-tokens"]);
    assert!(decision.approval.is_none());
}

#[test]
fn token_age_limits_grant_only_fresh_tokens() {
    let set = policy(&[rule_toml(
        "fresh-tokens",
        "allow",
        RESTART,
        PROD,
        "[rules.when]\nmax_token_age = \"15m\"",
    )]);
    let fresh = RequestContext {
        token_age: Some(Duration::from_secs(900)),
        ..RequestContext::default()
    };
    assert!(set.decide(&restart_with(fresh)).is_allowed());
    let stale = RequestContext {
        token_age: Some(Duration::from_secs(901)),
        ..RequestContext::default()
    };
    assert!(!set.decide(&restart_with(stale)).is_allowed());
}

#[test]
fn workflow_state_must_be_listed() {
    let set = policy(&[rule_toml(
        "approved-runs",
        "allow",
        RESTART,
        PROD,
        "[rules.when]\nworkflow = true\nworkflow_states = [\"approved\"]",
    )]);
    let context = |state: &str| RequestContext {
        workflow: Some("run-7".parse().unwrap()),
        workflow_state: Some(state.to_owned()),
        ..RequestContext::default()
    };
    assert!(set.decide(&restart_with(context("approved"))).is_allowed());
    assert!(!set.decide(&restart_with(context("Approved"))).is_allowed());
    assert!(!set.decide(&restart_with(context("draft"))).is_allowed());
}

#[test]
fn a_missing_list_never_grants_through_a_for_all_test() {
    let set = policy(&[rule_toml(
        "eu-only",
        "allow",
        RESTART,
        PROD,
        "[rules.when.attributes]\nregions = { all_in = [\"eu-west-1\"] }",
    )]);
    let missing = RequestContext::default();
    assert!(!set.decide(&restart_with(missing)).is_allowed());

    let mistyped = RequestContext {
        attributes: [("regions".to_owned(), ContextValue::Text("eu-west-1".into()))].into(),
        ..RequestContext::default()
    };
    assert!(!set.decide(&restart_with(mistyped)).is_allowed());

    let eu = RequestContext {
        attributes: [(
            "regions".to_owned(),
            ContextValue::List(vec!["eu-west-1".into()]),
        )]
        .into(),
        ..RequestContext::default()
    };
    assert!(set.decide(&restart_with(eu)).is_allowed());
}

#[test]
fn severity_narrows_a_rule() {
    let set = policy(&[
        rule_toml("allow-all", "allow", r#"["*"]"#, PROD, ""),
        rule_toml(
            "no-destruction",
            "deny",
            r#"["*"]"#,
            PROD,
            "severities = [\"destructive\"]",
        ),
    ]);
    let read = ask(sre_agent(), "health.read", "k8s:prod/api", Severity::Read);
    assert!(set.decide(&read).is_allowed());
    let decision = set.decide(&restart_with(RequestContext::default()));
    assert_eq!(decision.rule_id.as_deref(), Some("no-destruction"));
}

#[test]
fn malformed_conditions_are_refused_with_their_line() {
    let cases = [
        ("hours = \"8-18\"", "daily window"),
        ("hours = \"09:00-09:00\"", "empty"),
        ("weekdays = [\"funday\"]", "funday"),
        ("max_token_age = \"soon\"", "soon"),
        ("not_before = \"yesterday\"", "yesterday"),
        ("attributes = { \"bad key\" = { at_least = 1 } }", "bad key"),
        ("attributes = { regions = { all_of = [\"x\"] } }", "all_of"),
        ("attributes = { regions = { one_of = [] } }", "empty list"),
        ("owner = true", "owner"),
    ];
    for (line, needle) in cases {
        let text = rule_toml(
            "r",
            "allow",
            RESTART,
            PROD,
            &format!("[rules.when]\n{line}"),
        );
        let err = RuleSet::from_toml_str(&text).unwrap_err().to_string();
        assert!(err.contains(needle), "{line}: {err}");
        assert!(err.contains("line "), "{err}");
    }
}

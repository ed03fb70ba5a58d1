//! Loading Cedar text: what is refused, with what message; and hostile requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nhi_core::{Action, IdentityKind, RiskTier, Severity};
use nhi_policy::{
    ContextValue, Effect, PolicyEngine, PolicyRequest, ReloadablePolicy, RequestContext, Subject,
};
use nhi_policy_cedar::{CedarPolicy, CedarPolicyError};

fn refused(text: &str) -> String {
    CedarPolicy::from_cedar_str(text).unwrap_err().to_string()
}

fn restart() -> PolicyRequest {
    let subject = Subject {
        id: "restart-agent".parse().unwrap(),
        kind: IdentityKind::AiAgent,
        team: None,
        tenant: "acme".parse().unwrap(),
        risk_tier: RiskTier::High,
        environment: "production".parse().unwrap(),
        labels: [("purpose".to_owned(), "remediation".to_owned())].into(),
    };
    PolicyRequest::new(
        subject,
        Action::new("deployment.restart").unwrap(),
        "k8s:prod/api".parse().unwrap(),
        Severity::Destructive,
    )
}

#[test]
fn every_policy_needs_a_valid_unique_id() {
    let err = refused("permit(principal, action, resource);");
    assert!(
        err.contains("policy number 1") && err.contains("@id"),
        "{err}"
    );

    let err = refused(
        "@id(\"a\") permit(principal, action, resource);\n\
         @id(\"a\") forbid(principal, action, resource);",
    );
    assert!(
        err.contains("policy number 2") && err.contains("twice"),
        "{err}"
    );

    let err = refused("@id(\"has space\") permit(principal, action, resource);");
    assert!(err.contains("not a rule id"), "{err}");
}

#[test]
fn approval_annotations_belong_on_forbids_with_known_scopes() {
    let err = refused("@id(\"p\") @approval(\"oncall\") permit(principal, action, resource);");
    assert!(err.contains("permit"), "{err}");

    let err = refused(
        "@id(\"f\") @approval(\"oncall\") @scope(\"forever\") forbid(principal, action, resource);",
    );
    assert!(err.contains("forever"), "{err}");

    let err = refused("@id(\"f\") @approval(\" , \") forbid(principal, action, resource);");
    assert!(err.contains("no approver"), "{err}");
}

#[test]
fn syntax_errors_report_their_line() {
    let err = CedarPolicy::from_cedar_str(
        "@id(\"ok\") permit(principal, action, resource);\n\n@id(\"bad\") permit(principal, action resource);",
    )
    .unwrap_err();
    match err {
        CedarPolicyError::Parse { line, .. } => assert_eq!(line, 3),
        other => panic!("{other}"),
    }
}

#[test]
fn templates_are_refused() {
    let err = refused("@id(\"t\") permit(principal == ?principal, action, resource);");
    assert!(err.contains("templates"), "{err}");
}

#[test]
fn files_are_named_in_errors_and_reload_keeps_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.cedar");
    std::fs::write(&path, "@id(\"all\") permit(principal, action, resource);").unwrap();
    let policy = ReloadablePolicy::new(CedarPolicy::from_file(&path).unwrap());
    assert!(policy.decide(&restart()).is_allowed());

    std::fs::write(&path, "permit(principal, action, resource);").unwrap();
    let err = policy
        .reload_with(|| CedarPolicy::from_file(&path))
        .unwrap_err()
        .to_string();
    assert!(err.contains("policy.cedar"), "{err}");
    assert!(policy.decide(&restart()).is_allowed(), "the old set stays");

    let missing = CedarPolicy::from_file(dir.path().join("absent.cedar")).unwrap_err();
    assert!(matches!(missing, CedarPolicyError::Read { .. }));
}

#[test]
fn reading_what_the_request_lacks_in_a_forbid_denies_and_in_a_permit_grants_nothing() {
    let policy = CedarPolicy::from_cedar_str(
        "@id(\"team-permit\") permit(principal, action, resource) when { principal.team == \"sre\" };\n\
         @id(\"all\") permit(principal, action, resource);\n\
         @id(\"label-forbid\") forbid(principal, action, resource) when { principal.labels.owner == \"x\" };",
    )
    .unwrap();
    let decision = policy.decide(&restart());
    assert_eq!(decision.effect, Effect::Deny);
    let deciding: Vec<&str> = decision.deciding.iter().map(|id| &**id).collect();
    assert_eq!(deciding, ["label-forbid"]);
}

#[test]
fn hostile_attribute_values_decide_without_panicking() {
    let policy = CedarPolicy::from_cedar_str(
        "@id(\"all\") permit(principal, action, resource) when { context.attributes.n > 0 };",
    )
    .unwrap();
    let context = RequestContext {
        attributes: [
            ("n".to_owned(), ContextValue::Number(i64::MAX)),
            (
                "weird key\u{0}".to_owned(),
                ContextValue::Text("\"}); forbid".into()),
            ),
            (
                "list".to_owned(),
                ContextValue::List(vec!["\u{202e}".into(); 100]),
            ),
        ]
        .into(),
        change_ticket: Some("x".repeat(10_000)),
        ..RequestContext::default()
    };
    let decision = policy.decide(&restart().with_context(context));
    assert_eq!(decision.effect, Effect::Allow);
}

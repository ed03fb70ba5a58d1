//! The enforcement path, step by step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{Harness, expect_denied, expect_granted, id, resource};
use nhi::audit::{Anomaly, EventKind};
use nhi::core::{Action, IncidentId, Severity};
use nhi::credentials::{CredentialProvider, CredentialSecret, IssueRequest};
use nhi::policy::ApprovalScope;
use nhi::{AccessRequest, ApprovalGrant, Stage};

#[tokio::test]
async fn an_allowed_action_is_granted_and_its_outcome_recorded() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    expect_granted(h.read_health(&token.secret).await).await;

    let events = h.events();
    let decided = events
        .iter()
        .find(|e| e.kind == EventKind::AccessDecided)
        .unwrap();
    let decision = decided.decision.as_ref().unwrap();
    assert_eq!(decision.effect, "allow");
    assert_eq!(decision.rule_id.as_deref(), Some("agents-read-health"));
    assert_eq!(decided.credential_id.as_ref(), Some(&token.credential_id));
    let done = events
        .iter()
        .find(|e| e.kind == EventKind::ActionCompleted)
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("ok"));
    assert_eq!(done.correlation_id, decided.correlation_id);
}

#[tokio::test]
async fn no_secret_reaches_the_audit_trail() {
    let h = Harness::new().await;
    let token = h.agent_token().await;
    expect_granted(h.read_health(&token.secret).await).await;
    let _ = h
        .ask(
            &token.secret,
            "secret.read",
            "vault:prod/db",
            Severity::Read,
        )
        .await;

    let trail = serde_json::to_string(&h.events()).unwrap();
    let secret = token.secret.expose_secret();
    assert!(!trail.contains(secret));
    let signature = secret.rsplit('.').next().unwrap();
    assert!(!trail.contains(signature));
}

#[tokio::test]
async fn debug_output_never_shows_the_token() {
    let h = Harness::new().await;
    let token = h.agent_token().await;
    let secret = token.secret.expose_secret().to_owned();

    let request = AccessRequest::new(
        &token.secret,
        Action::new("health.read").unwrap(),
        resource("k8s:prod/payments/api"),
        Severity::Read,
    );
    assert!(!format!("{request:?}").contains(&secret));
    assert!(!format!("{token:?}").contains(&secret));

    let outcome = h.plane.authorize(request).await.unwrap();
    assert!(!format!("{outcome:?}").contains(&secret));
    expect_granted(outcome).await;
    let denial = expect_denied(
        h.ask(&token.secret, "secret.read", "k8s:prod/db", Severity::Read)
            .await,
    );
    assert!(!format!("{denial:?} {denial}").contains(&secret));
}

#[tokio::test]
async fn an_explicit_deny_names_its_rule() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    let denial = expect_denied(
        h.ask(
            &token.secret,
            "secret.read",
            "k8s:prod/secrets/db",
            Severity::Read,
        )
        .await,
    );
    assert_eq!(denial.stage, Stage::Policy);
    assert_eq!(denial.rule_id.as_deref(), Some("no-secret-reads"));
    assert!(!denial.kill_switch);
}

#[tokio::test]
async fn nothing_matching_means_deny() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    let denial = expect_denied(
        h.ask(
            &token.secret,
            "health.read",
            "k8s:staging/api",
            Severity::Read,
        )
        .await,
    );
    assert_eq!(denial.stage, Stage::Policy);
    assert_eq!(denial.rule_id, None);
}

#[tokio::test]
async fn a_token_without_the_scope_is_refused() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    let denial = expect_denied(
        h.ask(
            &token.secret,
            "deployment.delete",
            "k8s:prod/api",
            Severity::Destructive,
        )
        .await,
    );
    assert_eq!(denial.stage, Stage::Scope);
}

#[tokio::test]
async fn an_approval_is_used_once_and_only_for_its_incident() {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    let token = h.plane.issue_credential(&agent).await.unwrap();
    let incident = IncidentId::new("INC-1").unwrap();
    let restart = |incident: &IncidentId| {
        AccessRequest::new(
            &token.secret,
            Action::new("deployment.restart").unwrap(),
            resource("k8s:prod/api"),
            Severity::Destructive,
        )
        .incident(incident.clone())
    };

    let held = expect_denied(h.plane.authorize(restart(&incident)).await.unwrap());
    assert_eq!(held.stage, Stage::Approval);
    assert_eq!(
        held.approval.as_ref().unwrap().approvers,
        vec!["sre-oncall".to_owned()]
    );

    let grant = ApprovalGrant {
        identity: agent.clone(),
        action: Action::new("deployment.restart").unwrap(),
        resource: resource("k8s:prod/api"),
        incident: Some(incident.clone()),
        approver: "priya".into(),
        scope: ApprovalScope::OncePerIncident,
        expires_at: h.clock.now_plus(Duration::from_secs(600)),
    };
    h.plane.grant_approval(grant).await.unwrap();

    let other = IncidentId::new("INC-2").unwrap();
    let wrong_incident = expect_denied(h.plane.authorize(restart(&other)).await.unwrap());
    assert_eq!(wrong_incident.stage, Stage::Approval);

    match h.plane.authorize(restart(&incident)).await.unwrap() {
        nhi::AccessOutcome::Granted(permit) => {
            assert_eq!(permit.approval.as_ref().unwrap().approver, "priya");
            permit
                .complete(nhi::ActionReport::new("restarted"))
                .await
                .unwrap();
        }
        nhi::AccessOutcome::Denied(denial) => panic!("approved restart refused: {denial}"),
    }
    let second = expect_denied(h.plane.authorize(restart(&incident)).await.unwrap());
    assert_eq!(
        second.stage,
        Stage::Approval,
        "the approval was for one restart"
    );
    assert!(
        h.events()
            .iter()
            .any(|e| e.kind == EventKind::ApprovalConsumed)
    );
}

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused_at_authentication() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    let mut forged = token.secret.expose_secret().to_owned();
    forged.insert(forged.len() / 2, 'A');
    let denial = expect_denied(h.read_health(&CredentialSecret::new(forged)).await);
    assert_eq!(denial.stage, Stage::Authenticate);
    assert!(denial.anomalies.contains(&Anomaly::InvalidCredential));

    let denial = expect_denied(h.read_health(&CredentialSecret::new("not a token")).await);
    assert_eq!(denial.stage, Stage::Authenticate);

    h.advance(Duration::from_secs(6 * 60));
    let denial = expect_denied(h.read_health(&token.secret).await);
    assert_eq!(denial.stage, Stage::Authenticate);
    assert!(denial.reason.contains("expired"), "{}", denial.reason);
}

/// A token signed by the control plane's own issuer, bypassing the registry's checks,
/// as a leaked signing key or a confused issuer would produce.
async fn token_straight_from_the_issuer(
    h: &Harness,
    identity: &str,
    tenant: &str,
) -> CredentialSecret {
    let request = IssueRequest {
        identity: id(identity),
        tenant: tenant.parse().unwrap(),
        environment: "production".parse().unwrap(),
        scopes: vec!["k8s:health.read".into()],
        lifetime: None,
        audience: None,
    };
    h.tokens.issue(&request).await.unwrap().secret
}

#[tokio::test]
async fn a_valid_token_for_an_unknown_identity_is_refused() {
    let h = Harness::new().await;
    let token = token_straight_from_the_issuer(&h, "ghost-agent", "acme").await;

    let denial = expect_denied(h.read_health(&token).await);
    assert_eq!(denial.stage, Stage::State);
    assert!(denial.reason.contains("ghost-agent"), "{}", denial.reason);
}

#[tokio::test]
async fn a_token_naming_another_tenant_is_refused() {
    let h = Harness::new().await;
    let token = token_straight_from_the_issuer(&h, "restart-agent", "globex").await;

    let denial = expect_denied(h.read_health(&token).await);
    assert_eq!(denial.stage, Stage::State);
    assert!(denial.reason.contains("tenant"), "{}", denial.reason);
}

#[tokio::test]
async fn an_unknown_credential_kind_is_an_error_not_a_panic() {
    let h = Harness::new().await;
    let secret = CredentialSecret::new("key_abc");
    let request = AccessRequest::new(
        &secret,
        Action::new("health.read").unwrap(),
        resource("k8s:prod/api"),
        Severity::Read,
    )
    .credential_kind(nhi::core::CredentialKind::ApiKey);
    let error = h.plane.authorize(request).await.unwrap_err();
    assert!(matches!(error, nhi::Error::NoProvider { .. }), "{error}");
}

#[tokio::test]
async fn a_suspended_identity_cannot_get_a_credential() {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    h.plane.suspend(&agent, "investigation").await.unwrap();

    let error = h.plane.issue_credential(&agent).await.unwrap_err();
    assert!(matches!(error, nhi::Error::NotUsable { .. }), "{error}");
    let unknown = h.plane.issue_credential(&id("nobody")).await.unwrap_err();
    assert!(unknown.to_string().contains("nobody"), "{unknown}");
}

trait NowPlus {
    fn now_plus(&self, by: Duration) -> nhi::core::Timestamp;
}

impl NowPlus for nhi::core::ManualClock {
    fn now_plus(&self, by: Duration) -> nhi::core::Timestamp {
        use nhi::core::Clock;
        self.now().saturating_add(by)
    }
}

//! Kill switch, rotation, decommission, reconciliation, approvals and fail-closed audit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Harness, agent, expect_denied, expect_granted, id};
use nhi::audit::{Anomaly, AuditError, AuditEvent, AuditSink, EventKind, Receipt};
use nhi::core::{ManualClock, RiskTier, SharedClock, Timestamp};
use nhi::credentials::{JwtConfig, JwtProvider, KeyRing, MemoryRevocationList};
use nhi::limiter::{Limiter, QuotaPlan};
use nhi::policy::RuleSet;
use nhi::registry::{
    ApproverRole, LifecycleState, MemoryStore, NewIdentity, ReconcileMode, ReconcilePolicy,
    Registry,
};
use nhi::{AbusePolicy, ControlPlane, Stage};

#[tokio::test]
async fn a_runaway_loop_trips_the_kill_switch_and_the_same_token_dies_at_once() {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    let token = h.plane.issue_credential(&agent).await.unwrap();

    // burst 10, three rejections trip the breach
    let mut tripped_at = None;
    for call in 1..=30 {
        match h.read_health(&token.secret).await {
            nhi::AccessOutcome::Granted(permit) => {
                permit.complete(nhi::ActionReport::new("ok")).await.unwrap()
            }
            nhi::AccessOutcome::Denied(denial) if denial.kill_switch => {
                assert_eq!(denial.stage, Stage::Limit);
                assert!(denial.anomalies.contains(&Anomaly::LimitBreach));
                tripped_at = Some(call);
                break;
            }
            nhi::AccessOutcome::Denied(denial) => {
                assert_eq!(denial.stage, Stage::Limit, "{denial}");
                assert!(denial.retry_after.is_some());
            }
        }
    }
    assert_eq!(
        tripped_at,
        Some(13),
        "10 granted, then the third rejection trips"
    );

    let record = h.plane.registry().get(&agent).await.unwrap();
    assert_eq!(record.state, LifecycleState::Suspended);

    // the very next call with the still-unexpired token is refused
    let next = expect_denied(h.read_health(&token.secret).await);
    assert!(
        matches!(next.stage, Stage::Authenticate | Stage::State),
        "{next}"
    );
    assert!(!next.kill_switch, "the switch trips once");

    let metrics = h.plane.metrics().await.unwrap();
    assert_eq!(metrics.kill_switch_trips, 1);
    assert_eq!(metrics.revocations_timed, 1);
    let anomalies: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::AnomalyDetected)
        .collect();
    assert_eq!(anomalies.len(), 1);
    assert!(anomalies[0].anomalies.contains(&Anomaly::KillSwitchTripped));
}

/// An agent that got a credential, was suspended, and was reinstated 30 s later.
async fn suspended_and_reinstated() -> (
    Harness,
    nhi::core::IdentityId,
    nhi::credentials::IssuedCredential,
) {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    let old = h.plane.issue_credential(&agent).await.unwrap();
    h.plane.suspend(&agent, "investigation").await.unwrap();
    h.advance(Duration::from_secs(30));
    h.plane.reinstate(&agent, "cleared").await.unwrap();
    (h, agent, old)
}

#[tokio::test]
async fn a_reinstated_identity_needs_a_new_credential() {
    let (h, agent, old) = suspended_and_reinstated().await;
    let record = h.plane.registry().get(&agent).await.unwrap();
    assert!(
        record.credential_issued_too_early(old.issued_at),
        "the revocation epoch outlives the suspension"
    );

    let new = h.plane.issue_credential(&agent).await.unwrap();
    expect_granted(h.read_health(&new.secret).await).await;
}

#[tokio::test]
async fn a_killed_credential_presented_after_reinstatement_suspends_again() {
    let (h, agent, old) = suspended_and_reinstated().await;

    // whoever still holds the killed token is not the reviewed agent
    let denial = expect_denied(h.read_health(&old.secret).await);
    assert_eq!(denial.stage, Stage::Authenticate, "{denial}");
    assert!(denial.anomalies.contains(&Anomaly::RevokedCredentialUsed));
    assert!(denial.kill_switch);
    let record = h.plane.registry().get(&agent).await.unwrap();
    assert_eq!(record.state, LifecycleState::Suspended);
}

#[tokio::test]
async fn repeated_denials_trip_the_kill_switch() {
    let abuse = AbusePolicy {
        max_denials: 3,
        ..AbusePolicy::default()
    };
    let h = Harness::with_abuse(abuse).await;
    let token = h.agent_token().await;

    let mut denials = Vec::new();
    for _ in 0..3 {
        denials.push(expect_denied(
            h.ask(
                &token.secret,
                "secret.read",
                "k8s:prod/db",
                nhi::core::Severity::Read,
            )
            .await,
        ));
    }
    assert!(!denials[0].kill_switch && !denials[1].kill_switch);
    assert!(denials[2].kill_switch);
    assert!(denials[2].anomalies.contains(&Anomaly::RepeatedDenials));
}

#[tokio::test]
async fn a_target_outside_the_allowed_systems_trips_the_kill_switch() {
    let h = Harness::new().await;
    let token = h.agent_token().await;

    let denial = expect_denied(
        h.ask(
            &token.secret,
            "health.read",
            "payroll:prod/run",
            nhi::core::Severity::Read,
        )
        .await,
    );
    assert_eq!(denial.stage, Stage::Scope);
    assert!(denial.anomalies.contains(&Anomaly::OutOfPolicyTarget));
    assert!(denial.kill_switch);
}

#[tokio::test]
async fn rotation_keeps_the_old_credential_working_through_the_overlap_only() {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    let old = h.plane.issue_credential(&agent).await.unwrap();

    h.advance(Duration::from_secs(150));
    let new = h
        .plane
        .rotate_credential(&agent, Duration::from_secs(60))
        .await
        .unwrap();
    expect_granted(h.read_health(&new.secret).await).await;
    expect_granted(h.read_health(&old.secret).await).await;

    h.advance(Duration::from_secs(61));
    let denial = expect_denied(h.read_health(&old.secret).await);
    assert_eq!(denial.stage, Stage::Authenticate);
    assert!(denial.anomalies.contains(&Anomaly::RevokedCredentialUsed));
    assert!(
        !denial.kill_switch,
        "a credential retired by rotation does not suspend the identity"
    );
    expect_granted(h.read_health(&new.secret).await).await;

    let record = h.plane.registry().get(&agent).await.unwrap();
    assert_eq!(
        record.last_rotated_at.map(|t| t.unix_secs()),
        Some(common::START + 150)
    );
}

#[tokio::test]
async fn decommission_runs_its_stages_in_order_and_the_id_is_never_reused() {
    let h = Harness::new().await;
    let agent = id("restart-agent");
    let token = h.plane.issue_credential(&agent).await.unwrap();

    let mut states = Vec::new();
    for _ in 0..4 {
        let transition = h
            .plane
            .advance_decommission(&agent, "retired")
            .await
            .unwrap();
        states.push(transition.after.state);
        if transition.after.state == LifecycleState::Disabled {
            let denial = expect_denied(h.read_health(&token.secret).await);
            assert!(matches!(denial.stage, Stage::Authenticate | Stage::State));
        }
    }
    use LifecycleState::*;
    assert_eq!(states, vec![Disabled, Deprovisioned, Archived, Tombstoned]);
    let after = h.plane.registry().get(&agent).await.unwrap();
    assert!(
        after.scopes.is_empty(),
        "deprovisioning removes permissions"
    );

    let again = h
        .plane
        .advance_decommission(&agent, "again")
        .await
        .unwrap_err();
    assert!(
        matches!(again, nhi::Error::DecommissionComplete { .. }),
        "{again}"
    );
    let reuse = h
        .plane
        .provision(common::agent("restart-agent", RiskTier::Medium))
        .await
        .unwrap_err();
    assert!(matches!(reuse, nhi::Error::Registry(_)), "{reuse}");
}

#[tokio::test]
async fn high_risk_identities_wait_for_owner_and_security() {
    let h = Harness::new().await;
    let failover = id("failover-agent");
    let record = h
        .plane
        .provision(agent("failover-agent", RiskTier::High))
        .await
        .unwrap();
    assert_eq!(record.state, LifecycleState::Requested);
    assert!(h.plane.issue_credential(&failover).await.is_err());

    let one = h
        .plane
        .approve(&failover, "maria", ApproverRole::Owner)
        .await
        .unwrap();
    assert_eq!(one.state, LifecycleState::Requested);
    assert!(
        h.plane
            .approve(&failover, "maria", ApproverRole::Security)
            .await
            .is_err(),
        "same person twice"
    );
    let two = h
        .plane
        .approve(&failover, "sec-review", ApproverRole::Security)
        .await
        .unwrap();
    assert_eq!(two.state, LifecycleState::Active);
    assert!(h.plane.issue_credential(&failover).await.is_ok());
}

#[tokio::test]
async fn reconciliation_quarantines_orphans_expired_and_unused_identities() {
    let h = Harness::new().await;
    let now = Timestamp::from_unix_secs(common::START);
    let day = Duration::from_secs(86_400);

    let mut orphan = agent("orphan-runner", RiskTier::Low);
    orphan.owner = None;
    orphan.last_used_at = Some(now);
    let mut expired = agent("expired-bot", RiskTier::Low);
    expired.expires_at = Some(now.saturating_sub(day));
    expired.last_used_at = Some(now);
    let mut unused = agent("unused-sync", RiskTier::Low);
    unused.last_used_at = Some(now.saturating_sub(day * 120));
    for new in [orphan, expired, unused] {
        h.plane.import(new).await.unwrap();
    }
    let healthy: NewIdentity = agent("healthy-agent", RiskTier::Low);
    h.plane.provision(healthy).await.unwrap();
    let token = h.plane.issue_credential(&id("unused-sync")).await.unwrap();

    let policy = ReconcilePolicy {
        unused_for: day * 90,
        mode: ReconcileMode::Quarantine,
        known_teams: None,
    };
    let report = h.plane.reconcile(&policy).await.unwrap();
    let mut found: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    found.sort_unstable();
    assert_eq!(found, vec!["expired-bot", "orphan-runner", "unused-sync"]);
    assert!(report.findings.iter().all(|f| f.quarantined));

    for quarantined in ["expired-bot", "orphan-runner", "unused-sync"] {
        let record = h.plane.registry().get(&id(quarantined)).await.unwrap();
        assert_eq!(record.state, LifecycleState::Quarantined);
    }
    let denial = expect_denied(h.read_health(&token.secret).await);
    assert!(matches!(denial.stage, Stage::Authenticate | Stage::State));
    let findings = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::ReconcileFinding)
        .count();
    assert_eq!(findings, 3);
    let text = report.to_string();
    assert!(text.contains("orphan-runner"), "{text}");
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let h = Harness::new().await;
    let token = h.agent_token().await;
    expect_granted(h.read_health(&token.secret).await).await;
    let _ = expect_denied(
        h.ask(
            &token.secret,
            "secret.read",
            "k8s:prod/db",
            nhi::core::Severity::Read,
        )
        .await,
    );

    let m = h.plane.metrics().await.unwrap();
    assert_eq!(m.granted, 1);
    assert_eq!(m.policy_denials, 1);
    assert_eq!(m.credentials_issued, 1);
    assert_eq!(m.registry.total, 1);
    assert!((m.registry.share_with_owner - 1.0).abs() < f64::EPSILON);
    let text = m.to_string();
    assert!(text.contains("refused: policy"), "{text}");
}

/// A sink whose disk is full.
struct BrokenSink;

#[async_trait]
impl AuditSink for BrokenSink {
    async fn record(&self, _event: &AuditEvent) -> Result<Receipt, AuditError> {
        Err(AuditError::SinkStopped)
    }
}

#[tokio::test]
async fn nothing_happens_that_the_audit_trail_cannot_record() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(common::START)));
    let shared: SharedClock = clock;
    let revocations = Arc::new(MemoryRevocationList::new());
    let keys = Arc::new(KeyRing::generate().unwrap());
    let tokens = JwtProvider::new(
        JwtConfig::new("https://issuer.test", "platform"),
        keys,
        revocations.clone(),
        shared.clone(),
    )
    .unwrap();
    let plane = ControlPlane::builder(shared.clone())
        .registry(Registry::new(Arc::new(MemoryStore::new()), shared.clone()))
        .provider(Arc::new(tokens))
        .revocations(revocations)
        .policy(Arc::new(RuleSet::from_toml_str(common::POLICY).unwrap()))
        .limiter(Arc::new(Limiter::new(QuotaPlan::new(), shared)))
        .audit(Arc::new(BrokenSink))
        .build()
        .unwrap();

    let error = plane
        .provision(agent("restart-agent", RiskTier::Medium))
        .await
        .unwrap_err();
    assert!(
        matches!(error, nhi::Error::AuditUnavailable { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_control_plane_without_its_parts_is_a_typed_error() {
    let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::EPOCH));
    let error = ControlPlane::builder(clock).build().unwrap_err();
    assert!(matches!(error, nhi::Error::MissingPart { .. }), "{error}");
}

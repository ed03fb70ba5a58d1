//! Reconciliation finds orphaned, idle and overdue identities; metrics sum up the estate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{DAY, START, id, setup, valid};
use nhi_core::{IdentityKind, RiskTier};
use nhi_registry::{
    FindingReason, LifecycleState, ReconcileMode, ReconcilePolicy, Registry, RegistryMetrics,
};

/// An estate with one healthy identity and one of each problem, 60 days after `START`.
async fn estate() -> (Registry, std::sync::Arc<nhi_core::ManualClock>) {
    let (registry, clock) = setup();
    registry
        .provision(valid("healthy", RiskTier::Low))
        .await
        .unwrap();

    let mut orphan = valid("orphan", RiskTier::Low);
    orphan.owner = None;
    orphan.purpose = None;
    registry.import(orphan).await.unwrap();

    let mut stranger = valid("stranger", RiskTier::Low);
    stranger.owner.as_mut().unwrap().team = "ghost-team".parse().unwrap();
    registry.provision(stranger).await.unwrap();

    let mut short = valid("short-lived", RiskTier::Low);
    short.expires_at = Some(START.saturating_add(DAY));
    short.decommission_at = Some(START.saturating_add(2 * DAY));
    registry.provision(short).await.unwrap();

    // Requested and disabled identities are not examined.
    let mut waiting = valid("waiting", RiskTier::High);
    waiting.owner = None;
    registry.import(waiting).await.unwrap();
    let retired = registry
        .provision(valid("retired", RiskTier::Low))
        .await
        .unwrap();
    registry
        .transition(&retired.id, LifecycleState::Disabled)
        .await
        .unwrap();

    clock.advance(60 * DAY);
    for name in ["healthy", "orphan", "stranger", "short-lived"] {
        registry
            .record_use(&id(name), START.saturating_add(59 * DAY))
            .await
            .unwrap();
    }
    (registry, clock)
}

fn policy(mode: ReconcileMode) -> ReconcilePolicy {
    ReconcilePolicy {
        unused_for: 30 * DAY,
        mode,
        known_teams: Some(BTreeSet::from(["platform".parse().unwrap()])),
    }
}

#[tokio::test]
async fn report_only_names_every_problem_and_changes_nothing() {
    let (registry, _) = estate().await;
    let before = registry.list_all().await.unwrap();

    let report = registry
        .reconcile(&policy(ReconcileMode::ReportOnly))
        .await
        .unwrap();
    // healthy, orphan, stranger, short-lived, and the imported "waiting" (active).
    assert_eq!(report.examined, 5);
    let found: Vec<(&str, &[FindingReason])> = report
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.reasons.as_slice()))
        .collect();
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found[0].0, "orphan");
    assert_eq!(
        found[0].1,
        [FindingReason::NoOwner, FindingReason::NoPurpose]
    );
    assert_eq!(found[1].0, "short-lived");
    assert!(matches!(
        found[1].1,
        [
            FindingReason::Expired { .. },
            FindingReason::PastDecommission { .. }
        ]
    ));
    assert_eq!(found[2].0, "stranger");
    assert!(
        matches!(&found[2].1, [FindingReason::UnknownTeam { team }] if team.as_str() == "ghost-team")
    );
    assert_eq!(found[3].0, "waiting");
    assert!(
        found[3].1.contains(&FindingReason::Unused { since: None }),
        "never used for 60 days"
    );
    assert!(report.findings.iter().all(|f| !f.quarantined));

    assert_eq!(
        registry.list_all().await.unwrap(),
        before,
        "report-only changes nothing"
    );
}

#[tokio::test]
async fn quarantine_mode_isolates_each_finding() {
    let (registry, _) = estate().await;
    let report = registry
        .reconcile(&policy(ReconcileMode::Quarantine))
        .await
        .unwrap();
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.quarantined && f.state_before == LifecycleState::Active)
    );

    for finding in &report.findings {
        let record = registry.get(&finding.id).await.unwrap();
        assert_eq!(record.state, LifecycleState::Quarantined, "{}", finding.id);
    }
    assert_eq!(
        registry.get(&id("healthy")).await.unwrap().state,
        LifecycleState::Active
    );

    // A second run finds nothing left to examine among them.
    let again = registry
        .reconcile(&policy(ReconcileMode::Quarantine))
        .await
        .unwrap();
    assert_eq!((again.examined, again.findings.len()), (1, 0));
}

#[tokio::test]
async fn last_use_older_than_the_window_is_reported_with_its_date() {
    let (registry, clock) = setup();
    let record = registry
        .provision(valid("idle", RiskTier::Low))
        .await
        .unwrap();
    registry.record_use(&record.id, START).await.unwrap();
    clock.advance(30 * DAY);

    let policy = ReconcilePolicy::report_only(30 * DAY);
    assert!(
        registry
            .reconcile(&policy)
            .await
            .unwrap()
            .findings
            .is_empty(),
        "exactly at the window is fine"
    );
    clock.advance(Duration::from_secs(1));
    let report = registry.reconcile(&policy).await.unwrap();
    assert_eq!(
        report.findings[0].reasons,
        [FindingReason::Unused { since: Some(START) }]
    );
}

#[tokio::test]
async fn the_report_reads_for_people_and_serializes_for_machines() {
    let (registry, _) = estate().await;
    let report = registry
        .reconcile(&policy(ReconcileMode::ReportOnly))
        .await
        .unwrap();

    let text = report.to_string();
    assert!(text.contains("5 examined, 4 with findings"), "{text}");
    assert!(text.contains("IDENTITY"), "{text}");
    let orphan_line = text.lines().find(|l| l.starts_with("orphan")).unwrap();
    assert!(
        orphan_line.contains("no owner; no purpose"),
        "{orphan_line}"
    );
    assert!(text.contains("unknown team `ghost-team`"), "{text}");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings"][0]["reasons"][0]["reason"], "no-owner");
    assert_eq!(json["findings"][0]["state_before"], "active");
}

#[tokio::test]
async fn metrics_of_an_empty_registry_are_zero_not_nan() {
    let (registry, _) = setup();
    let metrics = registry.metrics().await.unwrap();
    assert_eq!(metrics.total, 0);
    assert_eq!(metrics.share_with_owner, 0.0);
    assert_eq!(metrics.rotation_compliance, 0.0);
    assert_eq!(metrics.max_credential_age, Duration::ZERO);
    serde_json::to_string(&metrics).unwrap();
}

#[tokio::test]
async fn metrics_count_states_and_measure_the_live_estate() {
    let (registry, _) = estate().await;
    // Rotated a day ago: within its 7-day interval. The others are 60 days old.
    registry
        .record_rotation(&id("healthy"), START.saturating_add(59 * DAY))
        .await
        .unwrap();

    let m: RegistryMetrics = registry.metrics().await.unwrap();
    assert_eq!(m.total, 6);
    assert_eq!(m.by_state.get(&LifecycleState::Active), Some(&5));
    assert_eq!(m.by_state.get(&LifecycleState::Disabled), Some(&1));
    assert_eq!(m.active_by_kind.get(&IdentityKind::AiAgent), Some(&5));
    assert_eq!(m.active_by_tier.get(&RiskTier::High), Some(&1));

    // Five live identities: two without owner, all with expiry but "waiting".
    assert!(
        (m.share_with_owner - 3.0 / 5.0).abs() < 1e-9,
        "{}",
        m.share_with_owner
    );
    assert!(
        (m.share_with_expiry - 5.0 / 5.0).abs() < 1e-9,
        "{}",
        m.share_with_expiry
    );
    assert!(
        (m.rotation_compliance - 1.0 / 5.0).abs() < 1e-9,
        "{}",
        m.rotation_compliance
    );
    assert_eq!(m.max_credential_age, 60 * DAY);
    assert_eq!(
        m.mean_credential_age,
        Duration::from_secs((4 * 60 + 1) * 86_400 / 5)
    );

    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["by_state"]["active"], 5);
    let age = json["max_credential_age"].as_str().unwrap();
    assert_eq!(nhi_core::parse_duration(age).unwrap(), 60 * DAY, "{age}");
}

//! Rules added for shared, long-lived registries: approvals expire, identities never
//! cross a tenant or environment, high-risk identities name a person, bulk
//! provisioning, and the decommission lag metric.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{DAY, id, setup, valid};
use nhi_core::{Clock, RiskTier};
use nhi_registry::{ApproverRole, LifecycleState, RegistryError};

#[tokio::test]
async fn an_expired_approval_no_longer_counts() {
    let (registry, clock) = setup();
    let registry = registry.with_approval_validity(2 * DAY);
    let record = registry
        .provision(valid("slow-review", RiskTier::High))
        .await
        .unwrap();
    registry
        .approve(&record.id, "alice", ApproverRole::Owner)
        .await
        .unwrap();

    clock.advance(3 * DAY);
    let half = registry
        .approve(&record.id, "sam", ApproverRole::Security)
        .await
        .unwrap();
    assert_eq!(
        half.state,
        LifecycleState::Requested,
        "the owner approval expired"
    );
    assert_eq!(half.approvals.len(), 2, "expired approvals stay as history");
    match registry
        .transition(&record.id, LifecycleState::Active)
        .await
    {
        Err(RegistryError::ApprovalRequired { .. }) => {}
        other => panic!("expected ApprovalRequired, got {other:?}"),
    }

    // The same person may approve again once their approval expired.
    let done = registry
        .approve(&record.id, "alice", ApproverRole::Owner)
        .await
        .unwrap();
    assert_eq!(done.state, LifecycleState::Active);
}

#[tokio::test]
async fn approvals_within_their_validity_still_count() {
    let (registry, clock) = setup();
    let record = registry
        .provision(valid("quick-review", RiskTier::Critical))
        .await
        .unwrap();
    registry
        .approve(&record.id, "alice", ApproverRole::Owner)
        .await
        .unwrap();
    clock.advance(registry.approval_validity());
    let done = registry
        .approve(&record.id, "sam", ApproverRole::Security)
        .await
        .unwrap();
    assert_eq!(done.state, LifecycleState::Active);
}

#[tokio::test]
async fn an_identity_is_never_reused_across_tenants_or_environments() {
    let (registry, _) = setup();
    registry
        .provision(valid("shared-name", RiskTier::Low))
        .await
        .unwrap();

    let mut other_tenant = valid("shared-name", RiskTier::Low);
    other_tenant.tenant = "globex".parse().unwrap();
    let mut other_env = valid("shared-name", RiskTier::Low);
    other_env.environment = "staging".parse().unwrap();
    for request in [other_tenant, other_env.clone()] {
        match registry.provision(request).await {
            Err(RegistryError::CrossBoundaryReuse { id, .. }) => {
                assert_eq!(id.as_str(), "shared-name")
            }
            other => panic!("expected CrossBoundaryReuse, got {other:?}"),
        }
    }
    match registry.import(other_env).await {
        Err(RegistryError::CrossBoundaryReuse { .. }) => {}
        other => panic!("import must refuse it too, got {other:?}"),
    }
    match registry
        .provision(valid("shared-name", RiskTier::Low))
        .await
    {
        Err(RegistryError::AlreadyExists { .. }) => {}
        other => panic!("the same boundary is a plain duplicate, got {other:?}"),
    }
    let err = RegistryError::CrossBoundaryReuse {
        id: id("x"),
        existing_tenant: "acme".parse().unwrap(),
        existing_environment: "production".parse().unwrap(),
        tenant: "globex".parse().unwrap(),
        environment: "production".parse().unwrap(),
    };
    assert!(err.to_string().contains("`globex`"), "{err}");
}

#[tokio::test]
async fn a_successor_stays_in_its_predecessors_tenant_and_environment() {
    let (registry, _) = setup();
    let old = registry
        .provision(valid("billing-v1", RiskTier::Low))
        .await
        .unwrap();
    let mut moved = valid("billing-v2", RiskTier::Low);
    moved.environment = "staging".parse().unwrap();
    match registry.supersede(&old.id, moved, DAY).await {
        Err(RegistryError::CrossBoundaryReuse { .. }) => {}
        other => panic!("expected CrossBoundaryReuse, got {other:?}"),
    }
    assert!(
        registry
            .store()
            .get(&id("billing-v2"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(registry.get(&old.id).await.unwrap().superseded_by, None);
}

#[tokio::test]
async fn high_risk_identities_name_an_accountable_person() {
    let (registry, _) = setup();
    let mut nobody = valid("unowned-deployer", RiskTier::High);
    nobody.owner.as_mut().unwrap().person = None;
    match registry.provision(nobody.clone()).await {
        Err(RegistryError::MissingAccountablePerson { tier, .. }) => {
            assert_eq!(tier, RiskTier::High)
        }
        other => panic!("expected MissingAccountablePerson, got {other:?}"),
    }
    let mut blank = nobody.clone();
    blank.owner.as_mut().unwrap().person = Some("   ".into());
    assert!(matches!(
        registry.provision(blank).await,
        Err(RegistryError::MissingAccountablePerson { .. })
    ));

    let mut low = nobody.clone();
    low.id = id("unowned-notifier");
    low.risk_tier = RiskTier::Low;
    low.credential.lifetime = Duration::from_secs(3_600);
    registry.provision(low).await.unwrap();

    let relaxed = registry.clone().with_person_required_from(None);
    relaxed.provision(nobody).await.unwrap();
}

#[tokio::test]
async fn hostile_person_names_are_refused() {
    let (registry, _) = setup();
    for bad in ["x".repeat(10_000), "eve\u{0}".into(), " padded".into()] {
        let mut request = valid("named", RiskTier::Low);
        request.owner.as_mut().unwrap().person = Some(bad);
        match registry.provision(request).await {
            Err(err @ RegistryError::InvalidAccountablePerson { .. }) => {
                assert!(err.to_string().len() < 300, "{err}");
            }
            other => panic!("expected InvalidAccountablePerson, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bulk_provisioning_checks_every_request_before_storing_any() {
    let (registry, _) = setup();
    let good: Vec<_> = (0..20)
        .map(|n| valid(&format!("fleet-{n:02}"), RiskTier::Medium))
        .collect();
    let stored = registry.provision_many(good).await.unwrap();
    assert_eq!(stored.len(), 20);
    assert_eq!(registry.list_all().await.unwrap().len(), 20);

    let mut batch: Vec<_> = (20..30)
        .map(|n| valid(&format!("fleet-{n:02}"), RiskTier::Medium))
        .collect();
    batch[5].purpose = None;
    assert!(matches!(
        registry.provision_many(batch).await,
        Err(RegistryError::MissingPurpose { .. })
    ));
    assert_eq!(
        registry.list_all().await.unwrap().len(),
        20,
        "nothing stored"
    );

    let mut elsewhere = valid("fleet-03", RiskTier::Medium);
    elsewhere.tenant = "globex".parse().unwrap();
    assert!(matches!(
        registry.provision_many(vec![elsewhere]).await,
        Err(RegistryError::CrossBoundaryReuse { .. })
    ));
}

#[tokio::test]
async fn metrics_measure_the_time_from_decommission_date_to_dead_tokens() {
    let (registry, clock) = setup();
    let mut prompt = valid("prompt", RiskTier::Low);
    prompt.decommission_at = Some(common::START.saturating_add(DAY));
    let mut late = valid("late", RiskTier::Low);
    late.decommission_at = Some(common::START.saturating_add(DAY));
    let mut forgotten = valid("forgotten", RiskTier::Low);
    forgotten.decommission_at = Some(common::START.saturating_add(2 * DAY));
    registry
        .provision_many(vec![prompt, late, forgotten])
        .await
        .unwrap();

    clock.advance(DAY);
    registry
        .transition(&id("prompt"), LifecycleState::Disabled)
        .await
        .unwrap();
    clock.advance(2 * DAY);
    let disabled = registry
        .transition(&id("late"), LifecycleState::Disabled)
        .await
        .unwrap();
    assert_eq!(disabled.after.disabled_at, Some(clock.now()));
    clock.advance(DAY);

    let m = registry.metrics().await.unwrap();
    assert_eq!(m.decommissions_due, 3);
    assert_eq!(m.decommissions_overdue, 1, "forgotten is still alive");
    // prompt 0, late 2 days, forgotten 2 days so far
    assert_eq!(m.max_decommission_lag, 2 * DAY);
    assert_eq!(m.mean_decommission_lag, Duration::from_secs(4 * 86_400 / 3));
    let json = serde_json::to_string(&m).unwrap();
    assert!(
        json.contains("\"max_decommission_lag\":\"2days\""),
        "{json}"
    );
}

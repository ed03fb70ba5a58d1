//! Transitions' side effects, revocation, usage and rotation records, superseding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{DAY, START, id, setup, valid};
use nhi_core::{Clock, ManualClock, RiskTier};
use nhi_registry::{LifecycleState, MemoryStore, Registry, RegistryError};

#[tokio::test]
async fn decommissioning_kills_tokens_then_removes_permissions() {
    let (registry, clock) = setup();
    let record = registry
        .provision(valid("bot", RiskTier::Low))
        .await
        .unwrap();
    clock.advance(DAY);

    let disabled = registry
        .transition(&record.id, LifecycleState::Disabled)
        .await
        .unwrap();
    assert_eq!(disabled.before.state, LifecycleState::Active);
    assert_eq!(disabled.after.revoked_before, Some(clock.now()));
    assert!(disabled.after.credential_issued_too_early(START));
    assert!(
        !disabled.after.scopes.is_empty(),
        "disabling alone keeps permissions"
    );

    let gone = registry
        .transition(&record.id, LifecycleState::Deprovisioned)
        .await
        .unwrap();
    assert!(gone.after.scopes.is_empty() && gone.after.allowed_systems.is_empty());

    let err = registry
        .transition(&record.id, LifecycleState::Active)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::IllegalTransition {
                from: LifecycleState::Deprovisioned,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("`deprovisioned`"), "{err}");
}

#[tokio::test]
async fn standing_still_is_an_illegal_transition() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("bot", RiskTier::Low))
        .await
        .unwrap();
    let err = registry
        .transition(&record.id, LifecycleState::Active)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::IllegalTransition { .. }),
        "{err:?}"
    );
    assert_eq!(
        registry.get(&record.id).await.unwrap().version,
        record.version
    );
}

#[tokio::test]
async fn the_revocation_epoch_only_moves_forward_and_never_into_the_future() {
    let (registry, clock) = setup();
    let record = registry
        .provision(valid("bot", RiskTier::Low))
        .await
        .unwrap();
    clock.advance(DAY);
    let epoch = START.saturating_add(Duration::from_secs(3_600));

    let revoked = registry
        .revoke_credentials_before(&record.id, epoch)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_before, Some(epoch));
    assert!(revoked.credential_issued_too_early(START));

    let same = registry
        .revoke_credentials_before(&record.id, START)
        .await
        .unwrap();
    assert_eq!(same, revoked, "an older epoch changes nothing");

    let future = clock.now().saturating_add(Duration::from_secs(1));
    let err = registry
        .revoke_credentials_before(&record.id, future)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::RevocationEpochInFuture { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn use_and_rotation_times_only_move_forward() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("bot", RiskTier::Low))
        .await
        .unwrap();
    let later = START.saturating_add(DAY);

    registry.record_use(&record.id, later).await.unwrap();
    registry.record_use(&record.id, START).await.unwrap();
    let stored = registry.get(&record.id).await.unwrap();
    assert_eq!(stored.last_used_at, Some(later));
    assert_eq!(
        stored.version,
        record.version + 1,
        "the stale use was not written"
    );

    let rotated = registry.record_rotation(&record.id, later).await.unwrap();
    assert_eq!(rotated.last_rotated_at, Some(later));
    let err = registry.record_use(&id("ghost"), later).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn superseding_links_both_and_schedules_the_old_one() {
    let (registry, clock) = setup();
    let old = registry
        .provision(valid("bot-v1", RiskTier::Low))
        .await
        .unwrap();
    clock.advance(DAY);
    let overlap = Duration::from_secs(3_600);

    let (old_after, new) = registry
        .supersede(&old.id, valid("bot-v2", RiskTier::Low), overlap)
        .await
        .unwrap();
    assert_eq!(new.supersedes, Some(old.id.clone()));
    assert_eq!(new.state, LifecycleState::Active);
    assert_eq!(old_after.superseded_by, Some(new.id.clone()));
    assert_eq!(
        old_after.decommission_at,
        Some(clock.now().saturating_add(overlap))
    );
    assert_eq!(
        old_after.state,
        LifecycleState::Active,
        "the old one works during the overlap"
    );
    assert_eq!(registry.get(&new.id).await.unwrap(), new);

    let err = registry
        .supersede(&old.id, valid("bot-v3", RiskTier::Low), overlap)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::AlreadySuperseded { .. }),
        "{err:?}"
    );
    assert!(
        registry.get(&id("bot-v3")).await.is_err(),
        "nothing was provisioned"
    );
}

#[tokio::test]
async fn superseding_checks_the_new_request_and_the_old_state() {
    let (registry, _) = setup();
    let old = registry
        .provision(valid("bot-v1", RiskTier::Low))
        .await
        .unwrap();

    let mut bad = valid("bot-v2", RiskTier::Low);
    bad.owner = None;
    let err = registry.supersede(&old.id, bad, DAY).await.unwrap_err();
    assert!(matches!(err, RegistryError::MissingOwner { .. }), "{err:?}");

    registry
        .transition(&old.id, LifecycleState::Disabled)
        .await
        .unwrap();
    let err = registry
        .supersede(&old.id, valid("bot-v2", RiskTier::Low), DAY)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Decommissioned { .. }),
        "{err:?}"
    );

    let err = registry
        .supersede(&id("ghost"), valid("bot-v3", RiskTier::Low), DAY)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert_eq!(registry.list_all().await.unwrap().len(), 1);
}

#[tokio::test]
async fn list_all_pages_through_large_estates_in_order() {
    let (registry, _) = setup();
    for n in (0..600).rev() {
        registry
            .import(valid(&format!("bot-{n:04}"), RiskTier::Low))
            .await
            .unwrap();
    }
    let all = registry.list_all().await.unwrap();
    assert_eq!(all.len(), 600);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_writers_lose_no_use_record() {
    let clock = Arc::new(ManualClock::new(START));
    let registry = Registry::new(Arc::new(MemoryStore::new()), clock);
    let record = registry
        .provision(valid("busy", RiskTier::Low))
        .await
        .unwrap();

    // Every writer records distinct, increasing times; the last one must win.
    let mut tasks = Vec::new();
    for writer in 0..8u64 {
        let registry = registry.clone();
        let id = record.id.clone();
        tasks.push(tokio::spawn(async move {
            for step in 0..50u64 {
                let at = START.saturating_add(Duration::from_secs(1 + step * 8 + writer));
                registry.record_use(&id, at).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = registry.get(&record.id).await.unwrap();
    assert_eq!(
        stored.last_used_at,
        Some(START.saturating_add(Duration::from_secs(400)))
    );
}

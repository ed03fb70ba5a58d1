//! High-risk identities wait for one owner and one security approval from two people.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{setup, valid};
use nhi_core::RiskTier;
use nhi_registry::{ApproverRole, LifecycleState, RegistryError};

#[tokio::test]
async fn owner_and_security_approvals_activate_a_high_risk_identity() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("deployer", RiskTier::Critical))
        .await
        .unwrap();

    let half = registry
        .approve(&record.id, "alice", ApproverRole::Security)
        .await
        .unwrap();
    assert_eq!(
        half.state,
        LifecycleState::Requested,
        "one approval is not enough"
    );
    assert_eq!(half.approvals.len(), 1);

    let done = registry
        .approve(&record.id, "bob", ApproverRole::Owner)
        .await
        .unwrap();
    assert_eq!(done.state, LifecycleState::Active);
    assert_eq!(done.approvals.len(), 2);

    let err = registry
        .approve(&record.id, "carol", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::NotAwaitingApproval {
                state: LifecycleState::Active,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn approval_mistakes_are_refused() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("deployer", RiskTier::High))
        .await
        .unwrap();

    let err = registry
        .approve(&record.id, "deployer", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SelfApproval { .. }), "{err:?}");
    let err = registry
        .approve(&record.id, "DEPLOYER", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::SelfApproval { .. }),
        "case must not disguise the identity: {err:?}"
    );

    registry
        .approve(&record.id, "alice", ApproverRole::Owner)
        .await
        .unwrap();
    let err = registry
        .approve(&record.id, "alice", ApproverRole::Security)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DuplicateApprover { .. }),
        "{err:?}"
    );
    let err = registry
        .approve(&record.id, "Alice", ApproverRole::Security)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DuplicateApprover { .. }),
        "{err:?}"
    );
    let err = registry
        .approve(&record.id, "bob", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::RoleAlreadyApproved {
                role: ApproverRole::Owner,
                ..
            }
        ),
        "{err:?}"
    );

    for hostile in ["", "   ", " alice2", "eve\nadmin", &"x".repeat(129)] {
        let err = registry
            .approve(&record.id, hostile, ApproverRole::Security)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidApprover { .. }),
            "{hostile:?}: {err:?}"
        );
        assert!(err.to_string().len() < 300);
    }

    let stored = registry.get(&record.id).await.unwrap();
    assert_eq!(
        stored.approvals.len(),
        1,
        "refused approvals leave no trace"
    );
    assert_eq!(stored.state, LifecycleState::Requested);
}

#[tokio::test]
async fn a_transition_cannot_skip_the_approvals() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("deployer", RiskTier::High))
        .await
        .unwrap();

    let err = registry
        .transition(&record.id, LifecycleState::Active)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::ApprovalRequired { .. }),
        "{err:?}"
    );

    // Turning the request down is always possible.
    let moved = registry
        .transition(&record.id, LifecycleState::Disabled)
        .await
        .unwrap();
    assert_eq!(moved.after.state, LifecycleState::Disabled);
}

#[tokio::test]
async fn low_risk_identities_need_no_approval() {
    let (registry, _) = setup();
    let record = registry
        .provision(valid("reader", RiskTier::Low))
        .await
        .unwrap();
    let err = registry
        .approve(&record.id, "alice", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::NotAwaitingApproval { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn approving_an_unknown_identity_is_not_found() {
    let (registry, _) = setup();
    let err = registry
        .approve(&common::id("ghost"), "alice", ApproverRole::Owner)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
}

//! The provisioning guards, checked through a registry over the store under test: each
//! broken rule is its own typed error and leaves nothing stored.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed check panics with a message"
)]

use std::sync::Arc;
use std::time::Duration;

use nhi_core::RiskTier;

use super::{registry_at_start, sample_identity};
use crate::{ApproverRole, IdentityStore, LifecycleState, NewIdentity, RegistryError};

/// Whether an error is the one a guard should give.
type IsExpected = fn(&RegistryError) -> bool;

/// Every guard refuses its request with its own error, nothing refused is stored, and
/// the approval rules hold on records read back from the store.
pub async fn guards_hold(store: Arc<dyn IdentityStore>) {
    let (registry, clock) = registry_at_start(store.clone());
    let refused: Vec<(NewIdentity, IsExpected)> = vec![
        (edit("conf-guard-owner", |n| n.owner = None), |e| {
            matches!(e, RegistryError::MissingOwner { .. })
        }),
        (edit("conf-guard-purpose", |n| n.purpose = None), |e| {
            matches!(e, RegistryError::MissingPurpose { .. })
        }),
        (edit("conf-guard-expiry", |n| n.expires_at = None), |e| {
            matches!(e, RegistryError::MissingExpiry { .. })
        }),
        (
            edit("conf-guard-life", |n| {
                n.credential.lifetime = Duration::from_secs(2 * 86_400);
            }),
            |e| matches!(e, RegistryError::CredentialLifetimeTooLong { .. }),
        ),
        (
            edit("conf-guard-rotation", |n| {
                n.rotation_interval = Duration::from_secs(400 * 86_400);
            }),
            |e| matches!(e, RegistryError::RotationIntervalTooLong { .. }),
        ),
        (
            edit("conf-guard-scope", |n| {
                n.scopes.insert("vault:read".into());
            }),
            |e| matches!(e, RegistryError::ScopeOutsideAllowedSystems { .. }),
        ),
        (
            edit("conf-guard-person", |n| {
                n.risk_tier = RiskTier::High;
                n.credential.lifetime = Duration::from_secs(600);
                n.owner.as_mut().unwrap().person = None;
            }),
            |e| matches!(e, RegistryError::MissingAccountablePerson { .. }),
        ),
    ];
    for (request, expected) in refused {
        let id = request.id.clone();
        match registry.provision(request).await {
            Err(err) if expected(&err) => {}
            other => panic!("provisioning `{id}` must break its guard, got {other:?}"),
        }
        assert!(
            store.get(&id).await.unwrap().is_none(),
            "a refused request must store nothing"
        );
    }

    let placed = registry
        .provision(sample_identity("conf-guard-boundary"))
        .await
        .unwrap();
    let elsewhere = edit("conf-guard-boundary", |n| {
        n.tenant = "globex".parse().unwrap()
    });
    match registry.provision(elsewhere).await {
        Err(RegistryError::CrossBoundaryReuse { .. }) => {}
        other => panic!("an id from another tenant must be CrossBoundaryReuse, got {other:?}"),
    }
    assert_eq!(store.get(&placed.id).await.unwrap(), Some(placed));

    // Dual approval and its expiry, on a record that went through the store.
    let high = edit("conf-guard-approval", |n| {
        n.risk_tier = RiskTier::High;
        n.credential.lifetime = Duration::from_secs(600);
    });
    let requested = registry.provision(high).await.unwrap();
    assert_eq!(requested.state, LifecycleState::Requested);
    registry
        .approve(&requested.id, "alice", ApproverRole::Owner)
        .await
        .unwrap();
    clock.advance(registry.approval_validity() + Duration::from_secs(1));
    let half = registry
        .approve(&requested.id, "sam", ApproverRole::Security)
        .await
        .unwrap();
    assert_eq!(
        half.state,
        LifecycleState::Requested,
        "an expired approval must not count"
    );
}

/// The sample request for `id`, changed by `change`.
fn edit(id: &str, change: impl FnOnce(&mut NewIdentity)) -> NewIdentity {
    let mut request = sample_identity(id);
    change(&mut request);
    request
}

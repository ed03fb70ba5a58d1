//! Provisioning refuses every incomplete or over-broad request with its own error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{DAY, START, id, setup, valid};
use nhi_core::RiskTier;
use nhi_registry::{LifecycleState, RegistryError, TierLimit, TierLimits};

#[tokio::test]
async fn low_and_medium_start_active_high_and_critical_wait() {
    let (registry, _) = setup();
    for (name, tier, state) in [
        ("low", RiskTier::Low, LifecycleState::Active),
        ("medium", RiskTier::Medium, LifecycleState::Active),
        ("high", RiskTier::High, LifecycleState::Requested),
        ("critical", RiskTier::Critical, LifecycleState::Requested),
    ] {
        let record = registry.provision(valid(name, tier)).await.unwrap();
        assert_eq!(record.state, state, "{name}");
        assert_eq!(record.created_at, START);
        assert_eq!(registry.get(&record.id).await.unwrap(), record);
    }
}

#[tokio::test]
async fn usage_times_in_a_provision_request_are_ignored() {
    let (registry, _) = setup();
    let mut new = valid("fresh", RiskTier::Low);
    new.last_used_at = Some(START);
    new.last_rotated_at = Some(START);
    let record = registry.provision(new).await.unwrap();
    assert_eq!((record.last_used_at, record.last_rotated_at), (None, None));
}

#[tokio::test]
async fn each_missing_field_has_its_own_error() {
    let (registry, _) = setup();

    let mut new = valid("a", RiskTier::Low);
    new.owner = None;
    let err = registry.provision(new).await.unwrap_err();
    assert!(matches!(err, RegistryError::MissingOwner { .. }), "{err:?}");

    for purpose in [None, Some(String::new()), Some("   ".into())] {
        let mut new = valid("a", RiskTier::Low);
        new.purpose = purpose;
        let err = registry.provision(new).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::MissingPurpose { .. }),
            "{err:?}"
        );
    }

    let mut new = valid("a", RiskTier::Low);
    new.expires_at = None;
    let err = registry.provision(new).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::MissingExpiry { .. }),
        "{err:?}"
    );

    assert!(
        registry.list_all().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_purpose_is_one_short_sentence() {
    let (registry, _) = setup();
    let bad = [
        "Restarts pods.\nAlso deletes them.".to_owned(),
        "Restarts pods.\r".to_owned(),
        "Restarts\u{7}pods.".to_owned(),
        "x".repeat(201),
    ];
    for purpose in bad {
        let mut new = valid("a", RiskTier::Low);
        new.purpose = Some(purpose.clone());
        let err = registry.provision(new).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidPurpose { .. }),
            "{purpose:?}: {err:?}"
        );
    }

    // 200 characters, multi-byte ones included, is still fine.
    let mut new = valid("a", RiskTier::Low);
    new.purpose = Some("é".repeat(200));
    registry.provision(new).await.unwrap();
}

#[tokio::test]
async fn expiry_must_lie_in_the_future() {
    let (registry, clock) = setup();
    clock.advance(DAY);
    for expires_at in [START, START.saturating_add(DAY)] {
        let mut new = valid("a", RiskTier::Low);
        new.expires_at = Some(expires_at);
        let err = registry.provision(new).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::ExpiryNotInFuture { .. }),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn credential_lifetime_and_rotation_must_fit_the_tier() {
    let (registry, _) = setup();

    let mut new = valid("a", RiskTier::Critical);
    new.credential.lifetime = Duration::from_secs(16 * 60);
    let err = registry.provision(new).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::CredentialLifetimeTooLong {
                tier: RiskTier::Critical,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("15m"), "{err}");

    let mut new = valid("a", RiskTier::High);
    new.rotation_interval = 31 * DAY;
    let err = registry.provision(new).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::RotationIntervalTooLong { .. }),
        "{err:?}"
    );

    // Exactly at the limit is allowed.
    let mut new = valid("a", RiskTier::High);
    new.credential.lifetime = Duration::from_secs(3_600);
    new.rotation_interval = 30 * DAY;
    registry.provision(new).await.unwrap();
}

#[tokio::test]
async fn custom_tier_limits_apply() {
    let (registry, _) = setup();
    let tight = TierLimit {
        max_credential_lifetime: Duration::from_secs(60),
        max_rotation_interval: DAY,
    };
    let registry = registry.with_tier_limits(TierLimits::default().with_tier(RiskTier::Low, tight));
    let err = registry
        .provision(valid("a", RiskTier::Low))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::CredentialLifetimeTooLong { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn scopes_must_be_well_formed_and_within_allowed_systems() {
    let (registry, _) = setup();
    for scope in ["restart", ":restart", "k8s:", " :x", ""] {
        let mut new = valid("a", RiskTier::Low);
        new.scopes = [scope.to_owned()].into();
        let err = registry.provision(new).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::MalformedScope { .. }),
            "{scope:?}: {err:?}"
        );
    }

    let mut new = valid("a", RiskTier::Low);
    new.scopes.insert("github:push".into());
    let err = registry.provision(new).await.unwrap_err();
    match err {
        RegistryError::ScopeOutsideAllowedSystems { system, .. } => assert_eq!(system, "github"),
        other => panic!("{other:?}"),
    }

    let mut new = valid("a", RiskTier::Low);
    new.scopes.insert("k8s:prod/payments:restart".into());
    registry.provision(new).await.unwrap();
}

#[tokio::test]
async fn ids_are_never_shared_or_reused() {
    let (registry, _) = setup();
    let record = registry.provision(valid("a", RiskTier::Low)).await.unwrap();

    let err = registry
        .provision(valid("a", RiskTier::Low))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::AlreadyExists { .. }),
        "{err:?}"
    );
    let err = registry
        .import(valid("a", RiskTier::Low))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::AlreadyExists { .. }),
        "{err:?}"
    );

    for state in [
        LifecycleState::Disabled,
        LifecycleState::Deprovisioned,
        LifecycleState::Archived,
        LifecycleState::Tombstoned,
    ] {
        registry.transition(&record.id, state).await.unwrap();
    }
    let err = registry
        .provision(valid("a", RiskTier::Low))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::IdReused { .. }), "{err:?}");
    assert!(err.to_string().contains("`a`"), "{err}");
}

#[tokio::test]
async fn import_skips_owner_purpose_and_expiry_but_keeps_the_rest() {
    let (registry, _) = setup();
    let mut found = valid("legacy-cron", RiskTier::High);
    found.owner = None;
    found.purpose = None;
    found.expires_at = None;
    found.last_used_at = Some(START.saturating_sub(40 * DAY));
    found.last_rotated_at = Some(START.saturating_sub(400 * DAY));

    let record = registry.import(found.clone()).await.unwrap();
    assert_eq!(
        record.state,
        LifecycleState::Active,
        "imports are active even when high risk"
    );
    assert_eq!(record.last_used_at, found.last_used_at);
    assert_eq!(record.last_rotated_at, found.last_rotated_at);

    let mut bad = valid("legacy-2", RiskTier::Low);
    bad.scopes.insert("db:drop".into());
    let err = registry.import(bad).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::ScopeOutsideAllowedSystems { .. }),
        "{err:?}"
    );
    assert!(registry.get(&id("legacy-2")).await.is_err());
}

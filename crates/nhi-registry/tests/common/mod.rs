//! Shared fixtures for the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use nhi_core::{CredentialKind, IdentityId, IdentityKind, ManualClock, RiskTier, Timestamp};
use nhi_registry::{CredentialPolicy, MemoryStore, NewIdentity, Owner, Registry};

pub const START: Timestamp = Timestamp::from_unix_secs(1_767_225_600);
pub const DAY: Duration = Duration::from_secs(86_400);

pub fn id(text: &str) -> IdentityId {
    text.parse().unwrap()
}

pub fn setup() -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START));
    (
        Registry::new(Arc::new(MemoryStore::new()), clock.clone()),
        clock,
    )
}

/// A request every guard accepts at `START`.
pub fn valid(text: &str, tier: RiskTier) -> NewIdentity {
    NewIdentity {
        id: id(text),
        kind: IdentityKind::AiAgent,
        owner: Some(Owner {
            team: "platform".parse().unwrap(),
            person: Some("maria.lopez".into()),
        }),
        purpose: Some("Restarts unhealthy pods during incidents.".into()),
        environment: "production".parse().unwrap(),
        tenant: "acme".parse().unwrap(),
        allowed_systems: ["k8s".to_owned()].into(),
        scopes: ["k8s:restart".to_owned()].into(),
        credential: CredentialPolicy {
            kind: CredentialKind::Jwt,
            lifetime: Duration::from_secs(15 * 60),
        },
        rotation_interval: 7 * DAY,
        risk_tier: tier,
        expires_at: Some(START.saturating_add(180 * DAY)),
        decommission_at: None,
        last_used_at: None,
        last_rotated_at: None,
        labels: Default::default(),
    }
}

//! The identity record and the request that creates one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use nhi_core::{
    CredentialKind, Environment, IdentityId, IdentityKind, RiskTier, TeamName, TenantId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::state::LifecycleState;

/// Who answers for an identity: a team, and optionally one person in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// The owning team.
    pub team: TeamName,
    /// The person in that team who answers first, if named.
    #[serde(default)]
    pub person: Option<String>,
}

/// What credential an identity authenticates with and how long each one lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialPolicy {
    /// The credential kind.
    pub kind: CredentialKind,
    /// How long one issued credential stays valid, such as `15m`.
    #[serde(with = "nhi_core::duration_text")]
    pub lifetime: Duration,
}

/// The role in which someone approves a high-risk identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApproverRole {
    /// Someone from the owning team.
    Owner,
    /// Someone from the security team.
    Security,
}

impl fmt::Display for ApproverRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Owner => "owner",
            Self::Security => "security",
        })
    }
}

/// One recorded approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// In which role.
    pub role: ApproverRole,
    /// When.
    pub at: Timestamp,
}

/// A request to register an identity, through [`Registry::provision`] or
/// [`Registry::import`].
///
/// It deserializes from configuration (TOML, JSON); unknown fields are refused so that a
/// misspelt field is not silently ignored. Durations are written as text (`15m`, `90d`).
///
/// [`Registry::provision`]: crate::Registry::provision
/// [`Registry::import`]: crate::Registry::import
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIdentity {
    /// The identity's id, unique forever.
    pub id: IdentityId,
    /// What sort of identity it is.
    pub kind: IdentityKind,
    /// Who answers for it; required by provisioning.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// What it is for, in one sentence; required by provisioning.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The environment it is bound to.
    pub environment: Environment,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// The systems it may reach, such as `k8s` or `github`.
    #[serde(default)]
    pub allowed_systems: BTreeSet<String>,
    /// Its permissions, each written `system:permission`, such as `k8s:restart`.
    #[serde(default)]
    pub scopes: BTreeSet<String>,
    /// Its credential kind and lifetime.
    pub credential: CredentialPolicy,
    /// How often its credential must be rotated at most.
    #[serde(with = "nhi_core::duration_text")]
    pub rotation_interval: Duration,
    /// How much damage it could do.
    pub risk_tier: RiskTier,
    /// When it stops being valid; required by provisioning.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// When it is planned to be decommissioned.
    #[serde(default)]
    pub decommission_at: Option<Timestamp>,
    /// When it was last seen acting; only kept by import.
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    /// When its credential was last rotated; only kept by import.
    #[serde(default)]
    pub last_rotated_at: Option<Timestamp>,
    /// Free-form labels for search and reporting.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Everything the registry knows about one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// The identity's id, unique forever.
    pub id: IdentityId,
    /// What sort of identity it is.
    pub kind: IdentityKind,
    /// Who answers for it.
    pub owner: Option<Owner>,
    /// What it is for.
    pub purpose: Option<String>,
    /// The environment it is bound to.
    pub environment: Environment,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// The systems it may reach.
    pub allowed_systems: BTreeSet<String>,
    /// Its permissions, each written `system:permission`.
    pub scopes: BTreeSet<String>,
    /// Its credential kind and lifetime.
    pub credential: CredentialPolicy,
    /// How often its credential must be rotated at most.
    #[serde(with = "nhi_core::duration_text")]
    pub rotation_interval: Duration,
    /// How much damage it could do.
    pub risk_tier: RiskTier,
    /// When it stops being valid.
    pub expires_at: Option<Timestamp>,
    /// When it is planned to be decommissioned.
    pub decommission_at: Option<Timestamp>,
    /// When it was last seen acting.
    pub last_used_at: Option<Timestamp>,
    /// When its credential was last rotated.
    pub last_rotated_at: Option<Timestamp>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// The approvals given so far.
    pub approvals: Vec<Approval>,
    /// The revocation epoch: every credential issued before it is dead.
    pub revoked_before: Option<Timestamp>,
    /// When it was disabled, which killed its credentials: the first step of
    /// decommissioning.
    #[serde(default)]
    pub disabled_at: Option<Timestamp>,
    /// Its lifecycle state.
    pub state: LifecycleState,
    /// When it entered that state.
    pub state_changed_at: Timestamp,
    /// The identity this one replaced.
    pub supersedes: Option<IdentityId>,
    /// The identity that replaced this one.
    pub superseded_by: Option<IdentityId>,
    /// The optimistic-concurrency version: a store accepts an update only for the
    /// version it holds, and bumps it.
    pub version: u64,
}

impl IdentityRecord {
    /// The version a freshly created record starts at.
    pub const FIRST_VERSION: u64 = 1;

    /// A record built from a request, in `state`, created at `now`.
    ///
    /// Whether the request is acceptable is the registry's business; this only copies.
    pub fn from_new(new: NewIdentity, state: LifecycleState, now: Timestamp) -> Self {
        Self {
            id: new.id,
            kind: new.kind,
            owner: new.owner,
            purpose: new.purpose,
            environment: new.environment,
            tenant: new.tenant,
            allowed_systems: new.allowed_systems,
            scopes: new.scopes,
            credential: new.credential,
            rotation_interval: new.rotation_interval,
            risk_tier: new.risk_tier,
            expires_at: new.expires_at,
            decommission_at: new.decommission_at,
            last_used_at: new.last_used_at,
            last_rotated_at: new.last_rotated_at,
            labels: new.labels,
            created_at: now,
            approvals: Vec::new(),
            revoked_before: None,
            disabled_at: None,
            state,
            state_changed_at: now,
            supersedes: None,
            superseded_by: None,
            version: Self::FIRST_VERSION,
        }
    }

    /// Whether the identity's expiry has been reached at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether a credential issued at `issued_at` predates the revocation epoch and is
    /// therefore dead.
    ///
    /// Signed tokens state their issue time in whole seconds, so the comparison is made
    /// in whole seconds and a credential issued in the same second as the epoch counts
    /// as too early: a token minted just before a kill switch must never survive it.
    /// The price is that a credential issued within that second is dead on arrival;
    /// issuers wait for the next second.
    pub fn credential_issued_too_early(&self, issued_at: Timestamp) -> bool {
        self.revoked_before
            .is_some_and(|epoch| issued_at.unix_secs() <= epoch.unix_secs())
    }

    /// Whether a purpose is recorded and not blank.
    pub fn has_purpose(&self) -> bool {
        self.purpose
            .as_deref()
            .is_some_and(|p| !p.trim().is_empty())
    }

    /// When the credential was last renewed: the last rotation, or creation if never.
    pub fn credential_renewed_at(&self) -> Timestamp {
        self.last_rotated_at.unwrap_or(self.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML_LIKE_JSON: &str = r#"{
        "id": "restart-agent",
        "kind": "ai-agent",
        "owner": { "team": "platform" },
        "purpose": "Restarts unhealthy payment pods during incidents.",
        "environment": "production",
        "tenant": "acme",
        "allowed_systems": ["k8s"],
        "scopes": ["k8s:restart"],
        "credential": { "kind": "jwt", "lifetime": "15m" },
        "rotation_interval": "7d",
        "risk_tier": "high",
        "expires_at": "2026-06-30T00:00:00Z"
    }"#;

    #[test]
    fn a_request_reads_from_configuration_text() {
        let new: NewIdentity = serde_json::from_str(TOML_LIKE_JSON).unwrap();
        assert_eq!(new.credential.lifetime, Duration::from_secs(900));
        assert_eq!(new.rotation_interval, Duration::from_secs(7 * 86_400));
        assert_eq!(new.owner.unwrap().person, None);
        assert!(new.labels.is_empty());
    }

    #[test]
    fn misspelt_fields_are_refused() {
        let typo = TOML_LIKE_JSON.replace("\"scopes\"", "\"scope\"");
        let err = serde_json::from_str::<NewIdentity>(&typo).unwrap_err();
        assert!(err.to_string().contains("scope"), "{err}");
    }

    #[test]
    fn records_round_trip_through_json() {
        let new: NewIdentity = serde_json::from_str(TOML_LIKE_JSON).unwrap();
        let now = Timestamp::from_unix_secs(1_767_225_600);
        let mut record = IdentityRecord::from_new(new, LifecycleState::Requested, now);
        record.approvals.push(Approval {
            approver: "alice".into(),
            role: ApproverRole::Owner,
            at: now,
        });
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"state\":\"requested\""), "{json}");
        assert!(json.contains("\"role\":\"owner\""), "{json}");
        assert_eq!(
            serde_json::from_str::<IdentityRecord>(&json).unwrap(),
            record
        );
    }

    #[test]
    fn revocation_epoch_kills_older_credentials_only() {
        let new: NewIdentity = serde_json::from_str(TOML_LIKE_JSON).unwrap();
        let mut record = IdentityRecord::from_new(new, LifecycleState::Active, Timestamp::EPOCH);
        let epoch = Timestamp::from_unix_secs(1_000);
        assert!(!record.credential_issued_too_early(Timestamp::EPOCH));
        record.revoked_before = Some(epoch);
        assert!(record.credential_issued_too_early(Timestamp::from_unix_secs(999)));
        assert!(!record.credential_issued_too_early(Timestamp::from_unix_secs(1_001)));
    }

    #[test]
    fn a_credential_from_the_same_second_as_the_epoch_is_dead() {
        // tokens carry whole seconds: one minted at 1000.2 says `iat = 1000`
        let new: NewIdentity = serde_json::from_str(TOML_LIKE_JSON).unwrap();
        let mut record = IdentityRecord::from_new(new, LifecycleState::Active, Timestamp::EPOCH);
        record.revoked_before = Some(Timestamp::from_unix_nanos(1_000_700_000_000));
        assert!(record.credential_issued_too_early(Timestamp::from_unix_secs(1_000)));
        assert!(record.credential_issued_too_early(Timestamp::from_unix_nanos(1_000_900_000_000)));
    }

    #[test]
    fn expiry_is_reached_at_the_instant() {
        let new: NewIdentity = serde_json::from_str(TOML_LIKE_JSON).unwrap();
        let record = IdentityRecord::from_new(new, LifecycleState::Active, Timestamp::EPOCH);
        let at = record.expires_at.unwrap();
        assert!(!record.is_expired(at.saturating_sub(Duration::from_nanos(1))));
        assert!(record.is_expired(at));
    }
}

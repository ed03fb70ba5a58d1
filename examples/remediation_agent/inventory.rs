//! Reads the estate's inventory file into provisioning requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use nhi::core::{Environment, IdentityId, IdentityKind, RiskTier, TeamName, TenantId, Timestamp};
use nhi::registry::{ApproverRole, CredentialPolicy, NewIdentity, Owner};
use serde::{Deserialize, Deserializer};

/// The whole inventory: the teams that exist and every identity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Inventory {
    pub(crate) teams: BTreeSet<TeamName>,
    pub(crate) identity: Vec<Entry>,
}

/// One identity as the inventory describes it, with times relative to now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry {
    pub(crate) id: IdentityId,
    pub(crate) kind: IdentityKind,
    #[serde(default)]
    pub(crate) discovered: bool,
    pub(crate) owner: Option<Owner>,
    pub(crate) purpose: Option<String>,
    pub(crate) environment: Environment,
    pub(crate) tenant: TenantId,
    #[serde(default)]
    pub(crate) allowed_systems: BTreeSet<String>,
    #[serde(default)]
    pub(crate) scopes: BTreeSet<String>,
    pub(crate) credential: CredentialPolicy,
    pub(crate) rotation_interval: Relative,
    pub(crate) risk_tier: RiskTier,
    pub(crate) expires_in: Option<Relative>,
    pub(crate) expired_ago: Option<Relative>,
    pub(crate) decommission_in: Option<Relative>,
    pub(crate) last_used_ago: Option<Relative>,
    pub(crate) rotated_ago: Option<Relative>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) approvals: Vec<EntryApproval>,
}

/// An approval the inventory records for a high-risk request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryApproval {
    pub(crate) approver: String,
    pub(crate) role: ApproverRole,
}

/// A duration written as text (`90d`), read with the same rules as the rest of nhi.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Relative(pub(crate) Duration);

impl<'de> Deserialize<'de> for Relative {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        nhi::core::parse_duration(&text)
            .map(Relative)
            .map_err(serde::de::Error::custom)
    }
}

impl Inventory {
    /// Reads and checks an inventory file; errors name the file, line and column.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read inventory `{}`: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| format!("inventory `{}` is malformed: {e}", path.display()))
    }
}

impl Entry {
    /// The provisioning request for this entry, with relative times made absolute.
    pub(crate) fn to_new_identity(&self, now: Timestamp) -> NewIdentity {
        let ahead = |r: &Option<Relative>| r.map(|Relative(d)| now.saturating_add(d));
        let ago = |r: &Option<Relative>| r.map(|Relative(d)| now.saturating_sub(d));
        NewIdentity {
            id: self.id.clone(),
            kind: self.kind,
            owner: self.owner.clone(),
            purpose: self.purpose.clone(),
            environment: self.environment.clone(),
            tenant: self.tenant.clone(),
            allowed_systems: self.allowed_systems.clone(),
            scopes: self.scopes.clone(),
            credential: self.credential.clone(),
            rotation_interval: self.rotation_interval.0,
            risk_tier: self.risk_tier,
            expires_at: ahead(&self.expires_in).or(ago(&self.expired_ago)),
            decommission_at: ahead(&self.decommission_in),
            last_used_at: ago(&self.last_used_ago),
            last_rotated_at: ago(&self.rotated_ago),
            labels: self.labels.clone(),
        }
    }
}

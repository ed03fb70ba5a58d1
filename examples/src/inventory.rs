//! Reads an estate's inventory file into provisioning requests.
//!
//! The inventory lists the teams that exist and every identity, with times written
//! relative to now (`expires_in = "90d"`, `last_used_ago = "150d"`) so that a shipped
//! estate ages the same way whenever it is loaded. Entries marked `discovered = true`
//! were found by a scan and are imported as they are; the others are provisioning
//! requests that pass the registry's guard rails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nhi::core::{Environment, IdentityId, IdentityKind, RiskTier, TeamName, TenantId, Timestamp};
use nhi::registry::{ApproverRole, CredentialPolicy, NewIdentity, Owner};
use serde::{Deserialize, Deserializer};

/// The whole inventory: the teams that exist and every identity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Teams that exist today; identities owned by any other team are orphans.
    pub teams: BTreeSet<TeamName>,
    /// Every identity of the estate.
    pub identity: Vec<Entry>,
}

/// One identity as the inventory describes it, with times relative to now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The identity id.
    pub id: IdentityId,
    /// What sort of identity it is.
    pub kind: IdentityKind,
    /// Found by a scan: imported as it is rather than provisioned.
    #[serde(default)]
    pub discovered: bool,
    /// The owning team and person.
    pub owner: Option<Owner>,
    /// One sentence saying why it exists.
    pub purpose: Option<String>,
    /// Where it runs.
    pub environment: Environment,
    /// Whom it acts for.
    pub tenant: TenantId,
    /// Systems it may touch.
    #[serde(default)]
    pub allowed_systems: BTreeSet<String>,
    /// Permissions, written `system:action`.
    #[serde(default)]
    pub scopes: BTreeSet<String>,
    /// Credential kind and lifetime.
    pub credential: CredentialPolicy,
    /// How often its credential must be rotated.
    pub rotation_interval: Relative,
    /// How much harm it could do.
    pub risk_tier: RiskTier,
    /// Expiry, this far in the future.
    pub expires_in: Option<Relative>,
    /// Expiry, this far in the past.
    pub expired_ago: Option<Relative>,
    /// Planned decommission, this far in the future.
    pub decommission_in: Option<Relative>,
    /// Last seen this long ago.
    pub last_used_ago: Option<Relative>,
    /// Last rotated this long ago.
    pub rotated_ago: Option<Relative>,
    /// Free-form labels policy can match on.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Approvals recorded for a high-risk request.
    #[serde(default)]
    pub approvals: Vec<EntryApproval>,
}

/// An approval the inventory records for a high-risk request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryApproval {
    /// Who approved.
    pub approver: String,
    /// In which role.
    pub role: ApproverRole,
}

/// A duration written as text (`90d`), read with the same rules as the rest of nhi.
#[derive(Debug, Clone, Copy)]
pub struct Relative(pub Duration);

impl<'de> Deserialize<'de> for Relative {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        nhi::core::parse_duration(&text)
            .map(Relative)
            .map_err(serde::de::Error::custom)
    }
}

impl Inventory {
    /// Reads and checks an inventory file.
    ///
    /// # Errors
    ///
    /// [`InventoryError::Read`] when the file cannot be read, and
    /// [`InventoryError::Malformed`] naming the line and column of the first mistake.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|error| match error {
            InventoryError::Malformed { source, .. } => InventoryError::Malformed {
                path: Some(path.to_path_buf()),
                source,
            },
            other => other,
        })
    }

    /// Reads an inventory from text.
    ///
    /// # Errors
    ///
    /// [`InventoryError::Malformed`] naming the line and column of the first mistake.
    pub fn parse(text: &str) -> Result<Self, InventoryError> {
        let inventory: Self = toml::from_str(text)
            .map_err(|source| InventoryError::Malformed { path: None, source })?;
        inventory.check()?;
        Ok(inventory)
    }

    /// Checks what the file format alone cannot: unique ids, one expiry per entry,
    /// and relative times within a century.
    fn check(&self) -> Result<(), InventoryError> {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
        let mut seen = BTreeSet::new();
        for entry in &self.identity {
            let invalid = |reason: String| InventoryError::Invalid {
                id: entry.id.clone(),
                reason,
            };
            if !seen.insert(&entry.id) {
                return Err(invalid("the id is listed twice".into()));
            }
            if entry.expires_in.is_some() && entry.expired_ago.is_some() {
                return Err(invalid(
                    "give `expires_in` or `expired_ago`, not both".into(),
                ));
            }
            let times = [
                ("rotation_interval", Some(entry.rotation_interval)),
                ("expires_in", entry.expires_in),
                ("expired_ago", entry.expired_ago),
                ("decommission_in", entry.decommission_in),
                ("last_used_ago", entry.last_used_ago),
                ("rotated_ago", entry.rotated_ago),
            ];
            for (field, value) in times {
                if value.is_some_and(|Relative(d)| d > CENTURY) {
                    return Err(invalid(format!("`{field}` is more than a hundred years")));
                }
            }
        }
        Ok(())
    }
}

/// Why an inventory could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The file could not be read.
    #[error("cannot read inventory `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An entry is well formed but makes no sense.
    #[error("inventory entry `{id}`: {reason}")]
    Invalid {
        /// The entry's identity id.
        id: IdentityId,
        /// What is wrong.
        reason: String,
    },
    /// The text is not a valid inventory; the message names the line and column.
    #[error("inventory{} is malformed: {source}", path.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default())]
    Malformed {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// The parser's error, with its position.
        #[source]
        source: toml::de::Error,
    },
}

impl Entry {
    /// The provisioning request for this entry, with relative times made absolute.
    pub fn to_new_identity(&self, now: Timestamp) -> NewIdentity {
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

//! Change notices: what a store tells other nodes after it committed a write.

use nhi_core::IdentityId;
use serde::{Deserialize, Serialize};

use crate::record::IdentityRecord;
use crate::state::LifecycleState;

/// One committed change of one identity record, as announced to other nodes.
///
/// It carries no record content, only enough to decide whether a cached copy is stale:
/// a copy whose version is lower than [`Change::version`] is out of date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The identity that changed.
    pub id: IdentityId,
    /// Its version after the change.
    pub version: u64,
    /// Its lifecycle state after the change.
    pub state: LifecycleState,
}

impl Change {
    /// The notice for `record` as just stored.
    pub fn of(record: &IdentityRecord) -> Self {
        Self {
            id: record.id.clone(),
            version: record.version,
            state: record.state,
        }
    }

    /// Whether a copy of the record at `version` is older than this change.
    pub fn supersedes_version(&self, version: u64) -> bool {
        version < self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_from_json_and_refuse_unknown_states() {
        let json = r#"{"id":"bot-1","version":7,"state":"suspended"}"#;
        let change: Change = serde_json::from_str(json).unwrap();
        assert_eq!(change.state, LifecycleState::Suspended);
        assert!(change.supersedes_version(6));
        assert!(!change.supersedes_version(7));
        assert!(serde_json::from_str::<Change>(&json.replace("suspended", "gone")).is_err());
        assert!(serde_json::from_str::<Change>(&json.replace("bot-1", "bad id!")).is_err());
    }
}

//! Finding identities by what a review asks: tenant, environment, state, owner, kind,
//! tier, label.

use std::collections::{BTreeMap, BTreeSet};

use nhi_core::{Environment, IdentityKind, RiskTier, TeamName, TenantId};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::registry::Registry;
use crate::state::LifecycleState;

/// Which identities [`Registry::find`] returns: those matching every condition given;
/// an empty query matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityQuery {
    /// Only this tenant.
    #[serde(default)]
    pub tenant: Option<TenantId>,
    /// Only this environment.
    #[serde(default)]
    pub environment: Option<Environment>,
    /// Only these states; empty means any.
    #[serde(default)]
    pub states: BTreeSet<LifecycleState>,
    /// Only identities owned by this team.
    #[serde(default)]
    pub owner_team: Option<TeamName>,
    /// Only this kind.
    #[serde(default)]
    pub kind: Option<IdentityKind>,
    /// Only this risk tier.
    #[serde(default)]
    pub risk_tier: Option<RiskTier>,
    /// Only identities carrying every one of these labels with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl IdentityQuery {
    /// Whether `record` matches every condition.
    pub fn matches(&self, record: &IdentityRecord) -> bool {
        let team = record.owner.as_ref().map(|o| &o.team);
        self.tenant.as_ref().is_none_or(|t| *t == record.tenant)
            && self
                .environment
                .as_ref()
                .is_none_or(|e| *e == record.environment)
            && (self.states.is_empty() || self.states.contains(&record.state))
            && self.owner_team.as_ref().is_none_or(|t| Some(t) == team)
            && self.kind.is_none_or(|k| k == record.kind)
            && self.risk_tier.is_none_or(|t| t == record.risk_tier)
            && self
                .labels
                .iter()
                .all(|(key, value)| record.labels.get(key) == Some(value))
    }
}

impl Registry {
    /// Every identity matching `query`, in id order, found in one walk of the store.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn find(&self, query: &IdentityQuery) -> Result<Vec<IdentityRecord>, RegistryError> {
        let mut found = Vec::new();
        self.store()
            .scan(&mut |record| {
                if query.matches(record) {
                    found.push(record.clone());
                }
            })
            .await?;
        found.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::record_in_state;

    #[test]
    fn every_condition_must_hold() {
        let mut record = record_in_state("q", LifecycleState::Active);
        record.labels.insert("cost-center".into(), "42".into());
        assert!(IdentityQuery::default().matches(&record));

        let mut query = IdentityQuery {
            tenant: Some("acme".parse().unwrap()),
            owner_team: Some("platform".parse().unwrap()),
            states: [LifecycleState::Active, LifecycleState::Suspended].into(),
            ..IdentityQuery::default()
        };
        query.labels.insert("cost-center".into(), "42".into());
        assert!(query.matches(&record));

        query.labels.insert("cost-center".into(), "43".into());
        assert!(!query.matches(&record));
        let other_env = IdentityQuery {
            environment: Some("staging".parse().unwrap()),
            ..IdentityQuery::default()
        };
        assert!(!other_env.matches(&record));
        record.owner = None;
        let by_team = IdentityQuery {
            owner_team: Some("platform".parse().unwrap()),
            ..IdentityQuery::default()
        };
        assert!(!by_team.matches(&record));
    }

    #[test]
    fn queries_read_from_json_and_refuse_typos() {
        let query: IdentityQuery =
            serde_json::from_str(r#"{"tenant":"acme","states":["quarantined"]}"#).unwrap();
        assert!(query.states.contains(&LifecycleState::Quarantined));
        assert!(serde_json::from_str::<IdentityQuery>(r#"{"tenants":"acme"}"#).is_err());
    }
}

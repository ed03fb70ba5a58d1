//! Approvals granted by people for actions that policy holds for approval.

use dashmap::DashMap;
use nhi_core::{Action, IdentityId, IncidentId, Resource, Timestamp};
use nhi_policy::ApprovalScope;
use serde::Serialize;

/// A person's approval for one identity to perform one action on one resource.
///
/// Each grant is used once: the first request it covers consumes it, so a second
/// destructive action needs a second approval. With
/// [`ApprovalScope::OncePerIncident`] the grant covers only requests that carry the
/// same incident id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalGrant {
    /// Who may act.
    pub identity: IdentityId,
    /// What they may do.
    pub action: Action,
    /// On what.
    pub resource: Resource,
    /// The incident the approval is bound to, when its scope is per incident.
    pub incident: Option<IncidentId>,
    /// Who approved (a person or an on-call role).
    pub approver: String,
    /// How long the approval holds.
    pub scope: ApprovalScope,
    /// When it stops holding, used or not.
    pub expires_at: Timestamp,
}

/// Unused grants, by identity.
#[derive(Debug, Default)]
pub(crate) struct ApprovalLedger {
    grants: DashMap<IdentityId, Vec<ApprovalGrant>>,
}

impl ApprovalLedger {
    pub(crate) fn add(&self, grant: ApprovalGrant) {
        self.grants
            .entry(grant.identity.clone())
            .or_default()
            .push(grant);
    }

    /// Finds a grant covering the request without using it.
    pub(crate) fn find(
        &self,
        identity: &IdentityId,
        action: &Action,
        resource: &Resource,
        incident: Option<&IncidentId>,
        now: Timestamp,
    ) -> Option<ApprovalGrant> {
        let grants = self.grants.get(identity)?;
        grants
            .iter()
            .find(|g| covers(g, action, resource, incident, now))
            .cloned()
    }

    /// Uses up the grant; returns false when another request consumed it first.
    pub(crate) fn consume(&self, grant: &ApprovalGrant) -> bool {
        let Some(mut grants) = self.grants.get_mut(&grant.identity) else {
            return false;
        };
        match grants.iter().position(|g| g == grant) {
            Some(index) => {
                grants.swap_remove(index);
                true
            }
            None => false,
        }
    }

    /// Drops every unused grant of an identity (it was suspended or decommissioned).
    pub(crate) fn revoke_all(&self, identity: &IdentityId) -> usize {
        self.grants
            .remove(identity)
            .map(|(_, grants)| grants.len())
            .unwrap_or(0)
    }
}

fn covers(
    grant: &ApprovalGrant,
    action: &Action,
    resource: &Resource,
    incident: Option<&IncidentId>,
    now: Timestamp,
) -> bool {
    let incident_ok = match grant.scope {
        ApprovalScope::OncePerIncident => {
            grant.incident.is_some() && grant.incident.as_ref() == incident
        }
        _ => true,
    };
    &grant.action == action && &grant.resource == resource && incident_ok && now < grant.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scope: ApprovalScope, incident: Option<&str>) -> ApprovalGrant {
        ApprovalGrant {
            identity: IdentityId::new("restart-agent").unwrap(),
            action: Action::new("deployment.restart").unwrap(),
            resource: "k8s:prod/payments/api".parse().unwrap(),
            incident: incident.map(|i| IncidentId::new(i).unwrap()),
            approver: "alice".into(),
            scope,
            expires_at: Timestamp::from_unix_secs(1000),
        }
    }

    #[test]
    fn a_grant_is_used_once() {
        let ledger = ApprovalLedger::default();
        let g = grant(ApprovalScope::Once, None);
        ledger.add(g.clone());
        let now = Timestamp::from_unix_secs(10);
        let found = ledger
            .find(&g.identity, &g.action, &g.resource, None, now)
            .unwrap();
        assert!(ledger.consume(&found));
        assert!(!ledger.consume(&found));
        assert!(
            ledger
                .find(&g.identity, &g.action, &g.resource, None, now)
                .is_none()
        );
    }

    #[test]
    fn per_incident_grants_need_the_same_incident() {
        let ledger = ApprovalLedger::default();
        let g = grant(ApprovalScope::OncePerIncident, Some("INC-1"));
        ledger.add(g.clone());
        let now = Timestamp::from_unix_secs(10);
        let other = IncidentId::new("INC-2").unwrap();
        assert!(
            ledger
                .find(&g.identity, &g.action, &g.resource, None, now)
                .is_none()
        );
        assert!(
            ledger
                .find(&g.identity, &g.action, &g.resource, Some(&other), now)
                .is_none()
        );
        let same = IncidentId::new("INC-1").unwrap();
        assert!(
            ledger
                .find(&g.identity, &g.action, &g.resource, Some(&same), now)
                .is_some()
        );
    }

    #[test]
    fn expired_grants_cover_nothing() {
        let ledger = ApprovalLedger::default();
        let g = grant(ApprovalScope::Once, None);
        ledger.add(g.clone());
        let late = Timestamp::from_unix_secs(1000);
        assert!(
            ledger
                .find(&g.identity, &g.action, &g.resource, None, late)
                .is_none()
        );
    }
}

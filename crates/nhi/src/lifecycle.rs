//! The lifecycle operations: provision, approve, issue, rotate, suspend, reinstate,
//! decommission and reconcile, each recorded in the audit trail.

use std::sync::atomic::Ordering;
use std::time::Duration;

use nhi_audit::{AuditEvent, EventKind};
use nhi_core::{Clock, IdentityId, Timestamp};
use nhi_credentials::{IssueRequest, IssuedCredential};
use nhi_registry::{
    ApproverRole, IdentityRecord, LifecycleState, NewIdentity, ReconcilePolicy, ReconcileReport,
    Transition,
};
use serde_json::json;

use crate::approvals::ApprovalGrant;
use crate::error::Error;
use crate::ledger::{IssuedEntry, RevocationCause};
use crate::plane::ControlPlane;

impl ControlPlane {
    /// Provisions a new identity through the registry's guard rails. Low and medium
    /// risk identities are active at once; high and critical ones wait in `requested`
    /// for an owner's and a security approver's sign-off.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when a guard rail refuses the record (no owner, no purpose,
    /// no expiry, a lifetime above the tier's maximum, a reused id...), and
    /// [`Error::AuditUnavailable`] when the audit trail cannot record it.
    pub async fn provision(&self, new: NewIdentity) -> Result<IdentityRecord, Error> {
        let record = self.inner.registry.provision(new).await?;
        let message = format!(
            "{} provisioned as {} ({} risk)",
            record.id, record.state, record.risk_tier
        );
        let event = self
            .lifecycle_event(EventKind::IdentityProvisioned, &record, message)
            .after(summary(&record));
        self.inner.audit(event, "provisioning").await?;
        Ok(record)
    }

    /// Registers an identity that already exists in the estate, as it is, so that
    /// reconciliation can find what is wrong with it.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] for a duplicate or tombstoned id;
    /// [`Error::AuditUnavailable`] when the audit trail cannot record it.
    pub async fn import(&self, new: NewIdentity) -> Result<IdentityRecord, Error> {
        let record = self.inner.registry.import(new).await?;
        let message = format!("{} imported from inventory", record.id);
        let event = self
            .lifecycle_event(EventKind::IdentityImported, &record, message)
            .after(summary(&record));
        self.inner.audit(event, "import").await?;
        Ok(record)
    }

    /// Records a person's approval of a requested identity.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the identity is not waiting for approval, the approver
    /// already approved, or the identity tries to approve itself.
    pub async fn approve(
        &self,
        id: &IdentityId,
        approver: &str,
        role: ApproverRole,
    ) -> Result<IdentityRecord, Error> {
        let before = self.inner.registry.get(id).await?;
        let record = self.inner.registry.approve(id, approver, role).await?;
        let message = format!("{id} approved by {approver}; now {}", record.state);
        let event = self
            .lifecycle_event(EventKind::IdentityApproved, &record, message)
            .approval(approver, role.to_string())
            .before(json!({ "state": before.state }))
            .after(json!({ "state": record.state }));
        self.inner.audit(event, "approval").await?;
        Ok(record)
    }

    /// Issues a short-lived credential to an active identity, with the kind, lifetime
    /// and scopes its record sets.
    ///
    /// # Errors
    ///
    /// [`Error::NotUsable`] when the identity is not active, [`Error::Expired`] past its
    /// expiry, [`Error::NoProvider`] when no provider handles its credential kind, and
    /// provider or audit failures.
    pub async fn issue_credential(&self, id: &IdentityId) -> Result<IssuedCredential, Error> {
        let inner = &self.inner;
        let record = inner.registry.get(id).await?;
        let now = inner.clock.now();
        if !record.state.is_usable() {
            return Err(Error::NotUsable {
                id: id.clone(),
                state: record.state,
                operation: "get a credential",
            });
        }
        if record.is_expired(now) {
            return Err(Error::Expired { id: id.clone() });
        }
        if record.credential_issued_too_early(now) {
            return Err(Error::NotUsable {
                id: id.clone(),
                state: record.state,
                operation: "get a credential in the second its credentials were revoked",
            });
        }

        let provider = inner.provider(record.credential.kind)?;
        let request = IssueRequest {
            identity: record.id.clone(),
            tenant: record.tenant.clone(),
            environment: record.environment.clone(),
            scopes: record.scopes.iter().cloned().collect(),
            lifetime: Some(record.credential.lifetime),
            audience: None,
        };
        let issued = provider.issue(&request).await?;
        inner.ledger.record(
            issued.credential_id.clone(),
            IssuedEntry {
                identity: record.id.clone(),
                kind: issued.kind,
                issued_at: issued.issued_at,
                expires_at: issued.expires_at,
                revoked: None,
            },
        );
        inner
            .counters
            .credentials_issued
            .fetch_add(1, Ordering::Relaxed);

        let message = format!(
            "{} credential issued to {id}, valid until {}",
            issued.kind, issued.expires_at
        );
        let event = self
            .lifecycle_event(EventKind::CredentialIssued, &record, message)
            .credential(issued.credential_id.clone());
        inner.audit(event, "credential issue").await?;
        Ok(issued)
    }

    /// Rotates an identity's credential with an overlap window: the new credential
    /// works at once, and every older live credential keeps working for `overlap`,
    /// then is revoked.
    ///
    /// # Errors
    ///
    /// As [`issue_credential`](Self::issue_credential), plus revocation-list failures.
    pub async fn rotate_credential(
        &self,
        id: &IdentityId,
        overlap: Duration,
    ) -> Result<IssuedCredential, Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let older = inner.ledger.live_for(id, now);

        let issued = self.issue_credential(id).await?;
        let retire_at = now.saturating_add(overlap);
        for (credential_id, entry) in &older {
            let until = entry.expires_at.max(retire_at);
            inner
                .revocations
                .revoke(credential_id, retire_at, until)
                .await?;
            inner
                .ledger
                .mark_revoked(credential_id, retire_at, RevocationCause::Rotated);
            inner
                .counters
                .credentials_revoked
                .fetch_add(1, Ordering::Relaxed);
            let message = format!("{credential_id} of {id} retires at {retire_at} (rotated)");
            let event = AuditEvent::new(EventKind::CredentialRevoked, now, message)
                .identity(id.clone())
                .credential(credential_id.clone())
                .result("retired by rotation");
            inner.audit(event, "credential revocation").await?;
        }
        let record = inner.registry.record_rotation(id, now).await?;

        let retired: Vec<&str> = older.iter().map(|(c, _)| c.as_str()).collect();
        let message = format!(
            "{id} rotated: new credential now, {} older retire at {retire_at}",
            retired.len()
        );
        let event = self
            .lifecycle_event(EventKind::CredentialRotated, &record, message)
            .credential(issued.credential_id.clone())
            .before(json!({ "live_credentials": retired }))
            .after(json!({ "new_credential": issued.credential_id, "old_retire_at": retire_at }));
        inner.audit(event, "credential rotation").await?;
        Ok(issued)
    }

    /// Grants a person's approval for one action that policy holds for approval.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the identity is unknown;
    /// [`Error::AuditUnavailable`] when the grant cannot be recorded.
    pub async fn grant_approval(&self, grant: ApprovalGrant) -> Result<(), Error> {
        let record = self.inner.registry.get(&grant.identity).await?;
        let message = format!(
            "{} approved {} on {} for {} ({})",
            grant.approver,
            grant.action,
            grant.resource,
            record.id,
            grant.scope.as_str()
        );
        let mut event = self
            .lifecycle_event(EventKind::ApprovalGranted, &record, message)
            .action(grant.action.clone())
            .target(grant.resource.clone())
            .approval(grant.approver.clone(), grant.scope.as_str());
        if let Some(incident) = &grant.incident {
            event = event.incident(incident.clone());
        }
        self.inner.audit(event, "approval grant").await?;
        self.inner.approvals.add(grant);
        Ok(())
    }

    /// Suspends an identity: its credentials stop working at once.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the identity is not active.
    pub async fn suspend(&self, id: &IdentityId, reason: &str) -> Result<Transition, Error> {
        let triggered_at = self.inner.clock.now();
        let transition = self
            .change_state(id, LifecycleState::Suspended, reason)
            .await?;
        self.kill_credentials(id, triggered_at).await?;
        self.inner
            .counters
            .record_time_to_revoke(self.inner.clock.now().duration_since(triggered_at));
        Ok(transition)
    }

    /// Returns a suspended or quarantined identity to service after review and re-arms
    /// its kill switch. Credentials from before the suspension stay dead: it needs a
    /// new one.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the identity is in no state to be reinstated.
    pub async fn reinstate(&self, id: &IdentityId, reason: &str) -> Result<Transition, Error> {
        let transition = self
            .change_state(id, LifecycleState::Active, reason)
            .await?;
        self.inner.limiter.reinstate(id.as_str()).await?;
        self.inner.denials.reset(id);
        Ok(transition)
    }

    /// Moves an identity one stage further through decommissioning: `disabled` (its
    /// credentials die), `deprovisioned` (its permissions are removed), `archived` (its
    /// evidence is sealed), `tombstoned` (its id can never be used again).
    ///
    /// # Errors
    ///
    /// [`Error::DecommissionComplete`] when it is already tombstoned, and registry or
    /// audit failures.
    pub async fn advance_decommission(
        &self,
        id: &IdentityId,
        reason: &str,
    ) -> Result<Transition, Error> {
        let current = self.inner.registry.get(id).await?;
        let next = match current.state {
            LifecycleState::Disabled => LifecycleState::Deprovisioned,
            LifecycleState::Deprovisioned => LifecycleState::Archived,
            LifecycleState::Archived => LifecycleState::Tombstoned,
            LifecycleState::Tombstoned => {
                return Err(Error::DecommissionComplete { id: id.clone() });
            }
            _ => LifecycleState::Disabled,
        };

        let triggered_at = self.inner.clock.now();
        let transition = self.change_state(id, next, reason).await?;
        if next == LifecycleState::Disabled {
            self.kill_credentials(id, triggered_at).await?;
            self.inner
                .counters
                .record_time_to_revoke(self.inner.clock.now().duration_since(triggered_at));
        }
        Ok(transition)
    }

    /// Finds identities with no owner, no purpose, no recent use, past expiry or past
    /// their decommission date (and, with known teams, owned by a team that is gone),
    /// quarantines them unless the policy says report only, and records each finding.
    ///
    /// # Errors
    ///
    /// Registry and audit failures.
    pub async fn reconcile(&self, policy: &ReconcilePolicy) -> Result<ReconcileReport, Error> {
        let report = self.inner.registry.reconcile(policy).await?;
        for finding in &report.findings {
            let reasons: Vec<String> = finding.reasons.iter().map(ToString::to_string).collect();
            let message = format!("{}: {}", finding.id, reasons.join("; "));
            let mut event = AuditEvent::new(EventKind::ReconcileFinding, report.at, message)
                .identity(finding.id.clone())
                .result(if finding.quarantined {
                    "quarantined"
                } else {
                    "reported"
                });
            if finding.quarantined {
                event = event
                    .before(json!({ "state": finding.state_before }))
                    .after(json!({ "state": LifecycleState::Quarantined }));
                self.kill_credentials(&finding.id, report.at).await?;
            }
            self.inner.audit(event, "reconciliation finding").await?;
        }
        Ok(report)
    }

    /// Drops records of credentials that expired, and revocations no longer needed.
    ///
    /// # Errors
    ///
    /// Revocation-list failures.
    pub async fn purge_expired(&self) -> Result<usize, Error> {
        let now = self.inner.clock.now();
        let ledger = self.inner.ledger.purge(now);
        let revocations = self.inner.revocations.purge(now).await?;
        Ok(ledger.saturating_add(revocations))
    }

    /// How many issued, unexpired credentials the control plane tracks.
    pub fn tracked_credentials(&self) -> usize {
        self.inner.ledger.len()
    }

    /// Applies a state change and records it.
    async fn change_state(
        &self,
        id: &IdentityId,
        to: LifecycleState,
        reason: &str,
    ) -> Result<Transition, Error> {
        let transition = self.inner.registry.transition(id, to).await?;
        let message = format!(
            "{id}: {} -> {} ({reason})",
            transition.before.state, transition.after.state
        );
        let event = self
            .lifecycle_event(EventKind::IdentityStateChanged, &transition.after, message)
            .before(json!({ "state": transition.before.state }))
            .after(json!({ "state": transition.after.state }));
        self.inner.audit(event, "state change").await?;
        Ok(transition)
    }

    /// Kills every credential of an identity: a revocation epoch in the registry for
    /// tokens the control plane never saw, and each known live credential on the
    /// revocation list, so its next use is recognised as a revoked credential.
    pub(crate) async fn kill_credentials(
        &self,
        id: &IdentityId,
        at: Timestamp,
    ) -> Result<(), Error> {
        let inner = &self.inner;
        inner.registry.revoke_credentials_before(id, at).await?;
        for (credential_id, entry) in inner.ledger.live_for(id, at) {
            inner
                .revocations
                .revoke(&credential_id, at, entry.expires_at)
                .await?;
            inner
                .ledger
                .mark_revoked(&credential_id, at, RevocationCause::ForCause);
            inner
                .counters
                .credentials_revoked
                .fetch_add(1, Ordering::Relaxed);
            let event = AuditEvent::new(
                EventKind::CredentialRevoked,
                inner.clock.now(),
                format!("{credential_id} of {id} revoked"),
            )
            .identity(id.clone())
            .credential(credential_id);
            inner.audit(event, "credential revocation").await?;
        }
        inner.approvals.revoke_all(id);
        Ok(())
    }

    fn lifecycle_event(
        &self,
        kind: EventKind,
        record: &IdentityRecord,
        message: String,
    ) -> AuditEvent {
        AuditEvent::new(kind, self.inner.clock.now(), message).identity(record.id.clone())
    }
}

/// The reviewable fields of a record, for the audit trail (no secrets live in records).
fn summary(record: &IdentityRecord) -> serde_json::Value {
    json!({
        "state": record.state,
        "kind": record.kind,
        "owner": record.owner.as_ref().map(|o| o.team.as_str()),
        "tenant": record.tenant,
        "environment": record.environment,
        "risk_tier": record.risk_tier,
        "scopes": record.scopes,
        "expires_at": record.expires_at,
    })
}

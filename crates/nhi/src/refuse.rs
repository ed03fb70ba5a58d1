//! Refusals: how a denied request is recorded, counted toward the repeated-denials
//! signal, and, when an abuse signal fires, how the kill switch stops the identity.

use std::sync::atomic::Ordering;

use nhi_audit::{Anomaly, AuditEvent, EventKind};
use nhi_core::Clock;
use nhi_credentials::{CredentialError, Principal};
use nhi_registry::RegistryError;

use crate::access::{AccessOutcome, Denial, Stage};
use crate::enforce::{Path, rule_id};
use crate::error::Error;
use crate::ledger::RevocationCause;
use crate::plane::ControlPlane;

impl ControlPlane {
    /// A credential that failed to verify: revoked ones are an anomaly, and one revoked
    /// for cause trips the kill switch.
    pub(crate) async fn refuse_credential(
        &self,
        mut path: Path<'_>,
        error: CredentialError,
    ) -> Result<AccessOutcome, Error> {
        let inner = &self.inner;
        inner
            .counters
            .authentication_failures
            .fetch_add(1, Ordering::Relaxed);

        let CredentialError::Revoked { credential_id } = &error else {
            if !error.is_rejection() {
                return Err(error.into());
            }
            path.anomalies.push(Anomaly::InvalidCredential);
            return self
                .refuse(path, Stage::Authenticate, error.to_string())
                .await;
        };

        path.anomalies.push(Anomaly::RevokedCredentialUsed);
        let reason = format!("credential `{credential_id}` was revoked");
        let Some(entry) = inner.ledger.get(credential_id) else {
            return self.refuse(path, Stage::Authenticate, reason).await;
        };
        path.principal = Some(Principal {
            identity: entry.identity.clone(),
            credential_id: credential_id.clone(),
            kind: entry.kind,
            issued_at: entry.issued_at,
            expires_at: entry.expires_at,
            scopes: Vec::new(),
            tenant: None,
            environment: None,
            actor: None,
        });
        let for_cause = matches!(entry.revoked, Some((_, RevocationCause::ForCause)));
        let trip = for_cause && inner.abuse.suspend_on_revoked_use;
        self.refuse_and_maybe_trip(path, Stage::Authenticate, reason, trip)
            .await
    }

    pub(crate) async fn refuse_by_policy(
        &self,
        path: Path<'_>,
        decision: nhi_policy::Decision,
    ) -> Result<AccessOutcome, Error> {
        let reason = decision.reason.to_string();
        let mut denial = path.denial(Stage::Policy, reason.clone());
        denial.rule_id = rule_id(&decision);
        let event = path
            .event(
                EventKind::AccessDecided,
                self.inner.clock.now(),
                format!("denied by policy: {reason}"),
            )
            .decision("deny", rule_id(&decision), reason);
        self.finish_denial(path, denial, event, true).await
    }

    pub(crate) async fn hold_for_approval(
        &self,
        path: Path<'_>,
        decision: nhi_policy::Decision,
    ) -> Result<AccessOutcome, Error> {
        let reason = format!("approval required: {}", decision.reason);
        let mut denial = path.denial(Stage::Approval, reason.clone());
        denial.rule_id = rule_id(&decision);
        denial.approval = decision.approval.as_deref().cloned();
        let event = path
            .event(
                EventKind::AccessDecided,
                self.inner.clock.now(),
                reason.clone(),
            )
            .decision("require-approval", rule_id(&decision), reason);
        self.finish_denial(path, denial, event, false).await
    }

    pub(crate) async fn refuse_rate_limited(
        &self,
        mut path: Path<'_>,
        reason: String,
        retry_after: std::time::Duration,
        breach: bool,
    ) -> Result<AccessOutcome, Error> {
        if breach {
            path.anomalies.push(Anomaly::LimitBreach);
        }
        let mut denial = path.denial(Stage::Limit, reason.clone());
        denial.retry_after = Some(retry_after);
        let event = path
            .event(
                EventKind::AccessDecided,
                self.inner.clock.now(),
                reason.clone(),
            )
            .decision("rate-limited", None, reason);
        if breach {
            return self
                .trip_and_finish(path, denial, event, "a sustained rate-limit breach")
                .await;
        }
        self.finish_denial(path, denial, event, false).await
    }

    /// A plain refusal that counts toward the repeated-denials signal.
    pub(crate) async fn refuse(
        &self,
        path: Path<'_>,
        stage: Stage,
        reason: String,
    ) -> Result<AccessOutcome, Error> {
        self.refuse_and_maybe_trip(path, stage, reason, false).await
    }

    pub(crate) async fn refuse_and_maybe_trip(
        &self,
        path: Path<'_>,
        stage: Stage,
        reason: String,
        trip: bool,
    ) -> Result<AccessOutcome, Error> {
        if stage == Stage::State {
            self.inner
                .counters
                .state_denials
                .fetch_add(1, Ordering::Relaxed);
        }
        let denial = path.denial(stage, reason.clone());
        let event = path
            .event(
                EventKind::AccessDecided,
                self.inner.clock.now(),
                reason.clone(),
            )
            .decision("deny", None, reason.clone());
        if trip {
            return self
                .trip_and_finish(path, denial, event, "an abuse signal")
                .await;
        }
        self.finish_denial(path, denial, event, stage != Stage::State)
            .await
    }

    /// Records the denial; when `counts` and the identity has been refused too often,
    /// trips the kill switch.
    async fn finish_denial(
        &self,
        path: Path<'_>,
        denial: Denial,
        event: AuditEvent,
        counts: bool,
    ) -> Result<AccessOutcome, Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let repeated = match (&path.principal, counts) {
            (Some(principal), true) => {
                let abuse = &inner.abuse;
                inner.denials.record(
                    &principal.identity,
                    now,
                    abuse.max_denials,
                    abuse.denial_window,
                )
            }
            _ => false,
        };
        if repeated {
            let mut path = path;
            path.anomalies.push(Anomaly::RepeatedDenials);
            let mut denial = denial;
            denial.anomalies.clone_from(&path.anomalies);
            let event = event.anomaly(Anomaly::RepeatedDenials);
            return self
                .trip_and_finish(path, denial, event, "repeated denials")
                .await;
        }
        inner.audit(event, "access decision").await?;
        Ok(AccessOutcome::Denied(denial))
    }

    async fn trip_and_finish(
        &self,
        path: Path<'_>,
        mut denial: Denial,
        event: AuditEvent,
        cause: &str,
    ) -> Result<AccessOutcome, Error> {
        self.inner.audit(event, "access decision").await?;
        if let Some(principal) = &path.principal {
            let tripped = self.trip_kill_switch(principal, &path, cause).await?;
            denial.kill_switch = tripped;
            if tripped {
                denial.anomalies.push(Anomaly::KillSwitchTripped);
            }
        }
        Ok(AccessOutcome::Denied(denial))
    }

    /// Suspends the identity and kills its credentials; returns whether it was active.
    async fn trip_kill_switch(
        &self,
        principal: &Principal,
        path: &Path<'_>,
        cause: &str,
    ) -> Result<bool, Error> {
        let inner = &self.inner;
        let triggered_at = inner.clock.now();
        let id = &principal.identity;

        let transition = match inner
            .registry
            .transition(id, nhi_registry::LifecycleState::Suspended)
            .await
        {
            Ok(transition) => Some(transition),
            Err(RegistryError::IllegalTransition { .. } | RegistryError::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        let Some(transition) = transition else {
            return Ok(false);
        };
        self.kill_credentials(id, triggered_at).await?;
        inner
            .counters
            .kill_switch_trips
            .fetch_add(1, Ordering::Relaxed);
        inner
            .counters
            .record_time_to_revoke(inner.clock.now().duration_since(triggered_at));

        let event = path
            .event(
                EventKind::AnomalyDetected,
                inner.clock.now(),
                format!("kill switch: {id} suspended after {cause}"),
            )
            .anomaly(Anomaly::KillSwitchTripped)
            .before(serde_json::json!({ "state": transition.before.state }))
            .after(serde_json::json!({ "state": transition.after.state }));
        let event = path.anomalies.iter().fold(event, |e, a| e.anomaly(*a));
        inner.audit(event, "kill switch").await?;
        tracing::debug!(identity = %id, cause, "kill switch tripped");
        Ok(true)
    }
}

//! The enforcement path: authenticate, state, scope, policy, approval, limit, audit,
//! and the abuse signals that trip the kill switch.

use std::sync::atomic::Ordering;

use nhi_audit::{Anomaly, AuditEvent, EventKind};
use nhi_core::{Clock, CorrelationId, Timestamp};
use nhi_credentials::{CredentialError, Principal};
use nhi_limiter::{LimitDecision, LimitRequest};
use nhi_policy::{Effect, PolicyRequest, RequestContext, Subject};
use nhi_registry::{IdentityRecord, RegistryError};

use crate::access::{AccessOutcome, AccessRequest, Denial, Permit, Stage};
use crate::approvals::scope_name;
use crate::error::Error;
use crate::ledger::RevocationCause;
use crate::plane::ControlPlane;

/// How stale `last_used_at` may get before a granted request refreshes it.
const LAST_USED_GRANULARITY: std::time::Duration = std::time::Duration::from_secs(60);

impl ControlPlane {
    /// Decides whether the presented credential may perform the action now.
    ///
    /// The steps run in order, and the first that refuses ends the request:
    /// 1. **authenticate**: the credential's provider verifies it (signature, expiry,
    ///    audience, issuer, revocation);
    /// 2. **state**: the identity exists, is active and unexpired, is in the tenant and
    ///    environment its credential names, and the credential was issued after the
    ///    identity's revocation epoch;
    /// 3. **scope**: the target's system is one the identity may touch, and the token
    ///    carries a scope for `system:action`;
    /// 4. **policy**: allow, deny, or require approval; an approval must have been
    ///    granted and is used up by this request;
    /// 5. **limit**: every quota layer is charged the action's cost, all or nothing;
    /// 6. **audit**: the decision is recorded before it is returned.
    ///
    /// Abuse signals (a revoked credential presented again, an out-of-policy target,
    /// repeated denials, a sustained limit breach) trip the kill switch in the same
    /// call: the identity is suspended, its credentials die, and an anomaly is recorded.
    ///
    /// # Errors
    ///
    /// An `Err` means the decision could not be made or recorded: the registry or a
    /// provider failed, no provider handles the credential kind, or the audit sink
    /// failed (fail closed). A refusal is `Ok(AccessOutcome::Denied(..))`.
    pub async fn authorize(&self, request: AccessRequest<'_>) -> Result<AccessOutcome, Error> {
        let inner = &self.inner;
        let correlation = request
            .context
            .correlation
            .clone()
            .unwrap_or_else(|| inner.new_correlation_id());
        let mut path = Path {
            request: &request,
            correlation,
            principal: None,
            anomalies: Vec::new(),
        };

        // 1. authenticate
        let provider = inner.provider(request.credential_kind)?;
        let principal = match provider.verify(request.credential).await {
            Ok(principal) => principal,
            Err(error) => return self.refuse_credential(path, error).await,
        };
        path.principal = Some(principal.clone());

        // 2. state
        let record = match inner.registry.get(&principal.identity).await {
            Ok(record) => record,
            Err(RegistryError::NotFound { .. }) => {
                let reason = format!("identity `{}` is not in the registry", principal.identity);
                return self.refuse(path, Stage::State, reason).await;
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(reason) = state_problem(&record, &principal, inner.clock.now()) {
            return self.refuse(path, Stage::State, reason).await;
        }

        // 3. scope: the target system, then the token's scopes
        let system = request.resource.system();
        if !record.allowed_systems.contains(system) {
            path.anomalies.push(Anomaly::OutOfPolicyTarget);
            let reason = format!("system `{system}` is not among the identity's allowed systems");
            let trip = inner.abuse.suspend_on_out_of_policy_target;
            return self
                .refuse_and_maybe_trip(path, Stage::Scope, reason, trip)
                .await;
        }
        let needed = format!("{system}:{}", request.action);
        let Some(scope) = principal
            .scopes
            .iter()
            .find(|s| scope_covers(s, &needed))
            .cloned()
        else {
            let reason = format!("the credential carries no scope covering `{needed}`");
            return self.refuse(path, Stage::Scope, reason).await;
        };

        // 4. policy, and the approval it may require
        let policy_request = policy_request(&record, &request, &principal, inner.clock.now());
        let decision = inner.policy.decide(&policy_request);
        let mut approval = None;
        match decision.effect {
            Effect::Allow => {}
            Effect::RequireApproval => {
                let now = inner.clock.now();
                let incident = request.context.incident.as_ref();
                let found = inner.approvals.find(
                    &record.id,
                    &request.action,
                    &request.resource,
                    incident,
                    now,
                );
                let Some(grant) = found else {
                    inner
                        .counters
                        .approvals_required
                        .fetch_add(1, Ordering::Relaxed);
                    return self.hold_for_approval(path, decision).await;
                };
                approval = Some(grant);
            }
            _ => {
                inner
                    .counters
                    .policy_denials
                    .fetch_add(1, Ordering::Relaxed);
                return self.refuse_by_policy(path, decision).await;
            }
        }

        // 5. limit: every layer at once, all or nothing
        let limit_request = LimitRequest {
            identity: record.id.as_str(),
            workflow: request.context.workflow.as_ref().map(|w| w.as_str()),
            tenant: Some(record.tenant.as_str()),
            endpoint: Some(request.resource.as_str()),
            incident_class: request.context.incident_class.as_deref(),
            incident: request.context.incident.as_ref().map(|i| i.as_str()),
            severity: request.severity,
        };
        let remaining = match inner.limiter.check(&limit_request).await? {
            LimitDecision::Allowed { remaining, .. } => remaining,
            LimitDecision::Rejected {
                layer,
                retry_after,
                breach,
                ..
            } => {
                inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let reason = format!("the {layer} quota is exhausted");
                return self
                    .refuse_rate_limited(path, reason, retry_after, breach.is_some())
                    .await;
            }
            #[allow(unreachable_patterns)]
            _ => {
                return self
                    .refuse(path, Stage::Limit, "the limiter refused".into())
                    .await;
            }
        };

        // the approval is used up only by a request that is going ahead
        if let Some(grant) = &approval
            && !inner.approvals.consume(grant)
        {
            return self.hold_for_approval(path, decision).await;
        }

        // 6. record, then grant
        let now = inner.clock.now();
        let stale = record
            .last_used_at
            .is_none_or(|t| now.duration_since(t) >= LAST_USED_GRANULARITY);
        if stale {
            inner.registry.record_use(&record.id, now).await?;
        }
        let mut event = path
            .event(
                EventKind::AccessDecided,
                now,
                format!("{} may {} {}", record.id, request.action, request.resource),
            )
            .decision("allow", rule_id(&decision), decision.reason.to_string())
            .permission(scope);
        if let Some(grant) = &approval {
            event = event.approval(grant.approver.clone(), scope_name(grant.scope));
        }
        inner.audit(event, "access decision").await?;
        if let Some(grant) = &approval {
            let used = path
                .event(
                    EventKind::ApprovalConsumed,
                    now,
                    format!("approval by {} used", grant.approver),
                )
                .approval(grant.approver.clone(), scope_name(grant.scope));
            inner.audit(used, "approval use").await?;
        }
        inner.counters.granted.fetch_add(1, Ordering::Relaxed);

        Ok(AccessOutcome::Granted(Permit {
            plane: self.clone(),
            identity: record.id,
            credential_id: principal.credential_id,
            action: request.action.clone(),
            resource: request.resource.clone(),
            severity: request.severity,
            rule_id: rule_id(&decision),
            approval,
            remaining_quota: remaining,
            correlation_id: path.correlation,
            incident: request.context.incident.clone(),
            workflow: request.context.workflow.clone(),
        }))
    }

    /// A credential that failed to verify: revoked ones are an anomaly, and one revoked
    /// for cause trips the kill switch.
    async fn refuse_credential(
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

    async fn refuse_by_policy(
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

    async fn hold_for_approval(
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

    async fn refuse_rate_limited(
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
    async fn refuse(
        &self,
        path: Path<'_>,
        stage: Stage,
        reason: String,
    ) -> Result<AccessOutcome, Error> {
        self.refuse_and_maybe_trip(path, stage, reason, false).await
    }

    async fn refuse_and_maybe_trip(
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

/// What the path has learned so far about one request.
struct Path<'r> {
    request: &'r AccessRequest<'r>,
    correlation: CorrelationId,
    principal: Option<Principal>,
    anomalies: Vec<nhi_audit::Anomaly>,
}

impl Path<'_> {
    /// An audit event carrying everything known about the request.
    fn event(&self, kind: EventKind, time: Timestamp, message: String) -> AuditEvent {
        let request = self.request;
        let mut event = AuditEvent::new(kind, time, message)
            .action(request.action.clone())
            .target(request.resource.clone())
            .severity(request.severity)
            .correlation(self.correlation.clone());
        if let Some(principal) = &self.principal {
            event = event
                .identity(principal.identity.clone())
                .credential(principal.credential_id.clone());
        }
        if let Some(incident) = &request.context.incident {
            event = event.incident(incident.clone());
        }
        if let Some(workflow) = &request.context.workflow {
            event = event.workflow(workflow.clone());
        }
        if let Some(trigger) = &request.context.trigger {
            event = event.trigger(trigger.clone());
        }
        self.anomalies.iter().fold(event, |e, a| e.anomaly(*a))
    }

    fn denial(&self, stage: Stage, reason: String) -> Denial {
        Denial {
            stage,
            reason,
            identity: self.principal.as_ref().map(|p| p.identity.clone()),
            rule_id: None,
            retry_after: None,
            approval: None,
            anomalies: self.anomalies.clone(),
            kill_switch: false,
            correlation_id: self.correlation.clone(),
        }
    }
}

/// Why a verified credential's identity may not act, if it may not.
fn state_problem(record: &IdentityRecord, principal: &Principal, now: Timestamp) -> Option<String> {
    let id = &record.id;
    if !record.state.is_usable() {
        return Some(format!("identity `{id}` is {}", record.state));
    }
    if record.is_expired(now) {
        return Some(format!("identity `{id}` is past its expiry"));
    }
    if principal
        .tenant
        .as_ref()
        .is_some_and(|t| t != &record.tenant)
    {
        return Some(format!(
            "the credential names another tenant than identity `{id}`'s"
        ));
    }
    if principal
        .environment
        .as_ref()
        .is_some_and(|e| e != &record.environment)
    {
        return Some(format!(
            "the credential names another environment than identity `{id}`'s"
        ));
    }
    if record.credential_issued_too_early(principal.issued_at) {
        return Some(format!(
            "identity `{id}`'s credentials issued before its revocation were killed"
        ));
    }
    None
}

/// Whether a token scope (`system:action`, with an optional trailing `*`) covers `needed`.
fn scope_covers(scope: &str, needed: &str) -> bool {
    match scope.strip_suffix('*') {
        Some(prefix) => needed.starts_with(prefix) && prefix.contains(':'),
        None => scope.eq_ignore_ascii_case(needed),
    }
}

/// The id of the rule that decided, as the audit trail and callers hold it.
fn rule_id(decision: &nhi_policy::Decision) -> Option<String> {
    decision.rule_id.as_deref().map(str::to_owned)
}

/// The policy engine's view of the request, at time `now`.
fn policy_request(
    record: &IdentityRecord,
    request: &AccessRequest<'_>,
    principal: &Principal,
    now: Timestamp,
) -> PolicyRequest {
    PolicyRequest {
        subject: Subject {
            id: record.id.clone(),
            kind: record.kind,
            team: record.owner.as_ref().map(|o| o.team.clone()),
            tenant: record.tenant.clone(),
            risk_tier: record.risk_tier,
            environment: record.environment.clone(),
            labels: record.labels.clone(),
        },
        action: request.action.clone(),
        resource: request.resource.clone(),
        severity: request.severity,
        context: RequestContext {
            incident: request.context.incident.clone(),
            workflow: request.context.workflow.clone(),
            change_ticket: request.context.change_ticket.clone(),
            time: Some(now),
            token_age: Some(now.duration_since(principal.issued_at)),
            ..RequestContext::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_exact_and_prefix() {
        assert!(scope_covers(
            "k8s:deployment.restart",
            "k8s:deployment.restart"
        ));
        assert!(scope_covers("k8s:*", "k8s:deployment.restart"));
        assert!(scope_covers("k8s:deployment.*", "k8s:deployment.restart"));
        assert!(!scope_covers("k8s:health.read", "k8s:deployment.restart"));
        assert!(
            !scope_covers("k8s*", "k8s-admin:anything"),
            "a prefix must include the system"
        );
        assert!(!scope_covers("*", "k8s:deployment.restart"));
    }
}

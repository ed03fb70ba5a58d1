//! The enforcement path: authenticate, state, scope, policy, approval, limit, audit,
//! and the abuse signals that trip the kill switch.

use std::sync::atomic::Ordering;

use nhi_audit::{Anomaly, AuditEvent, EventKind};
use nhi_core::{Clock, CorrelationId, Timestamp};
use nhi_credentials::Principal;
use nhi_limiter::{LimitDecision, LimitRequest};
use nhi_policy::{Effect, PolicyRequest, RequestContext, Subject};
use nhi_registry::{IdentityRecord, RegistryError};

use crate::access::{AccessOutcome, AccessRequest, Denial, Permit, Stage};
use crate::approvals::ApprovalGrant;
use crate::error::Error;
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
        let now = inner.clock.now();
        let decision = inner
            .policy
            .decide(&policy_request(&record, &request, &principal, now));
        let approval = match decision.effect {
            Effect::Allow => None,
            Effect::RequireApproval => match self.approval_for(&record, &request) {
                Some(grant) => Some(grant),
                None => {
                    inner
                        .counters
                        .approvals_required
                        .fetch_add(1, Ordering::Relaxed);
                    return self.hold_for_approval(path, decision).await;
                }
            },
            _ => {
                inner
                    .counters
                    .policy_denials
                    .fetch_add(1, Ordering::Relaxed);
                return self.refuse_by_policy(path, decision).await;
            }
        };

        // 5. limit: every layer at once, all or nothing
        let remaining = match inner
            .limiter
            .check(&limit_request(&record, &request))
            .await?
        {
            LimitDecision::Allowed { remaining, .. } => remaining,
            LimitDecision::Rejected {
                layer,
                retry_after,
                breach,
                ..
            } => {
                inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let reason = format!("the {layer} quota is exhausted");
                let breached = breach.is_some();
                return self
                    .refuse_rate_limited(path, reason, retry_after, breached)
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
        let granted = Granted {
            record,
            principal,
            decision,
            scope,
            approval,
            remaining,
        };
        self.grant(path, granted).await
    }

    /// An unused approval covering this request, if a person granted one.
    fn approval_for(
        &self,
        record: &IdentityRecord,
        request: &AccessRequest<'_>,
    ) -> Option<ApprovalGrant> {
        let now = self.inner.clock.now();
        let incident = request.context.incident.as_ref();
        self.inner.approvals.find(
            &record.id,
            &request.action,
            &request.resource,
            incident,
            now,
        )
    }

    /// Records the grant (and the approval it used) and hands out the permit.
    async fn grant(&self, path: Path<'_>, granted: Granted) -> Result<AccessOutcome, Error> {
        let inner = &self.inner;
        let Granted {
            record,
            principal,
            decision,
            scope,
            approval,
            remaining,
        } = granted;
        let request = path.request;
        let now = inner.clock.now();

        // last use is kept to the minute, so a busy identity does not write on every call
        let stale = record
            .last_used_at
            .is_none_or(|t| now.duration_since(t) >= LAST_USED_GRANULARITY);
        if stale {
            inner.registry.record_use(&record.id, now).await?;
        }

        let message = format!("{} may {} {}", record.id, request.action, request.resource);
        let mut event = path
            .event(EventKind::AccessDecided, now, message)
            .decision("allow", rule_id(&decision), decision.reason.to_string())
            .permission(scope);
        if let Some(grant) = &approval {
            event = event.approval(grant.approver.clone(), grant.scope.as_str());
        }
        inner.audit(event, "access decision").await?;
        if let Some(grant) = &approval {
            let used = path
                .event(
                    EventKind::ApprovalConsumed,
                    now,
                    format!("approval by {} used", grant.approver),
                )
                .approval(grant.approver.clone(), grant.scope.as_str());
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
}

/// What a request that passed every step carries into its grant.
struct Granted {
    record: IdentityRecord,
    principal: Principal,
    decision: nhi_policy::Decision,
    scope: String,
    approval: Option<ApprovalGrant>,
    remaining: u32,
}

/// What the path has learned so far about one request.
pub(crate) struct Path<'r> {
    pub(crate) request: &'r AccessRequest<'r>,
    pub(crate) correlation: CorrelationId,
    pub(crate) principal: Option<Principal>,
    pub(crate) anomalies: Vec<nhi_audit::Anomaly>,
}

impl Path<'_> {
    /// An audit event carrying everything known about the request.
    pub(crate) fn event(&self, kind: EventKind, time: Timestamp, message: String) -> AuditEvent {
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

    pub(crate) fn denial(&self, stage: Stage, reason: String) -> Denial {
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
pub(crate) fn rule_id(decision: &nhi_policy::Decision) -> Option<String> {
    decision.rule_id.as_deref().map(str::to_owned)
}

/// The limiter's view of the request: every layer it names.
fn limit_request<'a>(
    record: &'a IdentityRecord,
    request: &'a AccessRequest<'_>,
) -> LimitRequest<'a> {
    let context = &request.context;
    LimitRequest {
        identity: record.id.as_str(),
        workflow: context.workflow.as_ref().map(|w| w.as_str()),
        tenant: Some(record.tenant.as_str()),
        endpoint: Some(request.resource.as_str()),
        incident_class: context.incident_class.as_deref(),
        incident: context.incident.as_ref().map(|i| i.as_str()),
        severity: request.severity,
    }
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

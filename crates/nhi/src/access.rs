//! The request to act, and what the enforcement path answers: a permit or a denial.

use std::fmt;
use std::time::Duration;

use nhi_audit::{Anomaly, AuditEvent, EventKind};
use nhi_core::{
    Action, Clock, CorrelationId, CredentialId, CredentialKind, IdentityId, IncidentId, Resource,
    Severity, WorkflowId,
};
use nhi_credentials::CredentialSecret;
use nhi_policy::ApprovalRequirement;
use serde::Serialize;

use crate::approvals::ApprovalGrant;
use crate::error::Error;
use crate::plane::ControlPlane;

/// "May the holder of this credential do this action on this resource now?"
#[derive(Debug)]
pub struct AccessRequest<'a> {
    /// The credential as presented; only its provider ever sees the secret.
    pub credential: &'a CredentialSecret,
    /// Which provider verifies it (signed tokens unless set).
    pub credential_kind: CredentialKind,
    /// What the identity wants to do.
    pub action: Action,
    /// On what.
    pub resource: Resource,
    /// How much harm the action can do.
    pub severity: Severity,
    /// Why and in which run: incident, workflow, correlation, trigger.
    pub context: AccessContext,
}

impl<'a> AccessRequest<'a> {
    /// A request to perform `action` on `resource` with a signed-token credential.
    pub fn new(
        credential: &'a CredentialSecret,
        action: Action,
        resource: Resource,
        severity: Severity,
    ) -> Self {
        Self {
            credential,
            credential_kind: CredentialKind::Jwt,
            action,
            resource,
            severity,
            context: AccessContext::default(),
        }
    }

    /// Sets which kind of credential is presented.
    pub fn credential_kind(mut self, kind: CredentialKind) -> Self {
        self.credential_kind = kind;
        self
    }

    /// Sets the incident the action is taken for.
    pub fn incident(mut self, incident: IncidentId) -> Self {
        self.context.incident = Some(incident);
        self
    }

    /// Sets the workflow or run the action belongs to.
    pub fn workflow(mut self, workflow: WorkflowId) -> Self {
        self.context.workflow = Some(workflow);
        self
    }

    /// Sets the correlation id that ties this request to others in one chain of calls.
    pub fn correlation(mut self, correlation: CorrelationId) -> Self {
        self.context.correlation = Some(correlation);
        self
    }

    /// Sets what triggered the action (an alert, a schedule, a person's request).
    pub fn trigger(mut self, trigger: impl Into<String>) -> Self {
        self.context.trigger = Some(trigger.into());
        self
    }

    /// Sets the change ticket that authorizes the action.
    pub fn change_ticket(mut self, ticket: impl Into<String>) -> Self {
        self.context.change_ticket = Some(ticket.into());
        self
    }
}

/// The circumstances of a request.
#[derive(Debug, Clone, Default)]
pub struct AccessContext {
    /// The incident the action is taken for.
    pub incident: Option<IncidentId>,
    /// The workflow or run the action belongs to.
    pub workflow: Option<WorkflowId>,
    /// Ties this request to others; one is made up when absent.
    pub correlation: Option<CorrelationId>,
    /// What triggered the action.
    pub trigger: Option<String>,
    /// The change ticket that authorizes the action.
    pub change_ticket: Option<String>,
    /// The class of incident, for the limiter's incident-class layer.
    pub incident_class: Option<String>,
}

/// The answer of the enforcement path.
#[derive(Debug)]
#[must_use = "a permit must be checked, and its outcome reported"]
pub enum AccessOutcome {
    /// The action may go ahead; report how it went through the permit.
    Granted(Permit),
    /// The action must not happen; the denial says why.
    Denied(Denial),
}

impl AccessOutcome {
    /// Whether the action may go ahead.
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted(_))
    }

    /// The denial, if the action was refused.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Self::Denied(denial) => Some(denial),
            Self::Granted(_) => None,
        }
    }
}

/// Which step of the enforcement path refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Stage {
    /// The credential did not verify: expired, tampered, revoked, unknown.
    Authenticate,
    /// The identity is unknown, not active, expired, or in another tenant or environment.
    State,
    /// The target is outside the identity's allowed systems or its token's scopes.
    Scope,
    /// Policy denied the action.
    Policy,
    /// Policy requires a human approval that is not (or no longer) there.
    Approval,
    /// A quota was exhausted.
    Limit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Authenticate => "authenticate",
            Self::State => "state",
            Self::Scope => "scope",
            Self::Policy => "policy",
            Self::Approval => "approval",
            Self::Limit => "limit",
        })
    }
}

/// Why a request was refused. Safe to show the caller: it holds no secret and no
/// policy text.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    /// The step that refused.
    pub stage: Stage,
    /// A sentence saying why.
    pub reason: String,
    /// The identity, when the credential was good enough to name it.
    pub identity: Option<IdentityId>,
    /// The deciding policy rule, when policy decided.
    pub rule_id: Option<String>,
    /// When a rate-limited request would fit again.
    pub retry_after: Option<Duration>,
    /// Who must approve, when the action needs approval.
    pub approval: Option<ApprovalRequirement>,
    /// Anomalies raised by this request.
    pub anomalies: Vec<Anomaly>,
    /// Whether this request tripped the kill switch (the identity is now suspended).
    pub kill_switch: bool,
    /// The correlation id recorded in the audit trail.
    pub correlation_id: CorrelationId,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "denied at {}: {}", self.stage, self.reason)?;
        if let Some(rule) = &self.rule_id {
            write!(f, " (rule `{rule}`)")?;
        }
        if let Some(retry) = self.retry_after {
            write!(f, "; retry in {}", nhi_core::format_duration_rounded(retry))?;
        }
        if self.kill_switch {
            f.write_str("; kill switch tripped")?;
        }
        Ok(())
    }
}

/// Leave to perform one action. Report how it went with [`Permit::complete`], which
/// closes the audit record with the result and the before/after state.
#[derive(Debug)]
#[must_use = "report the action's outcome with `Permit::complete`"]
pub struct Permit {
    pub(crate) plane: ControlPlane,
    /// The identity that may act.
    pub identity: IdentityId,
    /// The credential it presented (its public id).
    pub credential_id: CredentialId,
    /// The action allowed.
    pub action: Action,
    /// The resource it may act on.
    pub resource: Resource,
    /// The action's severity.
    pub severity: Severity,
    /// The rule that allowed it (or required the approval that was used).
    pub rule_id: Option<String>,
    /// The approval this permit used up, if the action needed one.
    pub approval: Option<ApprovalGrant>,
    /// Units left in the tightest quota charged.
    pub remaining_quota: u32,
    /// The correlation id recorded in the audit trail.
    pub correlation_id: CorrelationId,
    /// The incident, if any.
    pub incident: Option<IncidentId>,
    /// The workflow, if any.
    pub workflow: Option<WorkflowId>,
}

/// How an allowed action went.
#[derive(Debug, Clone, Default)]
pub struct ActionReport {
    /// A short result, such as `succeeded` or `failed: timeout`. Never a secret.
    pub result: String,
    /// The target's state before the action, if known. Never a secret.
    pub before: Option<serde_json::Value>,
    /// The target's state after the action, if known. Never a secret.
    pub after: Option<serde_json::Value>,
}

impl ActionReport {
    /// A report with just a result.
    pub fn new(result: impl Into<String>) -> Self {
        Self {
            result: result.into(),
            before: None,
            after: None,
        }
    }

    /// Adds the before and after state.
    pub fn change(mut self, before: serde_json::Value, after: serde_json::Value) -> Self {
        self.before = Some(before);
        self.after = Some(after);
        self
    }
}

impl Permit {
    /// Records the outcome of the permitted action in the audit trail.
    ///
    /// # Errors
    ///
    /// [`Error::AuditUnavailable`] when the audit sink cannot record it (fail closed).
    pub async fn complete(self, report: ActionReport) -> Result<(), Error> {
        let inner = &self.plane.inner;
        let message = format!(
            "{} {} on {}: {}",
            self.identity, self.action, self.resource, report.result
        );

        let mut event = AuditEvent::new(EventKind::ActionCompleted, inner.clock.now(), message)
            .identity(self.identity)
            .credential(self.credential_id)
            .action(self.action)
            .target(self.resource)
            .severity(self.severity)
            .correlation(self.correlation_id)
            .result(report.result);
        if let Some(grant) = self.approval {
            event = event.approval(grant.approver, grant.scope.as_str());
        }
        if let Some(incident) = self.incident {
            event = event.incident(incident);
        }
        if let Some(workflow) = self.workflow {
            event = event.workflow(workflow);
        }
        if let Some(before) = report.before {
            event = event.before(before);
        }
        if let Some(after) = report.after {
            event = event.after(after);
        }
        inner.audit(event, "action outcome").await
    }
}

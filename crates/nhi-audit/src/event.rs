//! The audit event: one structured record of something an identity did or had done to it.

use nhi_core::{
    Action, CorrelationId, CredentialId, IdentityId, IncidentId, Resource, Severity, Timestamp,
    WorkflowId,
};
use serde::{Deserialize, Serialize};

use crate::kind::{Anomaly, EventKind};

/// The outcome of a policy or limiter decision, as recorded in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The outcome: `allow`, `deny`, `require-approval`, `rate-limited` and so on.
    pub effect: String,
    /// The rule that decided, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Every rule that took part (all matching allows, the deny that won, the limits
    /// charged), when the decision names more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_ids: Vec<String>,
    /// Why, in words an operator understands.
    pub reason: String,
}

/// Who approved an action, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The approving person or identity.
    pub approver: String,
    /// What the approval covers, such as an action on a resource.
    pub scope: String,
}

/// One structured audit record.
///
/// Build it with [`AuditEvent::new`] and the consuming setters, then hand it to an
/// [`AuditSink`](crate::AuditSink). Optional fields that are unset are left out of the
/// JSON form.
///
/// A credential is referenced only by its public [`CredentialId`]; no field takes a
/// secret. `message`, `result`, `trigger`, `before` and `after` are free-form: a value
/// that must be referred to goes in as [`Redacted`](crate::Redacted), and a sink that may
/// see careless text is wrapped in a [`RedactingSink`](crate::RedactingSink).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Schema version of the event, [`AuditEvent::SCHEMA_VERSION`].
    pub version: u16,
    /// When it happened, from the caller's clock.
    #[serde(serialize_with = "crate::timefmt::serialize")]
    pub time: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// The identity concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityId>,
    /// The credential concerned, by its public id (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<CredentialId>,
    /// What set the action off: a ticket, an alert, a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The workflow run the action belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowId>,
    /// The action requested or performed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The resource acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Resource>,
    /// How much harm the action can do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The scope or rule that permitted the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// The decision taken, with its rule and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRecord>,
    /// The state before the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The state after the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// The action's result, such as `succeeded` or an error summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The approval the action relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
    /// Ties together the events of one request or operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// The incident the action was taken for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    /// The change ticket the action was made under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_ticket: Option<String>,
    /// Abuse signals raised with this event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    /// One human sentence saying what happened.
    pub message: String,
}

impl AuditEvent {
    /// The schema version this crate writes.
    ///
    /// Version 2 added `change_ticket` and the `audit.*` kinds; version 1 events still
    /// read.
    pub const SCHEMA_VERSION: u16 = 2;

    /// An event of `kind` at `time`, described by `message`, with every optional field
    /// unset.
    pub fn new(kind: EventKind, time: Timestamp, message: impl Into<String>) -> Self {
        Self {
            version: Self::SCHEMA_VERSION,
            time,
            kind,
            identity: None,
            credential_id: None,
            trigger: None,
            workflow: None,
            action: None,
            target: None,
            severity: None,
            permission: None,
            decision: None,
            before: None,
            after: None,
            result: None,
            approval: None,
            correlation_id: None,
            incident_id: None,
            change_ticket: None,
            anomalies: Vec::new(),
            message: message.into(),
        }
    }

    /// Sets the identity concerned.
    pub fn identity(mut self, id: IdentityId) -> Self {
        self.identity = Some(id);
        self
    }

    /// Sets the credential concerned, by its public id.
    ///
    /// Only a [`CredentialId`] is accepted, so a secret cannot be passed by mistake:
    ///
    /// ```compile_fail
    /// # use nhi_audit::{AuditEvent, EventKind};
    /// # use nhi_core::Timestamp;
    /// let event = AuditEvent::new(EventKind::CredentialIssued, Timestamp::EPOCH, "issued")
    ///     .credential("sk_live_secret_value");
    /// ```
    pub fn credential(mut self, id: CredentialId) -> Self {
        self.credential_id = Some(id);
        self
    }

    /// Sets what set the action off (never a secret).
    pub fn trigger(mut self, trigger: impl Into<String>) -> Self {
        self.trigger = Some(trigger.into());
        self
    }

    /// Sets the workflow run.
    pub fn workflow(mut self, id: WorkflowId) -> Self {
        self.workflow = Some(id);
        self
    }

    /// Sets the action.
    pub fn action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    /// Sets the resource acted on.
    pub fn target(mut self, target: Resource) -> Self {
        self.target = Some(target);
        self
    }

    /// Sets the action's severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// Sets the scope or rule that permitted the action.
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = Some(permission.into());
        self
    }

    /// Sets the decision: its effect (`allow`, `deny`, ...), deciding rule and reason.
    pub fn decision(
        mut self,
        effect: impl Into<String>,
        rule_id: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        self.decision = Some(DecisionRecord {
            effect: effect.into(),
            rule_id,
            rule_ids: Vec::new(),
            reason: reason.into(),
        });
        self
    }

    /// Names every rule that took part in the decision set by
    /// [`decision`](Self::decision); without a decision it does nothing.
    pub fn decision_rules<I, S>(mut self, rule_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some(decision) = &mut self.decision {
            decision.rule_ids = rule_ids.into_iter().map(Into::into).collect();
        }
        self
    }

    /// Sets the state before the action (never a secret).
    pub fn before(mut self, state: serde_json::Value) -> Self {
        self.before = Some(state);
        self
    }

    /// Sets the state after the action (never a secret).
    pub fn after(mut self, state: serde_json::Value) -> Self {
        self.after = Some(state);
        self
    }

    /// Sets the action's result (never a secret).
    pub fn result(mut self, result: impl Into<String>) -> Self {
        self.result = Some(result.into());
        self
    }

    /// Sets the approval relied on: who approved, and what it covers.
    pub fn approval(mut self, approver: impl Into<String>, scope: impl Into<String>) -> Self {
        self.approval = Some(ApprovalRecord {
            approver: approver.into(),
            scope: scope.into(),
        });
        self
    }

    /// Sets the correlation id.
    pub fn correlation(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the incident id.
    pub fn incident(mut self, id: IncidentId) -> Self {
        self.incident_id = Some(id);
        self
    }

    /// Sets the change ticket the action was made under.
    pub fn change_ticket(mut self, ticket: impl Into<String>) -> Self {
        self.change_ticket = Some(ticket.into());
        self
    }

    /// Adds an abuse signal; adding the same one twice keeps one.
    pub fn anomaly(mut self, anomaly: Anomaly) -> Self {
        if !self.anomalies.contains(&anomaly) {
            self.anomalies.push(anomaly);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_event_leaves_optional_fields_out() {
        let event = AuditEvent::new(
            EventKind::IdentityProvisioned,
            Timestamp::from_unix_secs(1_700_000_000),
            "provisioned",
        );
        let json = serde_json::to_value(&event).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        for key in ["version", "time", "kind", "message"] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(json["kind"], "identity.provisioned");
        assert_eq!(json["version"], 2);
    }

    #[test]
    fn anomalies_are_not_repeated() {
        let event = AuditEvent::new(EventKind::AnomalyDetected, Timestamp::EPOCH, "breach")
            .anomaly(Anomaly::LimitBreach)
            .anomaly(Anomaly::LimitBreach)
            .anomaly(Anomaly::KillSwitchTripped);
        assert_eq!(
            event.anomalies,
            vec![Anomaly::LimitBreach, Anomaly::KillSwitchTripped]
        );
    }
}

//! Builders shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use nhi_audit::{Anomaly, AuditEvent, AuditSink, EventKind, JsonlFileSink};
use nhi_core::{
    Action, CorrelationId, CredentialId, IdentityId, IncidentId, Resource, Severity, Timestamp,
    WorkflowId,
};
use serde_json::json;
use std::path::Path;

/// A start time for test clocks.
pub const START: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// An event of `kind` with every optional field set.
pub fn full_event(kind: EventKind, n: u64) -> AuditEvent {
    AuditEvent::new(
        kind,
        Timestamp::from_unix_secs(1_700_000_000 + n),
        format!("event {n}"),
    )
    .identity(IdentityId::new("restart-agent").unwrap())
    .credential(CredentialId::new("cred-0001").unwrap())
    .trigger("alert:payments-latency")
    .workflow(WorkflowId::new("wf-42").unwrap())
    .action(Action::new("deployment.restart").unwrap())
    .target("k8s:prod/payments/api".parse::<Resource>().unwrap())
    .severity(Severity::Destructive)
    .permission("deployment.restart@k8s:prod/*")
    .decision(
        "allow",
        Some("restart-in-incident".to_owned()),
        "an incident is open",
    )
    .before(json!({"replicas": 3, "ready": 1}))
    .after(json!({"replicas": 3, "ready": 3}))
    .result("succeeded")
    .approval(
        "alice@example.com",
        "deployment.restart on k8s:prod/payments/api",
    )
    .correlation(CorrelationId::new("req-7f3a").unwrap())
    .incident(IncidentId::new("inc-2024-0042").unwrap())
    .change_ticket("CHG-1042")
    .anomaly(Anomaly::LimitBreach)
}

/// A small event numbered `n`.
pub fn small_event(n: u64) -> AuditEvent {
    AuditEvent::new(
        EventKind::AccessDecided,
        Timestamp::from_unix_secs(1_700_000_000 + n),
        format!("event {n}"),
    )
    .identity(IdentityId::new("restart-agent").unwrap())
    .decision("allow", None, "rule matched")
}

/// Writes events numbered `1..=n` to a new sink at `path`.
pub async fn write_events(path: &Path, n: u64) {
    let sink = JsonlFileSink::open(path).await.unwrap();
    for i in 1..=n {
        let receipt = sink.record(&small_event(i)).await.unwrap();
        assert_eq!(receipt.sequence, i);
    }
}

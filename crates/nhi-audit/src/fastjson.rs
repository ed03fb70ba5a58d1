//! The JSON form of an event written directly, byte for byte what `serde_json` writes
//! for the derived `Serialize`, without its generic machinery: the audit trail's hot
//! path. A test holds the two identical.

use crate::event::AuditEvent;
use crate::timefmt;

/// Appends the JSON of `event` to `out`.
///
/// # Errors
///
/// Only from writing the free-form `before`/`after` values, which cannot fail for
/// JSON values in memory.
pub(crate) fn write_event(event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    out.reserve(512);
    out.extend_from_slice(b"{\"version\":");
    push_u16(out, event.version);
    out.extend_from_slice(b",\"time\":\"");
    timefmt::push_rfc3339(out, event.time);
    out.extend_from_slice(b"\",\"kind\":");
    string(out, event.kind.as_str());

    field(out, "identity", event.identity.as_ref().map(|v| v.as_str()));
    field(
        out,
        "credential_id",
        event.credential_id.as_ref().map(|v| v.as_str()),
    );
    field(out, "trigger", event.trigger.as_deref());
    field(out, "workflow", event.workflow.as_ref().map(|v| v.as_str()));
    field(out, "action", event.action.as_ref().map(|v| v.as_str()));
    field(out, "target", event.target.as_ref().map(|v| v.as_str()));
    field(out, "severity", event.severity.map(|v| v.as_str()));
    field(out, "permission", event.permission.as_deref());

    if let Some(decision) = &event.decision {
        out.extend_from_slice(b",\"decision\":{\"effect\":");
        string(out, &decision.effect);
        field(out, "rule_id", decision.rule_id.as_deref());
        if !decision.rule_ids.is_empty() {
            out.extend_from_slice(b",\"rule_ids\":");
            list(out, decision.rule_ids.iter().map(String::as_str));
        }
        out.extend_from_slice(b",\"reason\":");
        string(out, &decision.reason);
        out.push(b'}');
    }
    for (name, value) in [("before", &event.before), ("after", &event.after)] {
        if let Some(value) = value {
            key(out, name);
            serde_json::to_writer(&mut *out, value)?;
        }
    }
    field(out, "result", event.result.as_deref());
    if let Some(approval) = &event.approval {
        out.extend_from_slice(b",\"approval\":{\"approver\":");
        string(out, &approval.approver);
        out.extend_from_slice(b",\"scope\":");
        string(out, &approval.scope);
        out.push(b'}');
    }
    field(
        out,
        "correlation_id",
        event.correlation_id.as_ref().map(|v| v.as_str()),
    );
    field(
        out,
        "incident_id",
        event.incident_id.as_ref().map(|v| v.as_str()),
    );
    field(out, "change_ticket", event.change_ticket.as_deref());
    if !event.anomalies.is_empty() {
        out.extend_from_slice(b",\"anomalies\":");
        list(out, event.anomalies.iter().map(|a| a.as_str()));
    }

    out.extend_from_slice(b",\"message\":");
    string(out, &event.message);
    out.push(b'}');
    Ok(())
}

/// Writes a number in decimal.
fn push_u16(out: &mut Vec<u8>, value: u16) {
    let mut started = false;
    for divisor in [10_000, 1_000, 100, 10, 1] {
        let digit = value / divisor % 10;
        if digit != 0 || started || divisor == 1 {
            started = true;
            out.push(b'0' + u8::try_from(digit).unwrap_or(0));
        }
    }
}

/// Writes `,"name":"value"` when there is a value.
fn field(out: &mut Vec<u8>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        key(out, name);
        string(out, value);
    }
}

/// Writes `,"name":`.
fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Writes a JSON array of strings.
fn list<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(out, item);
    }
    out.push(b']');
}

/// Writes a JSON string: copied as is when nothing needs escaping, else by serde_json.
fn string(out: &mut Vec<u8>, text: &str) {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a string into memory cannot fail; keep the JSON whole regardless.
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Anomaly, EventKind};
    use nhi_core::{
        Action, CorrelationId, CredentialId, IdentityId, IncidentId, Resource, Severity, Timestamp,
        WorkflowId,
    };
    use serde_json::json;

    fn same(event: &AuditEvent) {
        let mut fast = Vec::new();
        write_event(event, &mut fast).unwrap();
        let derived = serde_json::to_vec(event).unwrap();
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(derived).unwrap()
        );
    }

    #[test]
    fn matches_serde_for_bare_and_full_events() {
        for (n, kind) in EventKind::ALL.into_iter().enumerate() {
            let time = Timestamp::from_unix_nanos(1_700_000_000_123_456_789 + n as u64);
            same(&AuditEvent::new(kind, time, "bare"));
            let full = AuditEvent::new(
                kind,
                time,
                "quote \" backslash \\ newline \n tab \t é \u{1}",
            )
            .identity(IdentityId::new("restart-agent").unwrap())
            .credential(CredentialId::new("cred-0001").unwrap())
            .trigger("alert:\"latency\"")
            .workflow(WorkflowId::new("wf-42").unwrap())
            .action(Action::new("deployment.restart").unwrap())
            .target("k8s:prod/payments/api".parse::<Resource>().unwrap())
            .severity(Severity::Destructive)
            .permission("deployment.restart@k8s:prod/*")
            .decision("allow", Some("rule-1".into()), "why\u{7f}")
            .decision_rules(["rule-1", "rule-\"2\""])
            .before(json!({"replicas": 3, "nested": {"a": [1, "x\n"]}}))
            .after(json!(null))
            .result("succeeded")
            .approval("alice@example.com", "scope")
            .correlation(CorrelationId::new("req-7f3a").unwrap())
            .incident(IncidentId::new("inc-1").unwrap())
            .change_ticket("CHG-1")
            .anomaly(Anomaly::Burst)
            .anomaly(Anomaly::LimitBreach);
            same(&full);
            same(&full.clone().decision("deny", None, "r"));
            for version in [0, 1, 2, 10, 99, 100, 65_535] {
                same(&AuditEvent {
                    version,
                    ..full.clone()
                });
            }
        }
    }
}

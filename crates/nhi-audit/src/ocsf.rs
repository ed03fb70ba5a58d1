//! Export to OCSF JSON for SIEMs: one OCSF event per line.
//!
//! Each audit event maps to one class of the Open Cybersecurity Schema Framework:
//!
//! | audit kind | OCSF class | activity |
//! |---|---|---|
//! | `identity.provisioned`, `identity.imported` | Account Change (3001) | Create (1) |
//! | `identity.approved` | Account Change (3001) | Enable (2) |
//! | `identity.state-changed` | Account Change (3001) | by the new state: active Enable (2), suspended or disabled Disable (5), quarantined Lock (9), deprovisioned, archived or tombstoned Delete (6) |
//! | `credential.rotated` | Account Change (3001) | Password Change (3) |
//! | `credential.issued`, `credential.revoked` | Account Change (3001) | Other (99) |
//! | `access.decided` with an invalid or revoked credential | Authentication (3002) | Logon (1), failed |
//! | `access.decided`, `action.completed` | API Activity (6003) | by the action's verb: Create (1), Read (2), Update (3), Delete (4), else Other (99) |
//! | `approval.granted` | Entity Management (3004) | Create (1) |
//! | `approval.consumed`, `anomaly.detected`, `reconcile.finding` | Entity Management (3004) | Update (3) |
//! | `audit.restarted`, `audit.gap` | Entity Management (3004) | Other (99) |
//!
//! Every exported event carries `activity_id`, `category_uid`, `class_uid`, `type_uid`
//! (`class_uid * 100 + activity_id`), `severity_id`, `time` (milliseconds since the
//! epoch), `metadata.version` and `metadata.product`, and the original event under
//! `unmapped`.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::chain::{io_error, scan_log};
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::kind::{Anomaly, EventKind};

/// The OCSF schema version the export follows.
pub const OCSF_VERSION: &str = "1.3.0";

/// The OCSF form of one event.
pub fn to_ocsf(event: &AuditEvent) -> Value {
    let (class_uid, activity_id, activity_name) = classify(event);
    let (category_uid, category_name, class_name) = class_names(class_uid);
    let (severity_id, severity) = severity(event);
    let (status_id, status) = status(event);

    let mut ocsf = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "class_uid": class_uid,
        "class_name": class_name,
        "type_uid": u64::from(class_uid) * 100 + u64::from(activity_id),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": event.time.unix_nanos() / 1_000_000,
        "message": event.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "nhi", "vendor_name": "nhi", "version": env!("CARGO_PKG_VERSION") },
            "log_name": "nhi-audit",
            "event_code": event.kind.as_str(),
        },
        "unmapped": event,
    });

    // Who, on what, tied to what.
    let mut extra = serde_json::Map::new();
    if let Some(identity) = &event.identity {
        let user = json!({ "uid": identity.as_str(), "type": "Service" });
        extra.insert("actor".into(), json!({ "user": user }));
        if class_uid == 3001 || class_uid == 3002 {
            extra.insert("user".into(), user);
        }
    }
    if let Some(target) = &event.target {
        let resource = json!({ "uid": target.as_str(), "type": target.system() });
        extra.insert("resources".into(), json!([resource]));
    }
    if let Some(action) = &event.action {
        extra.insert("api".into(), json!({ "operation": action.as_str() }));
    }
    if let Some(object) = ocsf.as_object_mut() {
        object.extend(extra);
        if let (Some(correlation), Some(metadata)) = (
            &event.correlation_id,
            object.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            metadata.insert("correlation_uid".into(), json!(correlation.as_str()));
        }
    }
    ocsf
}

/// Verifies the log at `path` and writes each event's OCSF form to `out`, one per line;
/// returns how many were written. Nothing is written unless the chain holds.
///
/// # Errors
///
/// As [`verify_chain`](crate::verify_chain), and [`AuditError::Io`] when writing fails.
pub fn export_ocsf(path: impl AsRef<Path>, out: &mut impl Write) -> Result<u64, AuditError> {
    let path = path.as_ref();
    scan_log(path, |_| {})?;

    let mut written = 0u64;
    let mut failure = None;
    scan_log(path, |event| {
        if failure.is_some() {
            return;
        }
        let mut line = to_ocsf(&event).to_string();
        line.push('\n');
        match out.write_all(line.as_bytes()) {
            Ok(()) => written += 1,
            Err(source) => failure = Some(io_error("export", path, source)),
        }
    })?;
    failure.map_or(Ok(written), Err)
}

/// The class, activity id and activity name of an event.
fn classify(event: &AuditEvent) -> (u32, u32, &'static str) {
    match event.kind {
        EventKind::IdentityProvisioned | EventKind::IdentityImported => (3001, 1, "Create"),
        EventKind::IdentityApproved => (3001, 2, "Enable"),
        EventKind::IdentityStateChanged => state_change(event),
        EventKind::CredentialRotated => (3001, 3, "Password Change"),
        EventKind::CredentialIssued | EventKind::CredentialRevoked => (3001, 99, "Other"),
        EventKind::AccessDecided if credential_failed(event) => (3002, 1, "Logon"),
        EventKind::AccessDecided | EventKind::ActionCompleted => api_activity(event),
        EventKind::ApprovalGranted => (3004, 1, "Create"),
        EventKind::ApprovalConsumed | EventKind::AnomalyDetected | EventKind::ReconcileFinding => {
            (3004, 3, "Update")
        }
        EventKind::AuditRestarted | EventKind::AuditGap => (3004, 99, "Other"),
    }
}

/// Account Change activity from the new lifecycle state.
fn state_change(event: &AuditEvent) -> (u32, u32, &'static str) {
    let state = event
        .after
        .as_ref()
        .and_then(|after| after.get("state"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    match state {
        "active" => (3001, 2, "Enable"),
        "suspended" | "disabled" => (3001, 5, "Disable"),
        "quarantined" => (3001, 9, "Lock"),
        "deprovisioned" | "archived" | "tombstoned" => (3001, 6, "Delete"),
        _ => (3001, 99, "Other"),
    }
}

/// API Activity from the action's last word.
fn api_activity(event: &AuditEvent) -> (u32, u32, &'static str) {
    let verb = event
        .action
        .as_ref()
        .and_then(|a| {
            a.as_str()
                .rsplit(['.', ':'])
                .next()
                .map(str::to_ascii_lowercase)
        })
        .unwrap_or_default();
    match verb.as_str() {
        "create" | "put" | "post" | "add" | "issue" => (6003, 1, "Create"),
        "read" | "get" | "list" | "describe" | "view" => (6003, 2, "Read"),
        "update" | "patch" | "restart" | "scale" | "rotate" | "set" => (6003, 3, "Update"),
        "delete" | "remove" | "destroy" => (6003, 4, "Delete"),
        _ => (6003, 99, "Other"),
    }
}

/// Whether the access decision was about a bad or revoked credential.
fn credential_failed(event: &AuditEvent) -> bool {
    event.anomalies.iter().any(|a| {
        matches!(
            a,
            Anomaly::InvalidCredential | Anomaly::RevokedCredentialUsed
        )
    })
}

/// Category uid, category name and class name of a class.
fn class_names(class_uid: u32) -> (u32, &'static str, &'static str) {
    match class_uid {
        3001 => (3, "Identity & Access Management", "Account Change"),
        3002 => (3, "Identity & Access Management", "Authentication"),
        3004 => (3, "Identity & Access Management", "Entity Management"),
        _ => (6, "Application Activity", "API Activity"),
    }
}

/// OCSF severity: anomalies raise it, a tripped kill switch or revoked credential most.
fn severity(event: &AuditEvent) -> (u32, &'static str) {
    let grave = event.anomalies.iter().any(|a| {
        matches!(
            a,
            Anomaly::KillSwitchTripped | Anomaly::RevokedCredentialUsed
        )
    });
    if grave || event.kind == EventKind::AuditGap {
        (4, "High")
    } else if !event.anomalies.is_empty() {
        (3, "Medium")
    } else if status(event).0 == 2 {
        (2, "Low")
    } else {
        (1, "Informational")
    }
}

/// OCSF status from the decision or the result.
fn status(event: &AuditEvent) -> (u32, &'static str) {
    if let Some(decision) = &event.decision {
        return if decision.effect == "allow" {
            (1, "Success")
        } else {
            (2, "Failure")
        };
    }
    match event.result.as_deref() {
        Some(result) if result.starts_with("succeeded") || result == "ok" => (1, "Success"),
        Some(result) if result.starts_with("fail") || result.starts_with("error") => (2, "Failure"),
        _ => (0, "Unknown"),
    }
}

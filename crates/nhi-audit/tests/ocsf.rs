//! The OCSF export: every kind maps to a class with the required fields.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{START, full_event, write_events};
use nhi_audit::{Anomaly, AuditEvent, EventKind, export_ocsf, to_ocsf};
use serde_json::{Value, json};

fn check_required(ocsf: &Value) {
    for field in [
        "activity_id",
        "category_uid",
        "class_uid",
        "type_uid",
        "severity_id",
        "time",
    ] {
        assert!(ocsf[field].is_u64(), "{field} missing in {ocsf}");
    }
    assert_eq!(ocsf["metadata"]["version"], "1.3.0");
    assert_eq!(ocsf["metadata"]["product"]["name"], "nhi");
    let class = ocsf["class_uid"].as_u64().unwrap();
    let activity = ocsf["activity_id"].as_u64().unwrap();
    assert_eq!(ocsf["type_uid"].as_u64().unwrap(), class * 100 + activity);
    assert_eq!(ocsf["category_uid"].as_u64().unwrap(), class / 1000);
    assert!([3001, 3002, 3004, 6003].contains(&class), "{class}");
}

#[test]
fn every_kind_has_the_required_fields() {
    for (n, kind) in EventKind::ALL.into_iter().enumerate() {
        check_required(&to_ocsf(&full_event(kind, n as u64)));
    }
}

#[test]
fn classes_follow_the_kind() {
    let class_of = |event: &AuditEvent| {
        let ocsf = to_ocsf(event);
        (
            ocsf["class_uid"].as_u64().unwrap(),
            ocsf["activity_id"].as_u64().unwrap(),
        )
    };
    let plain = |kind| AuditEvent::new(kind, START, "x");
    assert_eq!(class_of(&plain(EventKind::IdentityProvisioned)), (3001, 1));
    assert_eq!(class_of(&plain(EventKind::CredentialRotated)), (3001, 3));
    let suspended = plain(EventKind::IdentityStateChanged).after(json!({"state": "suspended"}));
    assert_eq!(class_of(&suspended), (3001, 5));
    let tombstoned = plain(EventKind::IdentityStateChanged).after(json!({"state": "tombstoned"}));
    assert_eq!(class_of(&tombstoned), (3001, 6));
    let revoked = plain(EventKind::AccessDecided).anomaly(Anomaly::RevokedCredentialUsed);
    assert_eq!(class_of(&revoked), (3002, 1));
    assert_eq!(to_ocsf(&revoked)["severity_id"], 4);
    let restart = full_event(EventKind::ActionCompleted, 0);
    assert_eq!(
        class_of(&restart),
        (6003, 3),
        "deployment.restart is an update"
    );
    assert_eq!(class_of(&plain(EventKind::ApprovalGranted)), (3004, 1));

    let ocsf = to_ocsf(&full_event(EventKind::AccessDecided, 0));
    assert_eq!(ocsf["time"], 1_700_000_000_000u64);
    assert_eq!(ocsf["actor"]["user"]["uid"], "restart-agent");
    assert_eq!(ocsf["resources"][0]["uid"], "k8s:prod/payments/api");
    assert_eq!(ocsf["status_id"], 1);
    assert_eq!(ocsf["metadata"]["correlation_uid"], "req-7f3a");
    assert_eq!(ocsf["unmapped"]["kind"], "access.decided");
}

#[tokio::test]
async fn export_writes_one_event_per_line_and_refuses_a_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_events(&path, 4).await;
    let mut out = Vec::new();
    assert_eq!(export_ocsf(&path, &mut out).unwrap(), 4);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        check_required(&serde_json::from_str(line).unwrap());
    }

    let broken = std::fs::read_to_string(&path)
        .unwrap()
        .replace("event 2", "event 5");
    std::fs::write(&path, broken).unwrap();
    let mut out = Vec::new();
    assert!(export_ocsf(&path, &mut out).is_err());
    assert!(out.is_empty(), "nothing is exported from a broken chain");
}

//! Building events and reading them back from JSON.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{START, full_event};
use nhi_audit::{Anomaly, AuditEvent, DecisionRecord, EventKind};
use serde_json::json;

#[test]
fn every_kind_round_trips_with_every_field_set() {
    for (n, kind) in EventKind::ALL.into_iter().enumerate() {
        let event = full_event(kind, n as u64);
        let json = serde_json::to_string(&event).unwrap();
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.kind, kind);
    }
}

#[test]
fn the_json_form_uses_the_documented_names() {
    let event = full_event(EventKind::AccessDecided, 0);
    let value = serde_json::to_value(&event).unwrap();
    assert_eq!(value["version"], 2);
    assert_eq!(value["kind"], "access.decided");
    assert_eq!(value["time"], "2023-11-14T22:13:20Z");
    assert_eq!(value["credential_id"], "cred-0001");
    assert_eq!(value["target"], "k8s:prod/payments/api");
    assert_eq!(value["severity"], "destructive");
    assert_eq!(value["anomalies"], json!(["limit-breach"]));
    assert_eq!(
        value["decision"],
        json!({"effect": "allow", "rule_id": "restart-in-incident", "reason": "an incident is open"})
    );
    assert_eq!(value["approval"]["approver"], "alice@example.com");
    assert_eq!(value["correlation_id"], "req-7f3a");
    assert_eq!(value["incident_id"], "inc-2024-0042");
}

#[test]
fn a_decision_without_a_rule_leaves_rule_id_out() {
    let event = AuditEvent::new(EventKind::AccessDecided, START, "limited").decision(
        "rate-limited",
        None,
        "quota spent",
    );
    let value = serde_json::to_value(&event).unwrap();
    assert_eq!(
        value["decision"],
        json!({"effect": "rate-limited", "reason": "quota spent"})
    );
    assert_eq!(
        event.decision,
        Some(DecisionRecord {
            effect: "rate-limited".into(),
            rule_id: None,
            rule_ids: Vec::new(),
            reason: "quota spent".into(),
        })
    );
}

#[test]
fn every_rule_of_a_decision_can_be_named() {
    let event = AuditEvent::new(EventKind::AccessDecided, START, "denied")
        .decision("deny", Some("no-prod-deletes".into()), "explicit deny wins")
        .decision_rules(["no-prod-deletes", "allow-ops-team"]);
    let value = serde_json::to_value(&event).unwrap();
    assert_eq!(
        value["decision"]["rule_ids"],
        json!(["no-prod-deletes", "allow-ops-team"])
    );
    let bare = AuditEvent::new(EventKind::AccessDecided, START, "x").decision_rules(["a"]);
    assert_eq!(bare.decision, None);
}

#[test]
fn minimal_json_reads_with_defaults() {
    let text = r#"{"version":1,"time":"2023-11-14T22:13:20Z","kind":"anomaly.detected","anomalies":["kill-switch-tripped"],"message":"tripped"}"#;
    let event: AuditEvent = serde_json::from_str(text).unwrap();
    assert_eq!(event.kind, EventKind::AnomalyDetected);
    assert_eq!(event.anomalies, vec![Anomaly::KillSwitchTripped]);
    assert_eq!(event.identity, None);
    assert_eq!(event.time, START);
}

#[test]
fn hostile_json_is_refused_not_panicked_on() {
    let bad = [
        r#"{"version":1,"time":"2023-11-14T22:13:20Z","kind":"access.granted","message":"x"}"#,
        r#"{"version":1,"time":"yesterday","kind":"access.decided","message":"x"}"#,
        r#"{"version":1,"time":"2023-11-14T22:13:20Z","kind":"access.decided","identity":"Deploy-Bot","message":"x"}"#,
        r#"{"version":1,"time":"2023-11-14T22:13:20Z","kind":"access.decided","anomalies":["bored"],"message":"x"}"#,
        r#"{"version":70000,"time":"2023-11-14T22:13:20Z","kind":"access.decided","message":"x"}"#,
        r#"{"version":1,"time":"2023-11-14T22:13:20Z","kind":"access.decided"}"#,
        r#"[1,2,3]"#,
    ];
    for text in bad {
        assert!(
            serde_json::from_str::<AuditEvent>(text).is_err(),
            "accepted {text}"
        );
    }
}

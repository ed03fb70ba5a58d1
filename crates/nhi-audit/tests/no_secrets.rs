//! No secret reaches an audit event, its JSON, its Debug form or the audit file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fmt;

use common::full_event;
use nhi_audit::{AuditEvent, AuditSink, EventKind, JsonlFileSink, MemorySink, verify_chain};
use nhi_core::CredentialId;

const SECRET: &str = "sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// Stands in for a credential provider's secret: Debug is redacted, and the only way to
/// the value is a named call, which these tests never make for an event.
struct CredentialSecret(String);

impl CredentialSecret {
    fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialSecret(<redacted>)")
    }
}

/// An issued credential: a public id and its secret.
#[derive(Debug)]
struct IssuedCredential {
    id: CredentialId,
    secret: CredentialSecret,
}

fn issued() -> IssuedCredential {
    IssuedCredential {
        id: CredentialId::new("cred-0001").unwrap(),
        secret: CredentialSecret(SECRET.to_owned()),
    }
}

/// Every kind of event, built from the public API about one issued credential.
fn every_kind_about(credential: &IssuedCredential) -> Vec<AuditEvent> {
    EventKind::ALL
        .into_iter()
        .enumerate()
        .map(|(n, kind)| full_event(kind, n as u64).credential(credential.id.clone()))
        .collect()
}

#[tokio::test]
async fn a_secret_given_only_to_the_credential_never_appears() {
    let credential = issued();
    assert_eq!(
        credential.secret.expose_secret(),
        SECRET,
        "the secret is really there"
    );
    assert!(!format!("{credential:?}").contains(SECRET));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let file = JsonlFileSink::open(&path).await.unwrap();
    let memory = MemorySink::new();

    for event in every_kind_about(&credential) {
        assert!(!serde_json::to_string(&event).unwrap().contains(SECRET));
        assert!(!format!("{event:?}").contains(SECRET));
        file.record(&event).await.unwrap();
        memory.record(&event).await.unwrap();
    }

    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains(SECRET));
    assert!(
        written.contains("cred-0001"),
        "the credential is named by its id"
    );
    assert!(!format!("{:?}", memory.events()).contains(SECRET));
    assert_eq!(
        verify_chain(&path).unwrap().records,
        EventKind::ALL.len() as u64
    );
}

#[test]
fn an_event_has_exactly_the_documented_fields_and_none_for_secrets() {
    // A new field must be added here on purpose, after asking whether it can carry a secret.
    let event = full_event(EventKind::CredentialIssued, 0);
    let value = serde_json::to_value(&event).unwrap();
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = vec![
        "version",
        "time",
        "kind",
        "identity",
        "credential_id",
        "trigger",
        "workflow",
        "action",
        "target",
        "severity",
        "permission",
        "decision",
        "before",
        "after",
        "result",
        "approval",
        "correlation_id",
        "incident_id",
        "change_ticket",
        "anomalies",
        "message",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);

    for word in ["secret", "token", "password", "key", "private"] {
        assert!(
            !keys.iter().any(|k| k.contains(word)),
            "field named like `{word}`"
        );
    }
}

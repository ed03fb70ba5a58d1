//! A known secret planted in every place a caller's text can reach never appears in
//! the trail, in any spelling; its keyed hash does, so it can be searched for.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::START;
use nhi_audit::{
    AuditEvent, AuditKey, AuditSink, EventKind, JsonlFileSink, MemorySink, RedactingSink, Scrubber,
    read_chain, to_ocsf,
};
use nhi_core::Resource;
use serde_json::json;

const SECRET: &str = "sk_live_51HqZ9f8e7d6c5b4a3";

fn key() -> AuditKey {
    AuditKey::from_bytes(b"a per-deployment key of 32 bytes!").unwrap()
}

fn spellings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        String::from_utf8(secret.to_vec()).unwrap(),
        hex.clone(),
        hex.to_uppercase(),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

/// An event with the secret in a resource path, a byte field, a nested map, an error
/// message, the trigger and a map key, in several spellings.
fn careless_event() -> AuditEvent {
    let target: Resource = format!("s3:vault/{SECRET}/object").parse().unwrap();
    AuditEvent::new(
        EventKind::ActionCompleted,
        START,
        format!("call failed: invalid api key {SECRET}"),
    )
    .target(target)
    .trigger(format!("webhook?token={}", URL_SAFE_NO_PAD.encode(SECRET)))
    .result(format!("error: upstream rejected {}", STANDARD.encode(SECRET)))
    .before(json!({
        "blob": SECRET.as_bytes(),
        "config": { "auth": { "header": format!("Bearer {SECRET}"), "hex": spellings(SECRET.as_bytes())[1] } },
    }))
    .after(json!({ SECRET: "as a key", "list": [1, 2, { "deep": [SECRET] }] }))
}

#[tokio::test]
async fn a_planted_secret_is_nowhere_in_the_file_in_any_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut scrubber = Scrubber::new(key());
    scrubber.add_secret(SECRET).unwrap();
    let sink = RedactingSink::new(scrubber, JsonlFileSink::open(&path).await.unwrap());

    sink.record(&careless_event()).await.unwrap();

    let written = std::fs::read(&path).unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    for spelling in spellings(SECRET.as_bytes()) {
        assert!(!text.contains(&spelling), "found {spelling:?} in the file");
    }
    // The byte field was not left as the secret's byte values either.
    let decimal: Vec<String> = SECRET.bytes().map(|b| b.to_string()).collect();
    assert!(!text.contains(&decimal.join(",")));

    // An investigator holding the key finds the secret's keyed hash.
    let tag = key().redact(SECRET).to_string();
    assert!(text.matches(&tag).count() >= 6, "{text}");
    let events = read_chain(&path).unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].target.as_ref().unwrap().as_str().contains(&tag));
    assert!(!to_ocsf(&events[0]).to_string().contains(SECRET));
}

#[tokio::test]
async fn a_redacted_value_in_state_maps_is_only_its_hash() {
    let memory = MemorySink::new();
    let redacted = key().redact(SECRET);
    let event = AuditEvent::new(EventKind::CredentialRotated, START, "rotated")
        .before(json!({ "old_secret": redacted }))
        .after(json!({ "new_secret": key().redact("another-secret-value") }));
    memory.record(&event).await.unwrap();

    let json = serde_json::to_string(&memory.events()).unwrap();
    for spelling in spellings(SECRET.as_bytes()) {
        assert!(!json.contains(&spelling));
    }
    assert!(json.contains(&redacted.to_string()));
    assert!(!format!("{:?}", memory.events()).contains(SECRET));
}

#[test]
fn an_identifier_holding_a_secret_becomes_its_hash() {
    let mut scrubber = Scrubber::new(key());
    scrubber.add_secret("restart-agent").unwrap();
    let event = AuditEvent::new(EventKind::AccessDecided, START, "allowed")
        .identity(nhi_core::IdentityId::new("restart-agent").unwrap());
    let clean = scrubber.scrub(&event);
    let tag = key().redact("restart-agent").to_string();
    assert_eq!(clean.identity.unwrap().as_str(), tag);

    let untouched = AuditEvent::new(EventKind::AccessDecided, START, "nothing secret");
    assert_eq!(scrubber.scrub(&untouched), untouched);
}

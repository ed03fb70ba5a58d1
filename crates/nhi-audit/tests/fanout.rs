//! Fan-out rules and the tracing mirror.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::small_event;
use nhi_audit::{
    AuditError, AuditEvent, AuditSink, FanOutSink, MemorySink, Receipt, Require, TracingMirror,
};

struct Broken;

#[async_trait::async_trait]
impl AuditSink for Broken {
    async fn record(&self, _event: &AuditEvent) -> Result<Receipt, AuditError> {
        Err(AuditError::SinkStopped)
    }
}

#[tokio::test]
async fn all_fails_when_one_sink_fails_but_still_writes_the_others() {
    let memory = Arc::new(MemorySink::new());
    let fan = FanOutSink::new(vec![Arc::new(Broken), memory.clone()], Require::All);
    let error = fan.record(&small_event(1)).await.unwrap_err();
    match &error {
        AuditError::FanOutShort {
            stored: 1,
            required: 2,
            first_failure: Some(first),
        } => {
            assert!(matches!(**first, AuditError::SinkStopped));
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(memory.len(), 1);
}

#[tokio::test]
async fn at_least_one_succeeds_with_one_working_sink() {
    let memory = Arc::new(MemorySink::new());
    let fan = FanOutSink::new(
        vec![
            Arc::new(Broken),
            memory.clone(),
            Arc::new(TracingMirror::new()),
        ],
        Require::AtLeast(1),
    );
    assert_eq!(fan.record(&small_event(1)).await.unwrap().sequence, 1);

    let none = FanOutSink::new(vec![Arc::new(Broken)], Require::AtLeast(1));
    assert!(matches!(
        none.record(&small_event(2)).await,
        Err(AuditError::FanOutShort {
            stored: 0,
            required: 1,
            ..
        })
    ));
    let empty = FanOutSink::new(Vec::new(), Require::All);
    assert!(
        empty.record(&small_event(3)).await.is_err(),
        "no sink is not success"
    );
}

#[tokio::test]
async fn the_mirror_never_fails_and_counts() {
    let mirror = TracingMirror::new();
    for n in 1..=3 {
        assert_eq!(mirror.record(&small_event(n)).await.unwrap().sequence, n);
    }
}

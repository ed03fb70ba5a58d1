//! The buffered sink under a stalled downstream and 8 writers: fail closed returns an
//! error for every event not stored; fail open drops exactly sent - stored and says so
//! in one signed gap record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{START, small_event};
use nhi_audit::{
    AuditError, AuditEvent, AuditSink, BufferedSink, CheckpointKey, EventKind, MemorySink,
    Overflow, Receipt, verify_gap,
};
use nhi_core::{ManualClock, SharedClock};
use tokio::sync::watch;

const WRITERS: u64 = 8;
const CAPACITY: usize = 16;

/// A sink that holds every record until its gate opens, then stores in memory.
struct Stalled {
    gate: watch::Receiver<bool>,
    memory: MemorySink,
}

#[async_trait::async_trait]
impl AuditSink for Stalled {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let mut gate = self.gate.clone();
        gate.wait_for(|open| *open).await.unwrap();
        self.memory.record(event).await
    }
}

fn stalled() -> (Arc<Stalled>, watch::Sender<bool>) {
    let (open, gate) = watch::channel(false);
    let sink = Arc::new(Stalled {
        gate,
        memory: MemorySink::new(),
    });
    (sink, open)
}

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(START))
}

/// Waits, without sleeping, until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_every_event_not_stored_returned_an_error() {
    const EACH: u64 = 50;
    let (inner, open) = stalled();
    let buffer =
        Arc::new(BufferedSink::spawn(inner.clone(), CAPACITY, Overflow::Reject, clock()).unwrap());

    // 8 writers each fire 50 records at once while the downstream is stalled.
    let mut calls = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        for n in 0..EACH {
            let buffer = Arc::clone(&buffer);
            calls.spawn(async move { buffer.record(&small_event(w * 1000 + n)).await });
        }
    }
    let sent = WRITERS * EACH;
    until(|| {
        let s = buffer.stats();
        s.accepted + s.rejected == sent
    })
    .await;
    open.send(true).unwrap();

    let (mut ok, mut refused) = (0u64, 0u64);
    while let Some(result) = calls.join_next().await {
        match result.unwrap() {
            Ok(receipt) => {
                assert!(receipt.sequence >= 1);
                ok += 1;
            }
            Err(AuditError::QueueFull { capacity }) => {
                assert_eq!(capacity, CAPACITY);
                refused += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    let stored = inner.memory.len() as u64;
    assert_eq!(ok, stored, "every Ok was stored");
    assert_eq!(
        refused,
        sent - stored,
        "every event not stored returned an error"
    );
    assert!(
        stored <= CAPACITY as u64 + 1,
        "memory stayed bounded: {stored}"
    );
    assert!(refused > 0);
    let stats = buffer.stats();
    assert_eq!(
        (stats.stored, stats.rejected, stats.dropped),
        (stored, refused, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_drops_exactly_sent_minus_stored_and_signs_one_gap_record() {
    const EACH: u64 = 100;
    let (inner, open) = stalled();
    let (key, _) = CheckpointKey::generate().unwrap();
    let public = key.public_key();
    let overflow = Overflow::Drop(Arc::new(key));
    let buffer = Arc::new(BufferedSink::spawn(inner.clone(), CAPACITY, overflow, clock()).unwrap());

    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let buffer = Arc::clone(&buffer);
        writers.spawn(async move {
            for n in 0..EACH {
                // Fail open: the caller is never held up and never refused.
                buffer.record(&small_event(w * 1000 + n)).await.unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    open.send(true).unwrap();
    buffer.flush().await.unwrap();

    let sent = WRITERS * EACH;
    let events = inner.memory.events();
    let gaps: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::AuditGap)
        .collect();
    let stored = (events.len() - gaps.len()) as u64;
    let stats = buffer.stats();
    assert_eq!(
        stats.dropped,
        sent - stored,
        "dropped = sent - stored, exactly"
    );
    assert_eq!(stats.accepted, stored);
    assert!(stats.dropped > 0);
    assert!(
        stored <= CAPACITY as u64 + 1,
        "memory stayed bounded: {stored}"
    );

    assert_eq!(gaps.len(), 1, "one gap record for the stall");
    assert_eq!(verify_gap(gaps[0], &public), Some(stats.dropped));
    assert_eq!(stats.gap_records, 1);

    // An edited gap record no longer verifies.
    let mut edited = gaps[0].clone();
    edited.after.as_mut().unwrap()["dropped"] = serde_json::json!(1);
    assert_eq!(verify_gap(&edited, &public), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_mode_waits_for_room_and_loses_nothing() {
    let (inner, open) = stalled();
    let buffer = Arc::new(BufferedSink::spawn(inner.clone(), 2, Overflow::Block, clock()).unwrap());
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..40 {
        let buffer = Arc::clone(&buffer);
        calls.spawn(async move { buffer.record(&small_event(n)).await });
    }
    until(|| buffer.stats().accepted >= 2).await;
    assert!(inner.memory.is_empty());
    open.send(true).unwrap();
    while let Some(result) = calls.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(inner.memory.len(), 40);
}

#[test]
fn a_buffer_needs_a_runtime() {
    let memory: Arc<dyn AuditSink> = Arc::new(MemorySink::new());
    let made = BufferedSink::spawn(memory, 4, Overflow::Reject, clock());
    assert!(matches!(made, Err(AuditError::NoRuntime)));
}

/// A sink that refuses the event whose message is `event 3`.
struct Picky {
    memory: MemorySink,
}

#[async_trait::async_trait]
impl AuditSink for Picky {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        if event.message == "event 3" {
            return Err(AuditError::SinkStopped);
        }
        self.memory.record(event).await
    }
}

#[tokio::test]
async fn fail_open_reports_a_downstream_refusal_in_the_gap_record() {
    let inner = Arc::new(Picky {
        memory: MemorySink::new(),
    });
    let (key, _) = CheckpointKey::generate().unwrap();
    let public = key.public_key();
    let buffer =
        BufferedSink::spawn(inner.clone(), 16, Overflow::Drop(Arc::new(key)), clock()).unwrap();
    for n in 1..=5 {
        buffer.record(&small_event(n)).await.unwrap();
    }
    buffer.flush().await.unwrap();

    let stats = buffer.stats();
    assert_eq!((stats.stored, stats.failed, stats.dropped), (4, 1, 0));
    let events = inner.memory.events();
    let gaps: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::AuditGap)
        .collect();
    assert_eq!(gaps.len(), 1);
    assert_eq!(verify_gap(gaps[0], &public), Some(1));
}

//! The hash-chained file sink: writing, reopening, concurrency, locking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{small_event, write_events};
use nhi_audit::{
    AuditError, AuditEvent, AuditSink, EventKind, JsonlFileSink, MAX_LINE_BYTES, read_chain,
    verify_chain,
};
use serde_json::Value;

#[tokio::test]
async fn writes_one_chained_record_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_events(&path, 5).await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);

    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["event"]["message"], "event 1");
    assert!(lines[0].starts_with(r#"{"seq":1,"prev":""#));

    let summary = verify_chain(&path).unwrap();
    assert_eq!(summary.records, 5);
    assert_eq!(summary.head.len(), 64);
    assert!(summary.head.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn reopening_continues_the_chain_after_a_restart_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_events(&path, 3).await;
    let first_run = verify_chain(&path).unwrap();

    let sink = JsonlFileSink::open(&path).await.unwrap();
    assert_eq!(sink.path(), path);
    let recovery = sink.recovery();
    assert_eq!(recovery.records, 3);
    assert_eq!(recovery.cut_bytes, 0);
    assert_eq!(recovery.restart_seq, Some(4));
    for n in 5..=7 {
        assert_eq!(sink.record(&small_event(n)).await.unwrap().sequence, n);
    }
    drop(sink);

    let text = std::fs::read_to_string(&path).unwrap();
    let fourth: Value = serde_json::from_str(text.lines().nth(3).unwrap()).unwrap();
    assert_eq!(fourth["prev"], first_run.head.as_str());
    assert_eq!(fourth["event"]["kind"], "audit.restarted");
    assert_eq!(fourth["event"]["after"]["records_before"], 3);

    assert_eq!(verify_chain(&path).unwrap().records, 7);
    let events = read_chain(&path).unwrap();
    let ours: Vec<AuditEvent> = events
        .into_iter()
        .filter(|e| e.kind != EventKind::AuditRestarted)
        .collect();
    let expected: Vec<AuditEvent> = [1, 2, 3, 5, 6, 7].into_iter().map(small_event).collect();
    assert_eq!(ours, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_keep_one_unbroken_chain() {
    const TASKS: u64 = 8;
    const EACH: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(JsonlFileSink::open(&path).await.unwrap());

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..EACH {
                    let event = small_event(t * 1000 + n);
                    seqs.push(sink.record(&event).await.unwrap().sequence);
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "a task's records stay in order"
        );
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=TASKS * EACH).collect::<Vec<_>>());

    assert_eq!(verify_chain(&path).unwrap().records, TASKS * EACH);
    assert_eq!(read_chain(&path).unwrap().len() as u64, TASKS * EACH);
}

#[tokio::test]
async fn an_empty_file_verifies_as_no_records_and_accepts_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, b"").unwrap();
    let summary = verify_chain(&path).unwrap();
    assert_eq!(summary.records, 0);
    assert_eq!(summary.head, "0".repeat(64));

    let sink = JsonlFileSink::open(&path).await.unwrap();
    assert_eq!(sink.record(&small_event(1)).await.unwrap().sequence, 1);
}

#[tokio::test]
async fn a_second_sink_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let first = JsonlFileSink::open(&path).await.unwrap();
    let second = JsonlFileSink::open(&path).await;
    assert!(
        matches!(second, Err(AuditError::InUse { .. })),
        "{second:?}"
    );

    drop(first);
    let again = JsonlFileSink::open(&path).await.unwrap();
    assert_eq!(again.record(&small_event(1)).await.unwrap().sequence, 1);
}

#[tokio::test]
async fn an_oversized_event_is_refused_and_the_sink_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = JsonlFileSink::open(&path).await.unwrap();

    let huge = AuditEvent::new(
        EventKind::ActionCompleted,
        common::START,
        "x".repeat(MAX_LINE_BYTES),
    );
    let refused = sink.record(&huge).await;
    assert!(
        matches!(refused, Err(AuditError::EventTooLarge { .. })),
        "{refused:?}"
    );

    assert_eq!(sink.record(&small_event(1)).await.unwrap().sequence, 1);
    assert_eq!(verify_chain(&path).unwrap().records, 1);
}

#[tokio::test]
async fn missing_files_and_directories_are_io_errors_with_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let error = verify_chain(&missing).unwrap_err();
    assert!(
        matches!(
            error,
            AuditError::Io {
                operation: "open",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(std::error::Error::source(&error).is_some());
    assert!(error.to_string().contains("nope.jsonl"), "{error}");

    let in_missing_dir = dir.path().join("no-dir").join("audit.jsonl");
    let opened = JsonlFileSink::open(&in_missing_dir).await;
    assert!(matches!(opened, Err(AuditError::Io { .. })), "{opened:?}");
}

#[test]
fn open_works_without_a_tokio_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = block_on(JsonlFileSink::open(&path)).unwrap();
    let receipt = block_on(sink.record(&small_event(1))).unwrap();
    assert_eq!(receipt.sequence, 1);
    assert_eq!(verify_chain(&path).unwrap().records, 1);
}

/// Drives a future that never waits, outside any runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited although no runtime is running"),
    }
}

//! The in-memory sink.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::small_event;
use nhi_audit::{AuditSink, MemorySink};

#[tokio::test]
async fn keeps_events_in_order_with_receipts() {
    let sink = MemorySink::new();
    assert!(sink.is_empty());
    for n in 1..=3 {
        let receipt = sink.record(&small_event(n)).await.unwrap();
        assert_eq!(receipt.sequence, n);
    }
    assert_eq!(sink.len(), 3);
    assert!(!sink.is_empty());
    let messages: Vec<String> = sink.events().into_iter().map(|e| e.message).collect();
    assert_eq!(messages, ["event 1", "event 2", "event 3"]);
}

#[tokio::test]
async fn works_shared_behind_a_trait_object() {
    let memory = Arc::new(MemorySink::default());
    let shared: Arc<dyn AuditSink> = memory.clone();
    shared.record(&small_event(1)).await.unwrap();
    memory.record(&small_event(2)).await.unwrap();
    assert_eq!(memory.len(), 2);
    assert_eq!(memory.events()[0], small_event(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_get_distinct_sequences() {
    let sink = Arc::new(MemorySink::new());
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..25 {
                    seqs.push(
                        sink.record(&small_event(t * 100 + n))
                            .await
                            .unwrap()
                            .sequence,
                    );
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
}

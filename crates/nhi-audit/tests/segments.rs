//! Rotated segments, group commit under concurrent writers, and crash recovery.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{START, small_event};
use nhi_audit::{
    AuditError, AuditSink, ChainFault, EventKind, FileSinkOptions, JsonlFileSink, read_chain,
    verify_chain,
};
use nhi_core::{ManualClock, SharedClock};

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn size_rotation_continues_one_chain_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = FileSinkOptions::new(&path).rotate_at_bytes(600);
    let sink = JsonlFileSink::open_with(options).await.unwrap();
    for n in 1..=12 {
        assert_eq!(sink.record(&small_event(n)).await.unwrap().sequence, n);
    }
    drop(sink);

    let names = segment_files(dir.path());
    assert!(names.len() >= 3, "{names:?}");
    assert_eq!(names[0], "audit.jsonl");
    assert_eq!(names[1], "audit.jsonl.000002");
    for name in &names {
        let size = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert!(size <= 600, "{name} has {size} bytes");
    }

    // The second segment's first record continues the first segment's chain.
    let first = verify_chain(&path).unwrap();
    assert_eq!(first.records, 12);
    let events = read_chain(&path).unwrap();
    assert_eq!(events, (1..=12).map(small_event).collect::<Vec<_>>());

    // Reopening resumes in the last segment.
    let sink = JsonlFileSink::open_with(FileSinkOptions::new(&path).rotate_at_bytes(600))
        .await
        .unwrap();
    assert_eq!(sink.recovery().restart_seq, Some(13));
    assert_eq!(sink.record(&small_event(14)).await.unwrap().sequence, 14);
    assert_eq!(verify_chain(&path).unwrap().records, 14);
}

#[tokio::test]
async fn time_rotation_follows_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let clock = Arc::new(ManualClock::new(START));
    let shared: SharedClock = clock.clone();
    let options = FileSinkOptions::new(&path)
        .rotate_after(Duration::from_secs(3600))
        .clock(shared);
    let sink = JsonlFileSink::open_with(options).await.unwrap();

    sink.record(&small_event(1)).await.unwrap();
    sink.record(&small_event(2)).await.unwrap();
    clock.advance(Duration::from_secs(3600));
    sink.record(&small_event(3)).await.unwrap();
    clock.advance(Duration::from_secs(10));
    sink.record(&small_event(4)).await.unwrap();

    assert_eq!(
        segment_files(dir.path()),
        ["audit.jsonl", "audit.jsonl.000002"]
    );
    let second = std::fs::read_to_string(dir.path().join("audit.jsonl.000002")).unwrap();
    assert_eq!(second.lines().count(), 2);
    assert!(second.starts_with("{\"seq\":3,"));
    assert_eq!(verify_chain(&path).unwrap().records, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_get_every_record_durable_and_chained() {
    const WRITERS: u64 = 8;
    const EACH: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = FileSinkOptions::new(&path).rotate_at_bytes(4096);
    let sink = Arc::new(JsonlFileSink::open_with(options).await.unwrap());

    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let sink = Arc::clone(&sink);
        tasks.spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..EACH {
                seqs.push(
                    sink.record(&small_event(w * 1000 + n))
                        .await
                        .unwrap()
                        .sequence,
                );
            }
            seqs
        });
    }
    let mut all = Vec::new();
    while let Some(seqs) = tasks.join_next().await {
        all.extend(seqs.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=WRITERS * EACH).collect::<Vec<_>>());
    assert_eq!(verify_chain(&path).unwrap().records, WRITERS * EACH);
}

#[tokio::test]
async fn a_torn_line_in_the_last_segment_is_cut_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = JsonlFileSink::open_with(FileSinkOptions::new(&path).rotate_at_bytes(600))
        .await
        .unwrap();
    for n in 1..=8 {
        sink.record(&small_event(n)).await.unwrap();
    }
    drop(sink);

    // A crash mid-write: half a line at the end of the last segment.
    let last = dir.path().join(segment_files(dir.path()).last().unwrap());
    let mut bytes = std::fs::read(&last).unwrap();
    let torn = b"{\"seq\":9,\"prev\":\"00";
    bytes.extend_from_slice(torn);
    std::fs::write(&last, &bytes).unwrap();
    assert!(matches!(
        verify_chain(&path),
        Err(AuditError::ChainBroken {
            line: 9,
            reason: ChainFault::TornLastLine
        })
    ));

    let sink = JsonlFileSink::open_with(FileSinkOptions::new(&path).rotate_at_bytes(600))
        .await
        .unwrap();
    let recovery = sink.recovery();
    assert_eq!(
        (recovery.records, recovery.cut_bytes),
        (8, torn.len() as u64)
    );
    assert_eq!(recovery.restart_seq, Some(9));
    drop(sink);

    let events = read_chain(&path).unwrap();
    assert_eq!(events.len(), 9);
    assert_eq!(events[8].kind, EventKind::AuditRestarted);
    assert_eq!(events[8].after.as_ref().unwrap()["cut_bytes"], torn.len());
}

#[tokio::test]
async fn a_fault_other_than_a_torn_tail_is_not_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    common::write_events(&path, 3).await;
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("event 2", "event 7")).unwrap();
    let before = std::fs::read(&path).unwrap();

    let opened = JsonlFileSink::open(&path).await;
    assert!(
        matches!(
            opened,
            Err(AuditError::ChainBroken {
                line: 2,
                reason: ChainFault::Altered
            })
        ),
        "{opened:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn an_empty_log_reopened_writes_no_restart_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    drop(JsonlFileSink::open(&path).await.unwrap());
    let sink = JsonlFileSink::open(&path).await.unwrap();
    assert_eq!(sink.recovery().restart_seq, None);
    assert_eq!(verify_chain(&path).unwrap().records, 0);
}

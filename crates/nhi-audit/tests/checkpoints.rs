//! Signed checkpoints and the thorough verifier: a scripted faulty log for each kind of
//! tampering, each named exactly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{START, small_event};
use nhi_audit::{
    AuditEvent, AuditSink, Checkpoint, CheckpointKey, CheckpointStore, EventKind,
    FileCheckpointStore, FileSinkOptions, Finding, JsonlFileSink, LogReport, MemoryCheckpointStore,
    verify_log,
};
use nhi_core::{ManualClock, SharedClock};
use ring::digest::{SHA256, digest};
use tempfile::TempDir;

/// A log of `n` records with a checkpoint every 5, and its store and key.
struct Anchored {
    _dir: TempDir,
    path: PathBuf,
    key: Arc<CheckpointKey>,
    store: Arc<MemoryCheckpointStore>,
}

impl Anchored {
    async fn new(n: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let (key, _) = CheckpointKey::generate().unwrap();
        let anchored = Self {
            _dir: dir,
            path,
            key: Arc::new(key),
            store: Arc::new(MemoryCheckpointStore::new()),
        };
        let sink = anchored.open().await;
        for i in 1..=n {
            sink.record(&small_event(i)).await.unwrap();
        }
        anchored
    }

    async fn open(&self) -> JsonlFileSink {
        let store: Arc<dyn CheckpointStore> = self.store.clone();
        let options = FileSinkOptions::new(&self.path).checkpoints(
            Arc::clone(&self.key),
            store,
            5,
            Duration::from_secs(3600),
        );
        JsonlFileSink::open_with(options).await.unwrap()
    }

    fn checkpoints(&self) -> Vec<Checkpoint> {
        self.store.load().unwrap()
    }

    fn report(&self) -> LogReport {
        verify_log(&self.path, &self.checkpoints(), &self.key.public_key()).unwrap()
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write(&self, lines: &[String]) {
        std::fs::write(&self.path, lines.join("\n") + "\n").unwrap();
    }
}

fn sha256_hex(line: &str) -> String {
    digest(&SHA256, line.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A record line for `seq` chained after `previous`.
fn forged_line(seq: u64, previous: &str, event: &AuditEvent) -> String {
    let json = serde_json::to_string(event).unwrap();
    format!(
        "{{\"seq\":{seq},\"prev\":\"{}\",\"event\":{json}}}",
        sha256_hex(previous)
    )
}

#[tokio::test]
async fn an_untouched_log_is_intact_and_every_checkpoint_matches() {
    let log = Anchored::new(12).await;
    let sizes: Vec<u64> = log.checkpoints().iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![5, 10]);
    let report = log.report();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!((report.records, report.last_seq), (12, 12));
    assert_eq!(report.checkpoints_matched, 2);
}

#[tokio::test]
async fn an_edited_record_is_named() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines[2] = lines[2].replace("event 3", "event 9");
    log.write(&lines);
    assert_eq!(log.report().findings, vec![Finding::Altered { seq: 3 }]);
}

#[tokio::test]
async fn an_edited_last_record_is_caught_by_its_checkpoint() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines[9] = lines[9].replace("\"allow\"", "\"deny\"");
    log.write(&lines);
    assert_eq!(log.report().findings, vec![Finding::Altered { seq: 10 }]);
}

#[tokio::test]
async fn one_deleted_record_is_a_one_record_range() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.remove(3);
    log.write(&lines);
    assert_eq!(
        log.report().findings,
        vec![Finding::Missing { first: 4, last: 4 }]
    );
}

#[tokio::test]
async fn two_deleted_records_in_a_row_are_one_range() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.drain(3..5);
    log.write(&lines);
    assert_eq!(
        log.report().findings,
        vec![Finding::Missing { first: 4, last: 5 }]
    );
}

#[tokio::test]
async fn separate_deletions_are_separate_ranges() {
    let log = Anchored::new(12).await;
    let mut lines = log.lines();
    lines.remove(8);
    lines.drain(1..3);
    log.write(&lines);
    assert_eq!(
        log.report().findings,
        vec![
            Finding::Missing { first: 2, last: 3 },
            Finding::Missing { first: 9, last: 9 }
        ]
    );
}

#[tokio::test]
async fn swapped_records_name_the_displaced_one() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.swap(2, 3);
    log.write(&lines);
    assert_eq!(log.report().findings, vec![Finding::OutOfOrder { seq: 3 }]);
}

#[tokio::test]
async fn a_duplicated_record_is_named() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    let copy = lines[5].clone();
    lines.insert(6, copy);
    log.write(&lines);
    assert_eq!(log.report().findings, vec![Finding::Duplicated { seq: 6 }]);
}

#[tokio::test]
async fn an_inserted_forgery_with_a_used_number_is_conflicting() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    let forged = forged_line(4, &lines[2], &small_event(99));
    lines.insert(4, forged);
    log.write(&lines);
    assert_eq!(log.report().findings, vec![Finding::Conflicting { seq: 4 }]);
}

#[tokio::test]
async fn a_cut_tail_is_named_against_the_newest_checkpoint() {
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.truncate(7);
    log.write(&lines);
    assert_eq!(
        log.report().findings,
        vec![Finding::TruncatedTail { first: 8, last: 10 }]
    );
}

#[tokio::test]
async fn a_restart_record_written_by_the_sink_is_legitimate() {
    let log = Anchored::new(7).await;
    let sink = log.open().await;
    assert_eq!(sink.recovery().restart_seq, Some(8));
    for i in 9..=12 {
        sink.record(&small_event(i)).await.unwrap();
    }
    let report = log.report();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.restarts, vec![8]);
}

#[tokio::test]
async fn a_restart_record_covering_a_cut_is_forged() {
    // Records 8-10 are deleted and a well-chained restart record put in their place.
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.truncate(7);
    let restart = AuditEvent::new(EventKind::AuditRestarted, START, "audit log reopened");
    let forged = forged_line(8, &lines[6], &restart);
    lines.push(forged);
    log.write(&lines);

    let report = log.report();
    assert_eq!(
        report.findings,
        vec![
            Finding::TruncatedTail { first: 9, last: 10 },
            Finding::ForgedRestart { seq: 8 }
        ]
    );
    assert!(report.restarts.is_empty());
}

#[tokio::test]
async fn a_restart_record_replacing_anchored_records_is_forged() {
    // Records 8-10 replaced by a restart record and two new ones: the chain holds, the
    // checkpoint at 10 does not.
    let log = Anchored::new(10).await;
    let mut lines = log.lines();
    lines.truncate(7);
    let restart = AuditEvent::new(EventKind::AuditRestarted, START, "audit log reopened");
    lines.push(forged_line(8, &lines[6], &restart));
    lines.push(forged_line(9, &lines[7], &small_event(90)));
    lines.push(forged_line(10, &lines[8], &small_event(91)));
    log.write(&lines);
    assert_eq!(
        log.report().findings,
        vec![Finding::ForgedRestart { seq: 8 }]
    );
}

#[tokio::test]
async fn a_forged_checkpoint_is_named() {
    let log = Anchored::new(10).await;
    let mut checkpoints = log.checkpoints();
    checkpoints[1].size = 11;
    let report = verify_log(&log.path, &checkpoints, &log.key.public_key()).unwrap();
    assert_eq!(report.findings, vec![Finding::BadCheckpoint { size: 11 }]);

    let (other, _) = CheckpointKey::generate().unwrap();
    let report = verify_log(&log.path, &log.checkpoints(), &other.public_key()).unwrap();
    assert_eq!(
        report.findings,
        vec![
            Finding::BadCheckpoint { size: 5 },
            Finding::BadCheckpoint { size: 10 }
        ]
    );
}

#[tokio::test]
async fn garbage_and_torn_lines_are_named_by_segment_and_line() {
    let log = Anchored::new(4).await;
    let mut lines = log.lines();
    lines.insert(2, "not a record".to_owned());
    let mut text = lines.join("\n") + "\n";
    text.push_str("{\"seq\":5,");
    std::fs::write(&log.path, text).unwrap();
    assert_eq!(
        log.report().findings,
        vec![
            Finding::NotARecord {
                segment: 1,
                line: 3
            },
            Finding::TornLine {
                segment: 1,
                line: 6
            }
        ]
    );
}

#[tokio::test]
async fn a_deleted_segment_is_named_with_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = JsonlFileSink::open_with(FileSinkOptions::new(&path).rotate_at_bytes(500))
        .await
        .unwrap();
    for i in 1..=9 {
        sink.record(&small_event(i)).await.unwrap();
    }
    drop(sink);
    let second = dir.path().join("audit.jsonl.000002");
    let held = std::fs::read_to_string(&second).unwrap().lines().count() as u64;
    let first = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
    std::fs::remove_file(second).unwrap();

    let (key, _) = CheckpointKey::generate().unwrap();
    let report = verify_log(&path, &[], &key.public_key()).unwrap();
    assert_eq!(
        report.findings,
        vec![
            Finding::MissingSegment { index: 2 },
            Finding::Missing {
                first: first + 1,
                last: first + held
            }
        ]
    );
}

#[tokio::test]
async fn checkpoints_follow_the_clock_and_go_to_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let store_path = dir.path().join("elsewhere.jsonl");
    let (key, _) = CheckpointKey::generate().unwrap();
    let key = Arc::new(key);
    let store = Arc::new(FileCheckpointStore::open(&store_path).unwrap());
    let clock = Arc::new(ManualClock::new(START));
    let shared: SharedClock = clock.clone();
    let options = FileSinkOptions::new(&path)
        .checkpoints(
            Arc::clone(&key),
            store.clone(),
            1000,
            Duration::from_secs(60),
        )
        .clock(shared);
    let sink = JsonlFileSink::open_with(options).await.unwrap();

    sink.record(&small_event(1)).await.unwrap();
    assert!(store.load().unwrap().is_empty());
    clock.advance(Duration::from_secs(60));
    sink.record(&small_event(2)).await.unwrap();
    sink.record(&small_event(3)).await.unwrap();
    let forced = sink.checkpoint_now().await.unwrap().unwrap();
    assert_eq!(forced.size, 3);
    assert_eq!(sink.checkpoint_now().await.unwrap(), None, "nothing new");

    let kept = store.load().unwrap();
    assert_eq!(kept.iter().map(|c| c.size).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(kept[0].time, START.saturating_add(Duration::from_secs(60)));
    let report = verify_log(&path, &kept, &key.public_key()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.checkpoints_matched, 2);
}

#[tokio::test]
async fn random_damage_is_reported_never_panicked_on() {
    let log = Anchored::new(30).await;
    let pristine = std::fs::read(&log.path).unwrap();
    let checkpoints = log.checkpoints();
    let public = log.key.public_key();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        let mut bytes = pristine.clone();
        for _ in 0..1 + seed % 4 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let at = (seed >> 16) as usize % bytes.len();
            match seed % 3 {
                0 => bytes[at] ^= 1 << (seed % 8),
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b'\n'),
            }
        }
        std::fs::write(&log.path, &bytes).unwrap();
        let report = verify_log(&log.path, &checkpoints, &public).unwrap();
        assert!(!report.is_intact(), "damage went unseen");
        assert!(nhi_audit::verify_chain(&log.path).is_err());
    }
}

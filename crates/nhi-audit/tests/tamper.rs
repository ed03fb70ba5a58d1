//! A written audit file, tampered with in each way the verifier must name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::write_events;
use nhi_audit::{AuditError, ChainFault, JsonlFileSink, verify_chain};
use tempfile::TempDir;

/// A directory holding a file with five records, and the file's lines.
async fn five_records() -> (TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_events(&path, 5).await;
    let lines = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (dir, path, lines)
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn broken_at(path: &Path) -> (u64, ChainFault) {
    match verify_chain(path) {
        Err(AuditError::ChainBroken { line, reason }) => (line, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[tokio::test]
async fn an_edited_event_names_the_edited_line() {
    let (_dir, path, mut lines) = five_records().await;
    lines[2] = lines[2].replace("event 3", "event 9");
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path), (3, ChainFault::Altered));
}

#[tokio::test]
async fn an_edited_first_line_names_line_one() {
    let (_dir, path, mut lines) = five_records().await;
    lines[0] = lines[0].replace("\"allow\"", "\"deny\"");
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path), (1, ChainFault::Altered));
}

#[tokio::test]
async fn a_deleted_line_is_a_gap_where_it_was() {
    let (_dir, path, mut lines) = five_records().await;
    lines.remove(2);
    write_lines(&path, &lines);
    let gap = ChainFault::SequenceGap {
        expected: 3,
        found: 4,
    };
    assert_eq!(broken_at(&path), (3, gap));
}

#[tokio::test]
async fn two_deleted_lines_in_a_row_are_one_gap() {
    let (_dir, path, mut lines) = five_records().await;
    lines.drain(1..3);
    write_lines(&path, &lines);
    let gap = ChainFault::SequenceGap {
        expected: 2,
        found: 4,
    };
    assert_eq!(broken_at(&path), (2, gap));
}

#[tokio::test]
async fn a_deleted_first_line_is_a_gap_at_line_one() {
    let (_dir, path, mut lines) = five_records().await;
    lines.remove(0);
    write_lines(&path, &lines);
    let gap = ChainFault::SequenceGap {
        expected: 1,
        found: 2,
    };
    assert_eq!(broken_at(&path), (1, gap));
}

#[tokio::test]
async fn swapped_lines_name_the_first_of_them() {
    let (_dir, path, mut lines) = five_records().await;
    lines.swap(1, 2);
    write_lines(&path, &lines);
    let gap = ChainFault::SequenceGap {
        expected: 2,
        found: 3,
    };
    assert_eq!(broken_at(&path), (2, gap));
}

#[tokio::test]
async fn a_duplicated_line_names_the_copy() {
    let (_dir, path, mut lines) = five_records().await;
    let copy = lines[2].clone();
    lines.insert(3, copy);
    write_lines(&path, &lines);
    let repeat = ChainFault::SequenceRepeat {
        expected: 4,
        found: 3,
    };
    assert_eq!(broken_at(&path), (4, repeat));
}

#[tokio::test]
async fn a_renumbered_line_is_caught_by_its_hash() {
    // Deleting line 3 and renumbering the rest keeps the sequence whole, not the hashes.
    let (_dir, path, mut lines) = five_records().await;
    lines.remove(2);
    for (index, line) in lines.iter_mut().enumerate().skip(2) {
        let old = format!("{{\"seq\":{},", index + 2);
        *line = line.replacen(&old, &format!("{{\"seq\":{},", index + 1), 1);
    }
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path), (2, ChainFault::Altered));
}

#[tokio::test]
async fn a_file_cut_mid_line_is_a_torn_last_line() {
    let (_dir, path, _) = five_records().await;
    let bytes = std::fs::read(&path).unwrap();
    let line_four_start = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0
        + 1;
    std::fs::write(&path, &bytes[..line_four_start + 20]).unwrap();
    assert_eq!(broken_at(&path), (4, ChainFault::TornLastLine));
}

#[tokio::test]
async fn a_whole_last_line_without_its_line_end_is_torn() {
    let (_dir, path, _) = five_records().await;
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(broken_at(&path), (5, ChainFault::TornLastLine));
}

#[tokio::test]
async fn a_garbage_line_is_not_a_record() {
    let (_dir, path, mut lines) = five_records().await;
    lines.insert(2, "this is not json".to_owned());
    write_lines(&path, &lines);
    assert!(matches!(
        broken_at(&path),
        (3, ChainFault::NotARecord { .. })
    ));

    let (_dir, path, mut lines) = five_records().await;
    lines[4] = "{\"seq\":5}".to_owned();
    write_lines(&path, &lines);
    assert!(matches!(
        broken_at(&path),
        (5, ChainFault::NotARecord { .. })
    ));

    let (_dir, path, mut lines) = five_records().await;
    lines.push(String::new());
    write_lines(&path, &lines);
    assert!(matches!(
        broken_at(&path),
        (6, ChainFault::NotARecord { .. })
    ));
}

#[tokio::test]
async fn the_end_of_the_file_needs_an_outside_anchor() {
    // The file alone cannot show a changed last line or a removed tail; the head can.
    let (_dir, path, mut lines) = five_records().await;
    let anchor = verify_chain(&path).unwrap();

    lines[4] = lines[4].replace("event 5", "event 0");
    write_lines(&path, &lines);
    let edited = verify_chain(&path).unwrap();
    assert_eq!(edited.records, 5);
    assert_ne!(edited.head, anchor.head);

    lines.pop();
    write_lines(&path, &lines);
    assert_eq!(verify_chain(&path).unwrap().records, 4);
}

#[tokio::test]
async fn a_tampered_file_is_not_opened_for_appending() {
    let (_dir, path, mut lines) = five_records().await;
    lines[1] = lines[1].replace("event 2", "event 8");
    write_lines(&path, &lines);
    let before = std::fs::read(&path).unwrap();

    match JsonlFileSink::open(&path).await {
        Err(AuditError::ChainBroken {
            line: 2,
            reason: ChainFault::Altered,
        }) => {}
        other => panic!("expected a refusal naming line 2, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was not touched"
    );
}

#[tokio::test]
async fn a_torn_file_is_cut_back_and_marked_on_open() {
    let (_dir, path, lines) = five_records().await;
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert_eq!(broken_at(&path), (5, ChainFault::TornLastLine));

    let sink = JsonlFileSink::open(&path).await.unwrap();
    let recovery = sink.recovery();
    assert_eq!(recovery.records, 4);
    assert_eq!(recovery.cut_bytes, lines[4].len() as u64 + 1 - 10);
    assert_eq!(recovery.restart_seq, Some(5));
    drop(sink);

    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    assert_eq!(
        kept[..4],
        lines[..4].iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let marker: serde_json::Value = serde_json::from_str(kept[4]).unwrap();
    assert_eq!(marker["event"]["kind"], "audit.restarted");
    assert_eq!(marker["event"]["after"]["cut_bytes"], recovery.cut_bytes);
    assert_eq!(verify_chain(&path).unwrap().records, 5);
}

#[tokio::test]
async fn the_error_message_names_the_line_and_the_fault() {
    let (_dir, path, mut lines) = five_records().await;
    lines.remove(3);
    write_lines(&path, &lines);
    let message = verify_chain(&path).unwrap_err().to_string();
    assert!(message.contains("line 4"), "{message}");
    assert!(
        message.contains("expected sequence 4 but found 5"),
        "{message}"
    );
}

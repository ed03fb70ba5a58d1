//! The hash-chained JSON-lines format, and the verifier that names the first bad line.
//!
//! Each line is one record, `{"seq":N,"prev":"<hex>","event":{...}}`, ended by `\n`.
//! `seq` counts from 1 in steps of one. `prev` is the lowercase hex SHA-256 of the
//! previous line's exact bytes, without its `\n`; the first record's `prev` is 64 zeros.
//!
//! # Which line a broken chain names
//!
//! Lines are checked in order; each check names the first line the chain can no
//! longer vouch for:
//!
//! - a line longer than [`MAX_LINE_BYTES`], not a record (not JSON, not UTF-8, blank,
//!   a field missing or unknown), or the last line without its `\n` (a torn write)
//!   is named itself;
//! - a line whose `seq` is not one more than the line before it is named itself: a
//!   jump ahead means deleted lines or a reordering, a step back a repeated line or a
//!   reordering;
//! - when line k+1's `prev` is not the hash of line k, line k is named as altered:
//!   lines 1 to k-1 are each vouched for by their successor, line k is the first that
//!   is not. If instead line k+1's own `prev` was edited, line k is still named; in both
//!   cases nothing from line k on can be trusted;
//! - when the first line's `prev` is not 64 zeros, line 1 is named.
//!
//! A log rotated into segments (`audit.jsonl`, `audit.jsonl.000002`, ...) is one chain:
//! the first record of a segment continues the sequence and `prev` of the segment before.
//!
//! What the file alone cannot show: a change to the last line, or the removal of lines
//! at the end, leaves a chain that still holds. Keep [`ChainSummary::head`] and
//! [`ChainSummary::records`] somewhere else and compare them: signed
//! [`Checkpoint`](crate::Checkpoint)s do this, and [`verify_log`](crate::verify_log)
//! checks them.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ring::digest::{SHA256, digest};
use serde::Deserialize;

use crate::error::{AuditError, ChainFault};
use crate::event::AuditEvent;
use crate::segment::later_segments;

/// The longest line, in bytes without its `\n`, that is written or accepted.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The `prev` of the first record: 64 zeros.
pub(crate) const GENESIS_PREV: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// What a verified chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// How many records the file holds.
    pub records: u64,
    /// Lowercase hex SHA-256 of the last line (without its `\n`); 64 zeros for an empty
    /// file. Kept elsewhere, it detects a later change to the end of the file.
    pub head: String,
}

/// Checks the hash chain of the audit file at `path`.
///
/// # Errors
///
/// [`AuditError::ChainBroken`] naming the first bad line (see the module docs for the
/// rule), or [`AuditError::Io`] when the file cannot be read.
pub fn verify_chain(path: impl AsRef<Path>) -> Result<ChainSummary, AuditError> {
    scan_log(path.as_ref(), |_| {})
}

/// Checks the hash chain of the audit file at `path` and returns its events, oldest
/// first. Nothing is returned unless the whole chain holds.
///
/// # Errors
///
/// As [`verify_chain`].
pub fn read_chain(path: impl AsRef<Path>) -> Result<Vec<AuditEvent>, AuditError> {
    let mut events = Vec::new();
    scan_log(path.as_ref(), |event| events.push(event))?;
    Ok(events)
}

/// Scans the log at `path` and every later segment of it, as one chain.
pub(crate) fn scan_log(
    path: &Path,
    mut visit: impl FnMut(AuditEvent),
) -> Result<ChainSummary, AuditError> {
    let file = File::open(path).map_err(|source| io_error("open", path, source))?;
    let mut summary = scan(BufReader::new(file), path, &mut visit)?;
    for (_, segment) in later_segments(path)? {
        let file = File::open(&segment).map_err(|source| io_error("open", &segment, source))?;
        summary = scan_from(BufReader::new(file), &segment, summary, &mut visit)?;
    }
    Ok(summary)
}

/// One record as read back from a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine {
    seq: u64,
    prev: String,
    event: AuditEvent,
}

/// Reads every line of `reader`, checks the chain, and hands each event to `visit`.
pub(crate) fn scan(
    reader: impl BufRead,
    path: &Path,
    visit: impl FnMut(AuditEvent),
) -> Result<ChainSummary, AuditError> {
    let start = ChainSummary {
        records: 0,
        head: GENESIS_PREV.to_owned(),
    };
    scan_from(reader, path, start, visit)
}

/// As [`scan`], continuing a chain that already holds `summary` (a later segment).
/// Line numbers in errors count records from the start of the whole chain.
pub(crate) fn scan_from(
    mut reader: impl BufRead,
    path: &Path,
    mut summary: ChainSummary,
    mut visit: impl FnMut(AuditEvent),
) -> Result<ChainSummary, AuditError> {
    let mut buf = Vec::new();

    loop {
        // Read one line, never more than the limit plus its line end.
        buf.clear();
        let limit = u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX);
        let read = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| io_error("read", path, source))?;
        if read == 0 {
            return Ok(summary);
        }
        let line = summary.records + 1;
        let broken = |line, reason| AuditError::ChainBroken { line, reason };

        // A line without its end is either over-long or the torn tail of the file.
        let Some(content) = buf.strip_suffix(b"\n") else {
            let reason = if buf.len() > MAX_LINE_BYTES {
                ChainFault::LineTooLong {
                    limit: MAX_LINE_BYTES,
                }
            } else {
                ChainFault::TornLastLine
            };
            return Err(broken(line, reason));
        };

        let record = parse(content).map_err(|reason| broken(line, reason))?;
        check_sequence(record.seq, line).map_err(|reason| broken(line, reason))?;

        // A `prev` that misses the previous line's hash names the previous line.
        if record.prev != summary.head {
            return Err(match line.checked_sub(1).filter(|&before| before > 0) {
                Some(before) => broken(before, ChainFault::Altered),
                None => broken(line, ChainFault::FirstPrevNotZero),
            });
        }

        summary.records = line;
        summary.head = line_hash(content);
        visit(record.event);
    }
}

/// The lowercase hex SHA-256 of a line's bytes (without its `\n`).
pub(crate) fn line_hash(content: &[u8]) -> String {
    let hash = digest(&SHA256, content);
    let mut hex = String::with_capacity(64);
    for byte in hash.as_ref() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Builds the bytes of one record line (without its `\n`) from an event's JSON.
#[cfg(test)]
pub(crate) fn compose_line(seq: u64, prev: &str, event_json: &[u8]) -> Vec<u8> {
    let head = format!("{{\"seq\":{seq},\"prev\":\"{prev}\",\"event\":");
    let mut line = Vec::with_capacity(head.len() + event_json.len() + 1);
    line.extend_from_slice(head.as_bytes());
    line.extend_from_slice(event_json);
    line.push(b'}');
    line
}

/// Builds an I/O error about `path`.
pub(crate) fn io_error(operation: &'static str, path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Io {
        operation,
        path: path.to_owned(),
        source,
    }
}

/// Reads a record, describing the parse failure without quoting much of the line.
fn parse(content: &[u8]) -> Result<RecordLine, ChainFault> {
    serde_json::from_slice(content).map_err(|error| ChainFault::NotARecord {
        detail: clip(&error.to_string()),
    })
}

/// Checks that line number `line` carries sequence number `line`.
fn check_sequence(found: u64, expected: u64) -> Result<(), ChainFault> {
    match found.cmp(&expected) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(ChainFault::SequenceGap { expected, found }),
        std::cmp::Ordering::Less => Err(ChainFault::SequenceRepeat { expected, found }),
    }
}

/// Shortens a parser message, which may echo a value from a hostile file.
fn clip(text: &str) -> String {
    const MAX: usize = 160;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or_default()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::EventKind;
    use nhi_core::Timestamp;

    fn event_json(message: &str) -> Vec<u8> {
        let event = AuditEvent::new(EventKind::AccessDecided, Timestamp::EPOCH, message);
        serde_json::to_vec(&event).unwrap()
    }

    fn chain_of(messages: &[&str]) -> Vec<u8> {
        let mut file = Vec::new();
        let mut prev = GENESIS_PREV.to_owned();
        for (index, message) in messages.iter().enumerate() {
            let line = compose_line(index as u64 + 1, &prev, &event_json(message));
            prev = line_hash(&line);
            file.extend_from_slice(&line);
            file.push(b'\n');
        }
        file
    }

    fn check(file: &[u8]) -> Result<ChainSummary, AuditError> {
        scan(file, Path::new("memory"), |_| {})
    }

    fn broken_at(file: &[u8]) -> (u64, ChainFault) {
        match check(file) {
            Err(AuditError::ChainBroken { line, reason }) => (line, reason),
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn sha256_of_empty_input_is_the_known_value() {
        assert_eq!(
            line_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn composed_lines_verify_and_the_head_is_the_last_hash() {
        let file = chain_of(&["one", "two", "three"]);
        let summary = check(&file).unwrap();
        assert_eq!(summary.records, 3);
        let last = file[..file.len() - 1]
            .rsplit(|&b| b == b'\n')
            .next()
            .unwrap();
        assert_eq!(summary.head, line_hash(last));
        assert_eq!(check(b"").unwrap().head, GENESIS_PREV);
    }

    #[test]
    fn a_wrong_first_prev_names_line_one() {
        let line = compose_line(1, &"1".repeat(64), &event_json("forged"));
        let mut file = line.clone();
        file.push(b'\n');
        assert_eq!(broken_at(&file), (1, ChainFault::FirstPrevNotZero));
    }

    #[test]
    fn an_edited_prev_on_line_two_names_line_one() {
        let file = String::from_utf8(chain_of(&["one", "two", "three"])).unwrap();
        let mut lines: Vec<String> = file.lines().map(str::to_owned).collect();
        lines[1] = lines[1].replacen("\"prev\":\"", "\"prev\":\"f", 1);
        let edited = lines.join("\n") + "\n";
        assert_eq!(broken_at(edited.as_bytes()), (1, ChainFault::Altered));
    }

    #[test]
    fn extra_fields_and_missing_fields_are_not_records() {
        let mut file = chain_of(&["one"]);
        file.extend_from_slice(b"{\"seq\":2,\"prev\":\"00\",\"event\":{},\"x\":1}\n");
        assert!(matches!(
            broken_at(&file),
            (2, ChainFault::NotARecord { .. })
        ));
        assert!(matches!(
            broken_at(b"{\"seq\":1}\n"),
            (1, ChainFault::NotARecord { .. })
        ));
        assert!(matches!(
            broken_at(b"\n"),
            (1, ChainFault::NotARecord { .. })
        ));
        assert!(matches!(
            broken_at(b"\xff\xfe\n"),
            (1, ChainFault::NotARecord { .. })
        ));
    }

    #[test]
    fn an_over_long_line_is_refused_without_reading_it_all() {
        let mut file = vec![b'a'; MAX_LINE_BYTES + 10];
        file.push(b'\n');
        let limit = MAX_LINE_BYTES;
        assert_eq!(broken_at(&file), (1, ChainFault::LineTooLong { limit }));
    }

    #[test]
    fn a_huge_sequence_number_is_a_gap_not_an_overflow() {
        let line = compose_line(u64::MAX, GENESIS_PREV, &event_json("x"));
        let mut file = line;
        file.push(b'\n');
        let fault = ChainFault::SequenceGap {
            expected: 1,
            found: u64::MAX,
        };
        assert_eq!(broken_at(&file), (1, fault));
    }

    #[test]
    fn parser_details_are_clipped() {
        let long = format!(
            "{{\"seq\":1,\"prev\":\"{}\",\"event\":{{\"kind\":\"{}\"}}}}\n",
            GENESIS_PREV,
            "k".repeat(5000)
        );
        let (_, fault) = broken_at(long.as_bytes());
        let ChainFault::NotARecord { detail } = fault else {
            panic!("expected a parse failure");
        };
        assert!(detail.chars().count() <= 161, "{detail}");
    }
}

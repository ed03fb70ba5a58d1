//! The thorough verifier: reads a whole log (every segment), checks it against signed
//! checkpoints, and names every fault instead of stopping at the first.
//!
//! [`verify_chain`](crate::verify_chain) answers "can this log be trusted and appended
//! to?" and stops at the first bad line. [`verify_log`] answers "what exactly was done
//! to it?" for an investigator:
//!
//! - records deleted anywhere are one [`Finding::Missing`] range per run of deletions;
//! - an edited record is [`Finding::Altered`] (seen through the next record's `prev`,
//!   or, for the last record, through a checkpoint);
//! - a record repeated is [`Finding::Duplicated`]; a record that reappears with other
//!   content is [`Finding::Conflicting`]; a record placed after a later one is
//!   [`Finding::OutOfOrder`];
//! - a log shorter than the newest checkpoint is [`Finding::TruncatedTail`];
//! - an `audit.restarted` record is a legitimate restart, listed in
//!   [`LogReport::restarts`], unless it stands where a checkpoint vouched for other
//!   records: then it is [`Finding::ForgedRestart`].
//!
//! Each line's envelope (sequence, `prev`, event kind) is read and its bytes hashed; the
//! event itself is not parsed in full, which [`read_chain`](crate::read_chain) does.
//! Only the last [`REORDER_WINDOW`] records are remembered, so memory stays bounded
//! however long the log; a record moved further than that reads as missing and
//! conflicting rather than out of order.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use crate::chain::{MAX_LINE_BYTES, io_error};
use crate::checkpoint::{Checkpoint, CheckpointPublicKey};
use crate::encoder::{hash_line, parse_hex32, push_hex};
use crate::error::AuditError;
use crate::kind::EventKind;
use crate::segment::later_segments;

/// How many recent records the verifier remembers to recognize repeats and reordering.
pub const REORDER_WINDOW: u64 = 4096;

/// One thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// Records `first..=last` are not in the log: deleted, or lost with a segment.
    Missing {
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number.
        last: u64,
    },
    /// Record `seq` was changed after it was written.
    Altered {
        /// The changed record.
        seq: u64,
    },
    /// Record `seq` appears again, unchanged.
    Duplicated {
        /// The repeated record.
        seq: u64,
    },
    /// Record `seq` appears again with different content: an inserted forgery.
    Conflicting {
        /// The sequence number used twice.
        seq: u64,
    },
    /// Record `seq` appears after a record that follows it.
    OutOfOrder {
        /// The displaced record.
        seq: u64,
    },
    /// The first record's `prev` is not 64 zeros: earlier records were removed.
    BadGenesis,
    /// A line is not a chain record.
    NotARecord {
        /// The segment (1-based).
        segment: u32,
        /// The line within the segment (1-based).
        line: u64,
    },
    /// A segment ends in a line without its line end: a crash not yet repaired, or a
    /// cut.
    TornLine {
        /// The segment (1-based).
        segment: u32,
        /// The line within the segment (1-based).
        line: u64,
    },
    /// A segment file between two others is gone.
    MissingSegment {
        /// Its index.
        index: u32,
    },
    /// The log ends before the newest checkpoint: records `first..=last` were cut off.
    TruncatedTail {
        /// The first record cut off.
        first: u64,
        /// The newest checkpoint's size.
        last: u64,
    },
    /// A checkpoint's signature is not the given key's.
    BadCheckpoint {
        /// The size it claims.
        size: u64,
    },
    /// A restart record stands where a signed checkpoint vouched for other records.
    ForgedRestart {
        /// The restart record's sequence number.
        seq: u64,
    },
}

/// What [`verify_log`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    /// Records read (lines that parsed as records).
    pub records: u64,
    /// The highest sequence number in order.
    pub last_seq: u64,
    /// Lowercase hex SHA-256 of that record's line.
    pub head: String,
    /// Segment files read.
    pub segments: u32,
    /// Sequence numbers of legitimate restart records.
    pub restarts: Vec<u64>,
    /// Checkpoints whose signature held and whose head matched the log.
    pub checkpoints_matched: usize,
    /// Everything wrong, in the order found.
    pub findings: Vec<Finding>,
}

impl LogReport {
    /// Whether nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies the log whose first segment is `path` against `checkpoints`, signed by
/// `key`, naming every fault.
///
/// # Errors
///
/// [`AuditError::Io`] only: a faulty log is a report, not an error.
pub fn verify_log(
    path: impl AsRef<Path>,
    checkpoints: &[Checkpoint],
    key: &CheckpointPublicKey,
) -> Result<LogReport, AuditError> {
    let base = path.as_ref();
    let mut walk = Walk::new(checkpoints);

    let mut segments = vec![(1u32, base.to_owned())];
    segments.extend(later_segments(base)?);
    let mut expected_index = 1;
    for (index, segment) in &segments {
        for missing in expected_index..*index {
            walk.findings
                .push(Finding::MissingSegment { index: missing });
        }
        expected_index = index.saturating_add(1);
        let file = File::open(segment).map_err(|source| io_error("open", segment, source))?;
        walk.segment(BufReader::with_capacity(1 << 16, file), *index, segment)?;
    }

    let segments = u32::try_from(segments.len()).unwrap_or(u32::MAX);
    Ok(walk.finish(checkpoints, key, segments))
}

/// The fields the verifier reads from a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineView<'a> {
    seq: u64,
    #[serde(borrow)]
    prev: std::borrow::Cow<'a, str>,
    event: EventView,
}

/// The one event field the verifier needs.
#[derive(Deserialize)]
struct EventView {
    kind: EventKind,
}

/// A remembered record: its hash and its `prev`.
#[derive(Clone, Copy)]
struct Seen {
    hash: [u8; 32],
    prev: [u8; 32],
}

/// The verifier's state while reading.
struct Walk {
    window: BTreeMap<u64, Seen>,
    expected: u64,
    records: u64,
    head: [u8; 32],
    missing: Vec<(u64, u64)>,
    restarts: Vec<u64>,
    at_checkpoint: HashMap<u64, [u8; 32]>,
    findings: Vec<Finding>,
}

impl Walk {
    fn new(checkpoints: &[Checkpoint]) -> Self {
        Self {
            window: BTreeMap::new(),
            expected: 1,
            records: 0,
            head: [0; 32],
            missing: Vec::new(),
            restarts: Vec::new(),
            at_checkpoint: checkpoints.iter().map(|c| (c.size, [0; 32])).collect(),
            findings: Vec::new(),
        }
    }

    /// Reads one segment's lines.
    fn segment(
        &mut self,
        mut reader: impl BufRead,
        index: u32,
        path: &Path,
    ) -> Result<(), AuditError> {
        let mut buf = Vec::new();
        let mut line = 0u64;
        let limit = u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX);
        loop {
            buf.clear();
            let read = (&mut reader)
                .take(limit)
                .read_until(b'\n', &mut buf)
                .map_err(|source| io_error("read", path, source))?;
            if read == 0 {
                return Ok(());
            }
            line += 1;
            let Some(content) = buf.strip_suffix(b"\n") else {
                let finding = if buf.len() > MAX_LINE_BYTES {
                    Finding::NotARecord {
                        segment: index,
                        line,
                    }
                } else {
                    Finding::TornLine {
                        segment: index,
                        line,
                    }
                };
                self.findings.push(finding);
                // Skip the rest of an over-long line.
                if buf.len() > MAX_LINE_BYTES {
                    let mut rest = Vec::new();
                    let _ = reader.read_until(b'\n', &mut rest);
                }
                continue;
            };
            self.line(content, index, line);
        }
    }

    /// Checks one record line.
    fn line(&mut self, content: &[u8], segment: u32, line: u64) {
        let parsed = envelope(content).or_else(|| {
            serde_json::from_slice::<LineView<'_>>(content)
                .ok()
                .and_then(|view| Some((view.seq, parse_hex32(&view.prev)?, view.event.kind)))
        });
        let Some((seq, prev, kind)) = parsed else {
            self.findings.push(Finding::NotARecord { segment, line });
            return;
        };
        let hash = hash_line(content);
        self.records += 1;

        if let Some(seen) = self.window.get(&seq) {
            let finding = if seen.hash == hash {
                Finding::Duplicated { seq }
            } else {
                Finding::Conflicting { seq }
            };
            self.findings.push(finding);
            return;
        }

        if seq < self.expected {
            self.late(seq, hash, prev);
        } else {
            if seq > self.expected {
                self.missing.push((self.expected, seq - 1));
            }
            self.check_link(seq, prev);
            self.expected = seq.saturating_add(1);
            self.head = hash;
        }

        if kind == EventKind::AuditRestarted {
            self.restarts.push(seq);
        }
        if let Some(slot) = self.at_checkpoint.get_mut(&seq) {
            *slot = hash;
        }
        self.remember(seq, Seen { hash, prev });
    }

    /// A record arriving after a later one: out of order, and no longer missing.
    fn late(&mut self, seq: u64, hash: [u8; 32], prev: [u8; 32]) {
        self.findings.push(Finding::OutOfOrder { seq });
        self.unmiss(seq);
        self.check_link(seq, prev);
        if let Some(next) = self.window.get(&(seq + 1))
            && next.prev != hash
        {
            self.findings.push(Finding::Altered { seq });
        }
    }

    /// Checks `prev` against the record before `seq`, when it is known.
    fn check_link(&mut self, seq: u64, prev: [u8; 32]) {
        if seq == 1 {
            if prev != [0; 32] {
                self.findings.push(Finding::BadGenesis);
            }
            return;
        }
        if let Some(before) = self.window.get(&(seq - 1))
            && before.hash != prev
        {
            self.findings.push(Finding::Altered { seq: seq - 1 });
        }
    }

    /// Takes `seq` out of the missing ranges.
    fn unmiss(&mut self, seq: u64) {
        let mut kept = Vec::with_capacity(self.missing.len() + 1);
        for &(first, last) in &self.missing {
            if seq < first || seq > last {
                kept.push((first, last));
                continue;
            }
            if first < seq {
                kept.push((first, seq - 1));
            }
            if seq < last {
                kept.push((seq + 1, last));
            }
        }
        self.missing = kept;
    }

    /// Remembers a record, forgetting the oldest beyond the window.
    fn remember(&mut self, seq: u64, seen: Seen) {
        self.window.insert(seq, seen);
        let floor = self.expected.saturating_sub(REORDER_WINDOW);
        while let Some((&oldest, _)) = self.window.first_key_value() {
            if oldest >= floor {
                break;
            }
            self.window.remove(&oldest);
        }
    }

    /// Checks the checkpoints and puts the report together.
    fn finish(
        mut self,
        checkpoints: &[Checkpoint],
        key: &CheckpointPublicKey,
        segments: u32,
    ) -> LogReport {
        let last_seq = self.expected.saturating_sub(1);
        for &(first, last) in &self.missing {
            self.findings.push(Finding::Missing { first, last });
        }

        let mut signed: Vec<&Checkpoint> = Vec::new();
        for checkpoint in checkpoints {
            if checkpoint.is_signed_by(key) {
                signed.push(checkpoint);
            } else {
                self.findings.push(Finding::BadCheckpoint {
                    size: checkpoint.size,
                });
            }
        }
        signed.sort_by_key(|c| c.size);

        // Each checkpoint must match the log; a mismatch after the last good one names
        // a restart in between as forged, or else the record as altered.
        let mut good = 0;
        let mut matched = 0;
        for checkpoint in &signed {
            if checkpoint.size > last_seq || self.is_missing(checkpoint.size) {
                continue;
            }
            let hash = self
                .at_checkpoint
                .get(&checkpoint.size)
                .copied()
                .unwrap_or([0; 32]);
            if hex(&hash) == checkpoint.head {
                good = checkpoint.size;
                matched += 1;
            } else {
                self.blame(good, checkpoint.size);
            }
        }
        if let Some(newest) = signed
            .last()
            .map(|c| c.size)
            .filter(|&size| size > last_seq)
        {
            self.findings.push(Finding::TruncatedTail {
                first: last_seq + 1,
                last: newest,
            });
            self.blame_restarts(good, newest);
        }

        let restarts = self.legitimate_restarts();
        LogReport {
            records: self.records,
            last_seq,
            head: hex(&self.head),
            segments,
            restarts,
            checkpoints_matched: matched,
            findings: self.findings,
        }
    }

    /// Names what replaced the records a checkpoint of `size` vouched for.
    fn blame(&mut self, good: u64, size: u64) {
        if !self.blame_restarts(good, size) {
            let finding = Finding::Altered { seq: size };
            if !self.findings.contains(&finding) {
                self.findings.push(finding);
            }
        }
    }

    /// Names each restart record in `(good, size]` as forged; says whether there was one.
    fn blame_restarts(&mut self, good: u64, size: u64) -> bool {
        let forged: Vec<u64> = self
            .restarts
            .iter()
            .copied()
            .filter(|&seq| seq > good && seq <= size)
            .collect();
        for &seq in &forged {
            let finding = Finding::ForgedRestart { seq };
            if !self.findings.contains(&finding) {
                self.findings.push(finding);
            }
        }
        !forged.is_empty()
    }

    fn is_missing(&self, seq: u64) -> bool {
        self.missing
            .iter()
            .any(|&(first, last)| first <= seq && seq <= last)
    }

    fn legitimate_restarts(&self) -> Vec<u64> {
        self.restarts
            .iter()
            .copied()
            .filter(|&seq| !self.findings.contains(&Finding::ForgedRestart { seq }))
            .collect()
    }
}

/// Reads the envelope of a line in the exact shape the writer produces
/// (`{"seq":N,"prev":"<hex>","event":{"version":V,"time":"T","kind":"K",...}}`) without
/// a full JSON parse; `None` sends the line to the general parser.
fn envelope(content: &[u8]) -> Option<(u64, [u8; 32], EventKind)> {
    let text = std::str::from_utf8(content).ok()?;
    let rest = text.strip_prefix("{\"seq\":")?;
    let (seq, rest) = rest.split_once(',')?;
    if seq.is_empty() || seq.len() > 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = seq.parse().ok()?;
    let rest = rest.strip_prefix("\"prev\":\"")?;
    let prev = parse_hex32(rest.get(..64)?)?;
    let rest = rest.get(64..)?.strip_prefix("\",\"event\":{\"version\":")?;
    let (_, rest) = rest.split_once(",\"time\":\"")?;
    let (_, rest) = rest.split_once("\",\"kind\":\"")?;
    let (kind, rest) = rest.split_once('"')?;
    let kind = EventKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
    (rest.ends_with("}}") && (rest.starts_with(',') || rest.starts_with('}')))
        .then_some((seq, prev, kind))
}

/// Lowercase hex of a hash.
fn hex(hash: &[u8; 32]) -> String {
    let mut text = String::with_capacity(64);
    push_hex(&mut text, hash);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::ChainEncoder;
    use crate::event::AuditEvent;
    use nhi_core::Timestamp;

    #[test]
    fn the_fast_envelope_agrees_with_the_parser() {
        let mut encoder = ChainEncoder::new();
        let mut line = Vec::new();
        let event = AuditEvent::new(EventKind::AuditRestarted, Timestamp::EPOCH, "x");
        encoder.append(&event, &mut line).unwrap();
        let content = line.strip_suffix(b"\n").unwrap();
        let (seq, prev, kind) = envelope(content).unwrap();
        assert_eq!((seq, prev, kind), (1, [0; 32], EventKind::AuditRestarted));

        // Another spelling of the same record is left to the parser, which agrees.
        let spaced = String::from_utf8(content.to_vec()).unwrap().replacen(
            "{\"seq\":1,",
            "{\"seq\": 1, ",
            1,
        );
        assert!(envelope(spaced.as_bytes()).is_none());
        let view: LineView<'_> = serde_json::from_str(&spaced).unwrap();
        assert_eq!((view.seq, view.event.kind), (1, EventKind::AuditRestarted));

        for bad in [
            "{\"seq\":,",
            "{\"seq\":1,\"prev\":\"00\"}",
            "{\"seq\":99999999999999999999999,",
        ] {
            assert!(envelope(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}

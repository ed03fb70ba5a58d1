//! Reading a log line by line: the verifier's state and the checks of each record.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};
use std::path::Path;

use serde::Deserialize;

use super::{Finding, LogReport, REORDER_WINDOW};
use crate::chain::{MAX_LINE_BYTES, io_error};
use crate::checkpoint::{Checkpoint, CheckpointPublicKey};
use crate::encoder::{hash_line, parse_hex32, push_hex};
use crate::error::AuditError;
use crate::kind::EventKind;

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
pub(super) struct Walk {
    window: BTreeMap<u64, Seen>,
    expected: u64,
    records: u64,
    head: [u8; 32],
    missing: Vec<(u64, u64)>,
    restarts: Vec<u64>,
    at_checkpoint: HashMap<u64, [u8; 32]>,
    pub(super) findings: Vec<Finding>,
}

impl Walk {
    pub(super) fn new(checkpoints: &[Checkpoint]) -> Self {
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
    pub(super) fn segment(
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
        // Sequence numbers start at 1; a 0 is not a record.
        let Some((seq, prev, kind)) = parsed.filter(|&(seq, _, _)| seq > 0) else {
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
    pub(super) fn finish(
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

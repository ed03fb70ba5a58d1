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

mod walk;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::chain::io_error;
use crate::checkpoint::{Checkpoint, CheckpointPublicKey};
use crate::error::AuditError;
use crate::segment::later_segments;

use walk::Walk;

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

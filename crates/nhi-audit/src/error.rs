//! The error type of this crate and the ways a hash chain can be broken.

use std::fmt;
use std::path::PathBuf;

/// Why an audit event could not be recorded, or why an audit file could not be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading, writing or syncing an audit file failed; the operating system's error
    /// is the source.
    #[error("could not {operation} audit file `{}`; check the path, permissions and free space", path.display())]
    Io {
        /// What was being done: "open", "read", "write", "sync" and so on.
        operation: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's hash chain does not hold: a line was changed, removed, repeated,
    /// reordered or cut short. The file must be kept as evidence, not appended to.
    #[error(
        "audit chain broken at line {line}: {reason}; keep the file as evidence and start a new one"
    )]
    ChainBroken {
        /// The first line (1-based) that the chain can no longer vouch for.
        line: u64,
        /// What is wrong with that line.
        reason: ChainFault,
    },
    /// Another sink, in this process or another, already writes to this file; two
    /// writers would fork the chain.
    #[error("audit file `{}` is already open for writing elsewhere; use one sink per file", path.display())]
    InUse {
        /// The file concerned.
        path: PathBuf,
    },
    /// An event could not be turned into JSON.
    #[error("could not serialize the audit event")]
    Serialize {
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// An event's line would exceed the largest line the verifier accepts.
    #[error(
        "audit event is {bytes} bytes, more than the {limit}-byte line limit; shorten `before`, `after` or `message`"
    )]
    EventTooLarge {
        /// The size the line would have had.
        bytes: usize,
        /// The largest line accepted.
        limit: usize,
    },
    /// An earlier write to this sink failed, so the end of its file is uncertain and
    /// further records are refused rather than risk a broken chain.
    #[error("audit sink stopped after an earlier write failed; reopen the file to verify it")]
    SinkStopped,
}

/// What is wrong with the line named by [`AuditError::ChainBroken`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainFault {
    /// The line is not a chain record: not JSON, not UTF-8, blank, or missing a field.
    NotARecord {
        /// The parser's description of the problem (it never quotes the line).
        detail: String,
    },
    /// The last line has no line end: a write was interrupted or the file truncated.
    TornLastLine,
    /// The line is longer than the verifier accepts.
    LineTooLong {
        /// The largest line accepted, in bytes.
        limit: usize,
    },
    /// The sequence number jumps ahead: lines before this one are missing, or lines
    /// are out of order.
    SequenceGap {
        /// The sequence number this line should carry.
        expected: u64,
        /// The sequence number it carries.
        found: u64,
    },
    /// The sequence number goes back: this line repeats an earlier one, or lines are
    /// out of order.
    SequenceRepeat {
        /// The sequence number this line should carry.
        expected: u64,
        /// The sequence number it carries.
        found: u64,
    },
    /// The first record's `prev` is not 64 zeros: records before it were removed, or
    /// the line was changed.
    FirstPrevNotZero,
    /// The line's hash differs from the `prev` recorded by the line after it: this line
    /// was changed (or, less likely, the next line's `prev` was).
    Altered,
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARecord { detail } => write!(f, "the line is not a chain record ({detail})"),
            Self::TornLastLine => f.write_str(
                "the last line has no line end, so its write was cut short or the file truncated",
            ),
            Self::LineTooLong { limit } => write!(f, "the line is longer than {limit} bytes"),
            Self::SequenceGap { expected, found } => write!(
                f,
                "expected sequence {expected} but found {found}: lines are missing or out of order"
            ),
            Self::SequenceRepeat { expected, found } => write!(
                f,
                "expected sequence {expected} but found {found}: a line is repeated or out of order"
            ),
            Self::FirstPrevNotZero => f.write_str(
                "the first record's `prev` is not 64 zeros: earlier records were removed or it was changed",
            ),
            Self::Altered => f.write_str(
                "the line's hash differs from the `prev` recorded by the next line: it was changed",
            ),
        }
    }
}

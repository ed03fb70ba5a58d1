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
    /// A key for the keyed hash of secrets was too short.
    #[error("the audit key has {bytes} bytes but needs at least {min}; generate 32 random bytes")]
    WeakKey {
        /// How many bytes were given.
        bytes: usize,
        /// The fewest accepted.
        min: usize,
    },
    /// A secret given to the scrubber was too short to search for without matching
    /// ordinary text.
    #[error("a secret to scrub must have at least {min} bytes")]
    SecretTooShort {
        /// The fewest accepted.
        min: usize,
    },
    /// A text was expected to be a redacted value, `hmac-sha256:` and 64 hex digits.
    #[error("expected `hmac-sha256:` followed by 64 hex digits")]
    NotRedacted,
    /// A checkpoint signing key could not be read or made.
    #[error("the checkpoint key is not a valid Ed25519 PKCS#8 document: {reason}")]
    BadCheckpointKey {
        /// What the crypto library said.
        reason: String,
    },
    /// A checkpoint store refused or failed to keep a checkpoint; its error is the source.
    #[error("the checkpoint store failed; check the store and retry")]
    CheckpointStore {
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A fail-closed buffered sink's queue is full, so the event was not taken.
    #[error(
        "the audit queue is full ({capacity} events); the event was not recorded, retry later or stop"
    )]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// A buffered sink was created outside a Tokio runtime, which its worker needs.
    #[error("a buffered audit sink needs a Tokio runtime; create it inside one")]
    NoRuntime,
    /// A fan-out did not reach as many sinks as its rule requires.
    #[error("audit fan-out stored the event in {stored} sinks but {required} are required")]
    FanOutShort {
        /// How many sinks stored the event.
        stored: usize,
        /// How many had to.
        required: usize,
        /// The first failure, with its source.
        #[source]
        first_failure: Option<Box<AuditError>>,
    },
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

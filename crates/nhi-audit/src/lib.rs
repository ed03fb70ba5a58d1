//! Structured, tamper-evident audit events for non-human identities.
//!
//! Every lifecycle step and every enforcement decision of an identity (an AI agent, a
//! bot, a CI runner) becomes an [`AuditEvent`]: what happened ([`EventKind`]), who did
//! it, with which credential, on what, under which rule, with what result. Events go to
//! an [`AuditSink`]. Unlike a log line, recording can fail, and a caller that must not
//! act unaudited stops when it does.
//!
//! Sinks, all behind [`AuditSink`]:
//! - [`JsonlFileSink`] appends to a hash-chained JSON-lines log: segments rotated by
//!   size or time with one chain across them, group commit (a record is acknowledged
//!   only once synced), a torn last line cut back on open with an `audit.restarted`
//!   record, and signed [`Checkpoint`]s handed to a [`CheckpointStore`] outside the log;
//! - [`BufferedSink`] puts a bounded queue in front of a slower sink and either fails
//!   closed (waits, or refuses with [`AuditError::QueueFull`]) or fails open (drops,
//!   counts exactly, and writes one signed `audit.gap` record on recovery);
//! - [`FanOutSink`] records in several sinks under a rule (all, or at least N);
//! - [`TracingMirror`] mirrors events into `tracing` under [`MIRROR_TARGET`];
//! - [`MemorySink`] keeps events in memory, for tests and for hosts that forward them.
//!
//! [`verify_chain`] re-reads a log and names the first line that was changed, deleted,
//! repeated, reordered or cut short (the rule is in the [`chain`] module docs);
//! [`verify_log`] checks a log against its checkpoints and names every fault, each gap
//! as one range. [`export_ocsf`] writes a verified log as OCSF JSON lines for a SIEM.
//!
//! # Secrets
//!
//! No event field is meant for a secret: a credential is named by its public
//! [`CredentialId`](nhi_core::CredentialId). A value that must be referred to but
//! never shown is written as [`Redacted`], its HMAC-SHA256 under the deployment's
//! [`AuditKey`], which fits in `before`/`after` maps; the same value always gives the
//! same text, so an investigator with the key can search for a known value with
//! [`AuditKey::redact`]. The free-text fields (`message`, `result`, `trigger`, the
//! decision's `reason`, `before`, `after`, even a resource path) are written as given,
//! so a host that handles secrets wraps its sink in a [`RedactingSink`] whose
//! [`Scrubber`] replaces every known secret (raw, hex or base64, inside any string,
//! map key or byte array) by its keyed hash. Errors of this crate never quote an
//! event; a verifier error quotes at most a short parser message about the bad line.

//! # Example
//!
//! ```
//! use nhi_audit::{AuditEvent, AuditSink, EventKind, JsonlFileSink, verify_chain};
//! use nhi_core::{Action, Clock, IdentityId, ManualClock, Resource, Timestamp};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.jsonl");
//! let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
//!
//! let sink = JsonlFileSink::open(&path).await?;
//! let event = AuditEvent::new(EventKind::AccessDecided, clock.now(), "restart allowed")
//!     .identity(IdentityId::new("restart-agent")?)
//!     .action(Action::new("deployment.restart")?)
//!     .target("k8s:prod/payments/api".parse::<Resource>()?)
//!     .decision("allow", Some("restart-in-incident".into()), "an incident is open");
//! let receipt = sink.record(&event).await?;
//! assert_eq!(receipt.sequence, 1);
//!
//! let summary = verify_chain(&path)?;
//! assert_eq!(summary.records, 1);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod buffer;
pub mod chain;
mod checkpoint;
mod encoder;
mod error;
mod event;
mod fanout;
mod fastjson;
mod file;
mod kind;
pub mod ocsf;
mod redact;
mod scrub;
mod segment;
mod sink;
mod timefmt;
pub mod verify;

pub use buffer::{BufferStats, BufferedSink, Overflow, verify_gap};
pub use chain::{ChainSummary, MAX_LINE_BYTES, read_chain, verify_chain};
pub use checkpoint::{
    Checkpoint, CheckpointKey, CheckpointPublicKey, CheckpointStore, FileCheckpointStore,
    MemoryCheckpointStore,
};
pub use encoder::ChainEncoder;
pub use error::{AuditError, ChainFault};
pub use event::{ApprovalRecord, AuditEvent, DecisionRecord};
pub use fanout::{FanOutSink, MIRROR_TARGET, Require, TracingMirror};
pub use file::{FileSinkOptions, JsonlFileSink, Recovery};
pub use kind::{Anomaly, EventKind};
pub use ocsf::{export_ocsf, to_ocsf};
pub use redact::{AuditKey, Redacted};
pub use scrub::{RedactingSink, Scrubber};
pub use sink::{AuditSink, MemorySink, Receipt};
pub use verify::{Finding, LogReport, verify_log};

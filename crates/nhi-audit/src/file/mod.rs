//! The hash-chained JSON-lines file sink: segments, group commit, crash recovery and
//! signed checkpoints.

mod commit;
mod recover;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{SharedClock, SystemClock};

use crate::checkpoint::{Checkpoint, CheckpointKey, CheckpointStore};
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::sink::{AuditSink, Receipt};

use commit::Engine;

/// A sink that appends events to a hash-chained JSON-lines log (the format is in the
/// [`chain`](crate::chain) module docs).
///
/// # Durability: the fsync policy
///
/// [`record`](AuditSink::record) returns `Ok` only after the record's bytes are written
/// and `sync_data` has returned for them. Records are committed in groups: while one
/// caller writes and syncs a batch, later callers queue their lines; the next caller to
/// find the disk free writes all queued lines with one write and one `sync_data`, then
/// acknowledges every record of the batch. One caller alone pays one sync per record;
/// many concurrent callers share syncs. A segment that is closed by rotation is synced
/// before the next is created, and the directory is synced after a new segment appears.
///
/// # Segments
///
/// With [`FileSinkOptions::rotate_at_bytes`] or [`FileSinkOptions::rotate_after`], the
/// log continues in `<path>.000002`, `<path>.000003`, ...; the chain (sequence and
/// `prev`) runs on across segments, and [`verify_chain`](crate::verify_chain) of the
/// first path checks them all.
///
/// # Crash recovery
///
/// Opening verifies the whole log. A torn last line (a write cut short by a crash; it was
/// never acknowledged) is cut back to the last whole record, and an `audit.restarted`
/// record says how many bytes were cut. Any other fault refuses the file. Every reopen of
/// a non-empty log writes that restart record, so the verifier can tell a restart from a
/// splice.
///
/// # Checkpoints
///
/// With [`FileSinkOptions::checkpoints`], every N records or T of clock time (checked as
/// batches commit) the sink signs the log's size and head and publishes the
/// [`Checkpoint`] to a store outside the log. A failed publish is retried at the next
/// commit and never fails a record that is already durable.
///
/// Writers are serialized, so concurrent callers get consecutive sequence numbers and
/// can never interleave lines. An advisory lock on the first segment keeps a second
/// sink, in this process or another, from opening the log. Under a Tokio runtime the
/// blocking work runs on the blocking pool; elsewhere it runs inline. When a write or
/// sync fails, the sink stops and refuses every later record with
/// [`AuditError::SinkStopped`].
#[derive(Debug)]
pub struct JsonlFileSink {
    path: Arc<Path>,
    engine: Arc<Engine>,
    recovery: Recovery,
}

/// What opening found and repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Records the log held when opened (before the restart record).
    pub records: u64,
    /// Bytes of a torn last line that were cut off.
    pub cut_bytes: u64,
    /// The sequence number of the restart record written, if one was.
    pub restart_seq: Option<u64>,
}

/// How a [`JsonlFileSink`] rotates segments and publishes checkpoints.
#[derive(Clone)]
pub struct FileSinkOptions {
    pub(crate) path: PathBuf,
    pub(crate) rotate_bytes: Option<u64>,
    pub(crate) rotate_after: Option<Duration>,
    pub(crate) checkpoints: Option<CheckpointPolicy>,
    pub(crate) clock: SharedClock,
}

/// When and where checkpoints are published.
#[derive(Clone)]
pub(crate) struct CheckpointPolicy {
    pub(crate) key: Arc<CheckpointKey>,
    pub(crate) store: Arc<dyn CheckpointStore>,
    pub(crate) every_records: u64,
    pub(crate) every: Duration,
}

impl std::fmt::Debug for FileSinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSinkOptions")
            .field("path", &self.path)
            .field("rotate_bytes", &self.rotate_bytes)
            .field("rotate_after", &self.rotate_after)
            .field("checkpoints", &self.checkpoints.is_some())
            .finish_non_exhaustive()
    }
}

impl FileSinkOptions {
    /// A log whose first segment is `path`: no rotation, no checkpoints, system clock.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_owned(),
            rotate_bytes: None,
            rotate_after: None,
            checkpoints: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Starts a new segment before one would grow past `bytes` (a segment always takes
    /// at least one record).
    pub fn rotate_at_bytes(mut self, bytes: u64) -> Self {
        self.rotate_bytes = Some(bytes);
        self
    }

    /// Starts a new segment for the first record written `age` or more after the
    /// current segment was opened (a segment resumed by reopening the log counts from
    /// the reopening).
    pub fn rotate_after(mut self, age: Duration) -> Self {
        self.rotate_after = Some(age);
        self
    }

    /// Signs a checkpoint with `key` and publishes it to `store` every `every_records`
    /// records, or once `every` has passed since the last one with new records.
    pub fn checkpoints(
        mut self,
        key: Arc<CheckpointKey>,
        store: Arc<dyn CheckpointStore>,
        every_records: u64,
        every: Duration,
    ) -> Self {
        self.checkpoints = Some(CheckpointPolicy {
            key,
            store,
            every_records: every_records.max(1),
            every,
        });
        self
    }

    /// The clock for segment ages, checkpoint times and restart records.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

impl JsonlFileSink {
    /// Opens the log at `path` for appending, creating it when missing; no rotation and
    /// no checkpoints.
    ///
    /// # Errors
    ///
    /// As [`JsonlFileSink::open_with`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Self::open_with(FileSinkOptions::new(path)).await
    }

    /// Opens the log described by `options`, verifying every segment, cutting a torn
    /// last line, and writing a restart record when the log was not empty.
    ///
    /// # Errors
    ///
    /// [`AuditError::ChainBroken`] when the existing chain does not hold (other than a
    /// torn last line), [`AuditError::InUse`] when another sink holds the log, and
    /// [`AuditError::Io`] when it cannot be opened, locked, read or repaired.
    pub async fn open_with(options: FileSinkOptions) -> Result<Self, AuditError> {
        let path: Arc<Path> = Arc::from(options.path.as_path());
        let (engine, recovery) =
            commit::run_blocking("open", &path, move || recover::open(options)).await?;
        Ok(Self {
            path,
            engine: Arc::new(engine),
            recovery,
        })
    }

    /// The first segment of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening found and repaired.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Signs and publishes a checkpoint of every durable record now, if checkpoints are
    /// configured and records were added since the last one.
    ///
    /// # Errors
    ///
    /// [`AuditError::CheckpointStore`] or [`AuditError::Io`] from the store.
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let engine = Arc::clone(&self.engine);
        commit::run_blocking("checkpoint", &self.path, move || engine.checkpoint_now()).await
    }
}

#[async_trait::async_trait]
impl AuditSink for JsonlFileSink {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let mut event_json = Vec::with_capacity(512);
        crate::fastjson::write_event(event, &mut event_json)
            .map_err(|source| AuditError::Serialize { source })?;
        let engine = Arc::clone(&self.engine);
        commit::run_blocking("write", &self.path, move || engine.append(&event_json)).await
    }
}

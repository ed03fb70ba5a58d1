//! Group commit: callers queue chained lines; whichever finds the disk free writes the
//! whole queue with one write and one sync, then acknowledges every record in it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nhi_core::{SharedClock, Timestamp};

use super::CheckpointPolicy;
use crate::chain::io_error;
use crate::checkpoint::Checkpoint;
use crate::encoder::ChainEncoder;
use crate::error::AuditError;
use crate::segment::segment_path;
use crate::sink::Receipt;

/// The shared writer of one log.
pub(crate) struct Engine {
    state: Mutex<State>,
    committed: Condvar,
    io: Mutex<Io>,
    clock: SharedClock,
}

/// What callers share: the chain, the queue, and how far the disk has caught up.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) encoder: ChainEncoder,
    pub(crate) segment: u32,
    pub(crate) segment_bytes: u64,
    pub(crate) segment_opened: Timestamp,
    pub(crate) rotate_bytes: Option<u64>,
    pub(crate) rotate_after: Option<Duration>,
    pending: Vec<Chunk>,
    durable: u64,
    leader: bool,
    failed: bool,
}

/// Queued lines bound for one segment.
#[derive(Debug)]
struct Chunk {
    segment: u32,
    bytes: Vec<u8>,
    last_seq: u64,
    head: [u8; 32],
}

/// What only the committing caller touches: the open segment and checkpoint progress.
pub(crate) struct Io {
    pub(crate) base: PathBuf,
    pub(crate) segment: u32,
    pub(crate) file: File,
    pub(crate) _lock: File,
    pub(crate) checkpoints: Option<CheckpointPolicy>,
    pub(crate) durable_seq: u64,
    pub(crate) durable_head: [u8; 32],
    pub(crate) checkpointed_seq: u64,
    pub(crate) checkpointed_at: Timestamp,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io")
            .field("base", &self.base)
            .field("segment", &self.segment)
            .field("durable_seq", &self.durable_seq)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl State {
    /// A state continuing the chain of `encoder` in segment `segment`.
    pub(crate) fn new(
        encoder: ChainEncoder,
        segment: u32,
        segment_bytes: u64,
        now: Timestamp,
    ) -> Self {
        Self {
            durable: encoder.records(),
            encoder,
            segment,
            segment_bytes,
            segment_opened: now,
            rotate_bytes: None,
            rotate_after: None,
            pending: Vec::new(),
            leader: false,
            failed: false,
        }
    }
}

impl Engine {
    /// An engine over an opened log.
    pub(crate) fn new(state: State, io: Io, clock: SharedClock) -> Self {
        Self {
            state: Mutex::new(state),
            committed: Condvar::new(),
            io: Mutex::new(io),
            clock,
        }
    }

    /// Appends one event (as JSON) and returns once it is durable.
    pub(crate) fn append(&self, event_json: &[u8]) -> Result<Receipt, AuditError> {
        let mut state = self.lock_state();
        if state.failed {
            return Err(AuditError::SinkStopped);
        }
        let receipt = self.enqueue(&mut state, event_json)?;

        // Wait until a commit covers this record, committing ourselves when nobody is.
        loop {
            if state.durable >= receipt.sequence {
                return Ok(receipt);
            }
            if state.failed {
                return Err(AuditError::SinkStopped);
            }
            if state.leader {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state = self.commit(state)?;
        }
    }

    /// Signs and publishes a checkpoint of every durable record, if any are new.
    pub(crate) fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let mut io = self.lock_io();
        let now = self.clock.now();
        io.publish_checkpoint(now, true)
    }

    /// Chains the line, picks its segment and queues it.
    fn enqueue(&self, state: &mut State, event_json: &[u8]) -> Result<Receipt, AuditError> {
        let mut line = Vec::with_capacity(event_json.len() + 120);
        let receipt = state.encoder.append_json(event_json, &mut line)?;
        let head = state.encoder.head_bytes();
        let length = u64::try_from(line.len()).unwrap_or(u64::MAX);

        // Rotate before a line that would overfill the segment, or into an old segment.
        let now = self.clock.now();
        let too_big = state
            .rotate_bytes
            .is_some_and(|max| state.segment_bytes.saturating_add(length) > max);
        let too_old = state
            .rotate_after
            .is_some_and(|age| now.duration_since(state.segment_opened) >= age);
        if state.segment_bytes > 0 && (too_big || too_old) {
            state.segment = state.segment.saturating_add(1);
            state.segment_bytes = 0;
            state.segment_opened = now;
        }
        state.segment_bytes = state.segment_bytes.saturating_add(length);

        let segment = state.segment;
        match state.pending.last_mut() {
            Some(chunk) if chunk.segment == segment => {
                chunk.bytes.extend_from_slice(&line);
                chunk.last_seq = receipt.sequence;
                chunk.head = head;
            }
            _ => state.pending.push(Chunk {
                segment,
                bytes: line,
                last_seq: receipt.sequence,
                head,
            }),
        }
        Ok(receipt)
    }

    /// Writes and syncs everything queued, with the state unlocked meanwhile.
    fn commit<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>, AuditError> {
        state.leader = true;
        let batch = std::mem::take(&mut state.pending);
        drop(state);

        let mut io = self.lock_io();
        let written = io.write_batch(&batch);
        if written.is_ok() {
            io.maybe_checkpoint(self.clock.now());
        }
        let durable = io.durable_seq;
        drop(io);

        let mut state = self.lock_state();
        state.leader = false;
        match written {
            Ok(()) => state.durable = durable,
            Err(_) => state.failed = true,
        }
        self.committed.notify_all();
        written.map(|()| state)
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_io(&self) -> MutexGuard<'_, Io> {
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Io {
    /// Writes each chunk to its segment, opening new segments as needed, then syncs.
    fn write_batch(&mut self, batch: &[Chunk]) -> Result<(), AuditError> {
        let mut last = None;
        for chunk in batch {
            if chunk.segment != self.segment {
                self.rotate(chunk.segment)?;
            }
            let path = segment_path(&self.base, self.segment);
            self.file
                .write_all(&chunk.bytes)
                .map_err(|source| io_error("write", &path, source))?;
            last = Some((chunk.last_seq, chunk.head));
        }

        let path = segment_path(&self.base, self.segment);
        self.file
            .sync_data()
            .map_err(|source| io_error("sync", &path, source))?;
        if let Some((seq, head)) = last {
            self.durable_seq = seq;
            self.durable_head = head;
        }
        Ok(())
    }

    /// Syncs the current segment, creates segment `next` and syncs the directory.
    fn rotate(&mut self, next: u32) -> Result<(), AuditError> {
        let old = segment_path(&self.base, self.segment);
        self.file
            .sync_data()
            .map_err(|source| io_error("sync", &old, source))?;

        let path = segment_path(&self.base, next);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| io_error("create", &path, source))?;
        self.segment = next;
        sync_parent(&path)
    }

    /// Publishes a checkpoint when one is due; a failure is retried at the next commit.
    fn maybe_checkpoint(&mut self, now: Timestamp) {
        if let Err(error) = self.publish_checkpoint(now, false) {
            tracing::warn!(target: "nhi_audit", %error, "checkpoint not published; retrying at the next commit");
        }
    }

    /// Signs and publishes a checkpoint if due (or `force`d) and records are new.
    pub(crate) fn publish_checkpoint(
        &mut self,
        now: Timestamp,
        force: bool,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let Some(policy) = &self.checkpoints else {
            return Ok(None);
        };
        let new_records = self.durable_seq.saturating_sub(self.checkpointed_seq);
        let due = new_records >= policy.every_records
            || now.duration_since(self.checkpointed_at) >= policy.every;
        if new_records == 0 || !(due || force) {
            return Ok(None);
        }

        let checkpoint = policy.key.sign(self.durable_seq, self.durable_head, now);
        policy.store.publish(&checkpoint)?;
        self.checkpointed_seq = self.durable_seq;
        self.checkpointed_at = now;
        Ok(Some(checkpoint))
    }
}

/// Syncs the directory holding `path`, so a new file's name is durable too.
pub(crate) fn sync_parent(path: &Path) -> Result<(), AuditError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        // Some platforms cannot open or sync a directory; the file itself is synced.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(source) => Err(io_error("sync", dir, source)),
    }
}

/// Runs blocking file work on Tokio's blocking pool when there is a runtime, inline
/// otherwise.
pub(crate) async fn run_blocking<T, F>(
    operation: &'static str,
    path: &Path,
    work: F,
) -> Result<T, AuditError>
where
    F: FnOnce() -> Result<T, AuditError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn_blocking(work).await.unwrap_or_else(|join| {
            Err(AuditError::Io {
                operation,
                path: PathBuf::from(path),
                source: std::io::Error::other(join),
            })
        }),
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use nhi_core::ManualClock;

    /// An engine whose segment file was opened read-only, so every write fails.
    fn failing_engine(dir: &Path) -> Engine {
        let base = dir.join("audit.jsonl");
        std::fs::write(&base, b"").unwrap();
        let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::EPOCH));
        let state = State::new(ChainEncoder::new(), 1, 0, Timestamp::EPOCH);
        let io = Io {
            base: base.clone(),
            segment: 1,
            file: File::open(&base).unwrap(),
            _lock: File::open(&base).unwrap(),
            checkpoints: None,
            durable_seq: 0,
            durable_head: [0; 32],
            checkpointed_seq: 0,
            checkpointed_at: Timestamp::EPOCH,
        };
        Engine::new(state, io, clock)
    }

    #[test]
    fn a_failed_write_is_never_acknowledged_and_stops_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let engine = failing_engine(dir.path());
        let first = engine.append(b"{}");
        assert!(
            matches!(
                first,
                Err(AuditError::Io {
                    operation: "write",
                    ..
                })
            ),
            "{first:?}"
        );
        assert!(matches!(engine.append(b"{}"), Err(AuditError::SinkStopped)));
        assert_eq!(std::fs::read(dir.path().join("audit.jsonl")).unwrap(), b"");
    }

    #[test]
    fn waiting_writers_of_a_failed_batch_are_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(failing_engine(dir.path()));
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let engine = Arc::clone(&engine);
                    scope.spawn(move || engine.append(b"{}"))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.iter().all(Result::is_err), "{results:?}");
    }
}

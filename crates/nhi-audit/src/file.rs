//! The hash-chained JSON-lines file sink.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::chain::{MAX_LINE_BYTES, compose_line, io_error, line_hash, scan};
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::sink::{AuditSink, Receipt};

/// A sink that appends events to a hash-chained JSON-lines file (the format is in the
/// [`chain`](crate::chain) module docs).
///
/// Each record is written with one write of the whole line and its `\n`, then flushed
/// and synced (`sync_data`) before [`record`](AuditSink::record) returns `Ok`: one
/// fsync per record, which bounds throughput by the disk's sync latency.
///
/// Writers are serialized by a lock, so concurrent callers get consecutive sequence
/// numbers and can never interleave lines or fork the chain. The file also carries an
/// advisory lock for as long as the sink lives, so a second sink, in this process or
/// another, cannot open it (where the platform has no file locks, this check is skipped).
///
/// Under a Tokio runtime the blocking file work runs on the blocking pool; on any other
/// executor it runs inline. If a `record` future is dropped while its write is under
/// way, the write still completes: the event may be stored without a receipt.
///
/// When a write or sync fails, the end of the file is uncertain, so the sink stops and
/// refuses every later record with [`AuditError::SinkStopped`]. Reopening verifies the
/// file; a torn last line then has to be inspected and removed by an operator.
#[derive(Debug)]
pub struct JsonlFileSink {
    path: Arc<Path>,
    writer: Arc<Mutex<Writer>>,
}

impl JsonlFileSink {
    /// Opens the audit file at `path` for appending, creating it when missing.
    ///
    /// An existing file is verified in full first, which reads all of it; appending
    /// continues its sequence numbers and hash chain.
    ///
    /// # Errors
    ///
    /// [`AuditError::ChainBroken`] when the existing chain does not hold (naming the
    /// first bad line), [`AuditError::InUse`] when another sink holds the file, and
    /// [`AuditError::Io`] when it cannot be opened, locked or read.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path: Arc<Path> = Arc::from(path.as_ref());
        let opened = Arc::clone(&path);
        let writer = run_blocking("open", &path, move || Writer::open(&opened)).await?;
        Ok(Self {
            path,
            writer: Arc::new(Mutex::new(writer)),
        })
    }

    /// The file this sink appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait::async_trait]
impl AuditSink for JsonlFileSink {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let event_json =
            serde_json::to_vec(event).map_err(|source| AuditError::Serialize { source })?;

        let writer = Arc::clone(&self.writer);
        let path = Arc::clone(&self.path);
        run_blocking("write", &self.path, move || {
            let mut writer = writer.lock().map_err(|_| AuditError::SinkStopped)?;
            writer.append(&path, &event_json)
        })
        .await
    }
}

/// The open file and where its chain stands.
#[derive(Debug)]
struct Writer {
    file: File,
    next_seq: u64,
    head: String,
    stopped: bool,
}

impl Writer {
    /// Opens, locks and verifies the file.
    fn open(path: &Path) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| io_error("open", path, source))?;

        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(AuditError::InUse {
                    path: path.to_owned(),
                });
            }
            // Without file locks on this platform, only the in-process lock guards the chain.
            Err(TryLockError::Error(source)) if source.kind() == ErrorKind::Unsupported => {}
            Err(TryLockError::Error(source)) => return Err(io_error("lock", path, source)),
        }

        let summary = scan(BufReader::new(&file), path, |_| {})?;
        Ok(Self {
            file,
            next_seq: summary.records.saturating_add(1),
            head: summary.head,
            stopped: false,
        })
    }

    /// Writes one record and syncs it; any failure stops the writer for good.
    fn append(&mut self, path: &Path, event_json: &[u8]) -> Result<Receipt, AuditError> {
        if self.stopped {
            return Err(AuditError::SinkStopped);
        }

        let mut line = compose_line(self.next_seq, &self.head, event_json);
        if line.len() > MAX_LINE_BYTES {
            return Err(AuditError::EventTooLarge {
                bytes: line.len(),
                limit: MAX_LINE_BYTES,
            });
        }
        let head = line_hash(&line);
        line.push(b'\n');

        // One write of the whole line, then make it durable before acknowledging.
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .map_err(|source| io_error("write", path, source))
            .and_then(|()| {
                self.file
                    .sync_data()
                    .map_err(|source| io_error("sync", path, source))
            });
        if let Err(error) = written {
            self.stopped = true;
            return Err(error);
        }

        let sequence = self.next_seq;
        self.next_seq = sequence.saturating_add(1);
        self.head = head;
        Ok(Receipt { sequence })
    }
}

/// Runs blocking file work on Tokio's blocking pool when there is a runtime, inline
/// otherwise.
async fn run_blocking<T, F>(operation: &'static str, path: &Path, work: F) -> Result<T, AuditError>
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

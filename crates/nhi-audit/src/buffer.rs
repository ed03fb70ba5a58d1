//! A buffered sink: a bounded queue in front of a slower sink, with an explicit choice of
//! what happens when the queue is full.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use nhi_core::{SharedClock, Timestamp};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{CheckpointKey, CheckpointPublicKey};
use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::kind::EventKind;
use crate::sink::{AuditSink, Receipt};

/// What a [`BufferedSink`] does when its queue is full.
#[derive(Debug, Clone)]
pub enum Overflow {
    /// Fail closed by waiting: `record` waits for room, then for the inner sink.
    Block,
    /// Fail closed by refusing: `record` returns [`AuditError::QueueFull`] at once.
    Reject,
    /// Fail open: the event is dropped and counted, `record` returns a receipt with
    /// sequence 0, and once the inner sink stores a record again one `audit.gap`
    /// record, signed with this key, says exactly how many were dropped and when.
    Drop(Arc<CheckpointKey>),
}

/// Counters of a [`BufferedSink`]; every event sent is accepted or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferStats {
    /// Events taken into the queue.
    pub accepted: u64,
    /// Events dropped because the queue was full (fail open only).
    pub dropped: u64,
    /// Events refused because the queue was full (reject only).
    pub rejected: u64,
    /// Events the inner sink stored.
    pub stored: u64,
    /// Events the inner sink failed to store (in fail-open mode these are also
    /// reported by the next gap record).
    pub failed: u64,
    /// Gap records the inner sink stored.
    pub gap_records: u64,
}

/// A sink that queues events (at most `capacity`) for a worker task that records them
/// in an inner sink.
///
/// In the fail-closed modes ([`Overflow::Block`], [`Overflow::Reject`]) `record`
/// returns `Ok` only once the inner sink has stored the event, so every event that was
/// not stored returned an error. In fail-open mode ([`Overflow::Drop`]) `record` returns
/// once the event is queued; an event the inner sink later fails to store is counted in
/// [`BufferStats::failed`]. Memory is bounded by the queue's capacity in every mode.
pub struct BufferedSink {
    queue: mpsc::Sender<Job>,
    capacity: usize,
    overflow: Overflow,
    shared: Arc<Shared>,
}

/// What the caller side and the worker share.
struct Shared {
    accepted: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    stored: AtomicU64,
    failed: AtomicU64,
    gap_records: AtomicU64,
    gap: Mutex<Gap>,
}

impl Shared {
    /// Adds a lost event to the next gap record; the first loss of a stall is logged.
    fn note_loss(&self, at: Timestamp) {
        let mut gap = self.gap.lock().unwrap_or_else(PoisonError::into_inner);
        gap.count += 1;
        gap.first.get_or_insert(at);
        gap.last = Some(at);
        if gap.count == 1 {
            tracing::warn!(target: "nhi_audit", "audit buffer is losing events; a gap record will say how many");
        }
    }
}

/// Events lost (dropped, or refused downstream in fail-open mode) not yet reported by a
/// gap record.
#[derive(Default)]
struct Gap {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

/// One queued item.
enum Job {
    Event {
        event: Box<AuditEvent>,
        reply: Option<oneshot::Sender<Result<Receipt, AuditError>>>,
    },
    Flush(oneshot::Sender<()>),
}

impl BufferedSink {
    /// Starts the worker on the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`AuditError::NoRuntime`] outside a Tokio runtime.
    pub fn spawn(
        inner: Arc<dyn AuditSink>,
        capacity: usize,
        overflow: Overflow,
        clock: SharedClock,
    ) -> Result<Self, AuditError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AuditError::NoRuntime)?;
        let capacity = capacity.max(1);
        let (queue, jobs) = mpsc::channel(capacity);
        let shared = Arc::new(Shared {
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            gap_records: AtomicU64::new(0),
            gap: Mutex::new(Gap::default()),
        });
        let key = match &overflow {
            Overflow::Drop(key) => Some(Arc::clone(key)),
            Overflow::Block | Overflow::Reject => None,
        };
        let worker = Worker {
            inner,
            key,
            clock,
            shared: Arc::clone(&shared),
        };
        runtime.spawn(worker.run(jobs));
        Ok(Self {
            queue,
            capacity,
            overflow,
            shared,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> BufferStats {
        let s = &self.shared;
        BufferStats {
            accepted: s.accepted.load(Ordering::SeqCst),
            dropped: s.dropped.load(Ordering::SeqCst),
            rejected: s.rejected.load(Ordering::SeqCst),
            stored: s.stored.load(Ordering::SeqCst),
            failed: s.failed.load(Ordering::SeqCst),
            gap_records: s.gap_records.load(Ordering::SeqCst),
        }
    }

    /// Waits until every event queued before this call was handed to the inner sink,
    /// and any pending gap record written.
    ///
    /// # Errors
    ///
    /// [`AuditError::SinkStopped`] when the worker is gone.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (reply, done) = oneshot::channel();
        self.queue
            .send(Job::Flush(reply))
            .await
            .map_err(|_| AuditError::SinkStopped)?;
        done.await.map_err(|_| AuditError::SinkStopped)
    }

    /// Counts a dropped event.
    fn drop_event(&self, at: Timestamp) -> Receipt {
        self.shared.dropped.fetch_add(1, Ordering::SeqCst);
        self.shared.note_loss(at);
        Receipt { sequence: 0 }
    }
}

impl std::fmt::Debug for BufferedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedSink")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl AuditSink for BufferedSink {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        use mpsc::error::TrySendError;

        if let Overflow::Drop(_) = self.overflow {
            let job = Job::Event {
                event: Box::new(event.clone()),
                reply: None,
            };
            return match self.queue.try_send(job) {
                Ok(()) => {
                    let n = self.shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    Ok(Receipt { sequence: n })
                }
                Err(TrySendError::Full(_)) => Ok(self.drop_event(event.time)),
                Err(TrySendError::Closed(_)) => Err(AuditError::SinkStopped),
            };
        }

        // Fail closed: queue with a reply, then wait for the inner sink's answer.
        let (reply, answer) = oneshot::channel();
        let job = Job::Event {
            event: Box::new(event.clone()),
            reply: Some(reply),
        };
        let queued = match self.overflow {
            Overflow::Block => self
                .queue
                .send(job)
                .await
                .map_err(|_| AuditError::SinkStopped),
            _ => self.queue.try_send(job).map_err(|error| match error {
                TrySendError::Full(_) => {
                    self.shared.rejected.fetch_add(1, Ordering::SeqCst);
                    AuditError::QueueFull {
                        capacity: self.capacity,
                    }
                }
                TrySendError::Closed(_) => AuditError::SinkStopped,
            }),
        };
        queued?;
        self.shared.accepted.fetch_add(1, Ordering::SeqCst);
        answer.await.unwrap_or(Err(AuditError::SinkStopped))
    }
}

/// The task that drains the queue into the inner sink.
struct Worker {
    inner: Arc<dyn AuditSink>,
    key: Option<Arc<CheckpointKey>>,
    clock: SharedClock,
    shared: Arc<Shared>,
}

impl Worker {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Event { event, reply } => {
                    let result = self.inner.record(&event).await;
                    let stored = result.is_ok();
                    // Fail open, nobody hears of a refusal: the gap record must.
                    if !stored && reply.is_none() && self.key.is_some() {
                        self.shared.note_loss(event.time);
                    }
                    let counter = if stored {
                        &self.shared.stored
                    } else {
                        &self.shared.failed
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    if let Some(reply) = reply {
                        let _ = reply.send(result);
                    }
                    // The downstream took a record again: it has recovered, so report
                    // the drops of the stall in one gap record.
                    if stored {
                        self.write_gap().await;
                    }
                }
                Job::Flush(done) => {
                    self.write_gap().await;
                    let _ = done.send(());
                }
            }
        }
    }

    /// Records one signed gap record for the drops counted so far, if any.
    async fn write_gap(&self) {
        let Some(key) = &self.key else { return };
        let gap = {
            let mut gap = self
                .shared
                .gap
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut *gap)
        };
        let (Some(first), Some(last)) = (gap.first, gap.last) else {
            return;
        };

        let event = gap_event(key, gap.count, first, last, self.clock.now());
        if self.inner.record(&event).await.is_ok() {
            self.shared.gap_records.fetch_add(1, Ordering::SeqCst);
            return;
        }
        // Not written: put the drops back so the next gap record covers them.
        let mut pending = self
            .shared
            .gap
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.count += gap.count;
        pending.first = Some(pending.first.map_or(first, |f| f.min(first)));
        pending.last = Some(pending.last.map_or(last, |l| l.max(last)));
    }
}

/// The signed `audit.gap` event for `count` drops between `first` and `last`.
fn gap_event(
    key: &CheckpointKey,
    count: u64,
    first: Timestamp,
    last: Timestamp,
    now: Timestamp,
) -> AuditEvent {
    let signature = key.sign_bytes(&gap_message(count, first, last));
    AuditEvent::new(
        EventKind::AuditGap,
        now,
        format!("audit buffer was full and dropped {count} events"),
    )
    .after(json!({
        "dropped": count,
        "first_dropped": first,
        "last_dropped": last,
        "signature": signature,
    }))
}

/// The bytes a gap record's signature covers.
fn gap_message(count: u64, first: Timestamp, last: Timestamp) -> Vec<u8> {
    format!(
        "nhi-audit gap v1\n{count}\n{}\n{}",
        first.unix_nanos(),
        last.unix_nanos()
    )
    .into_bytes()
}

/// The number of dropped events an `audit.gap` record reports, if its signature is
/// `key`'s; `None` for any other event or a forged or edited gap record.
pub fn verify_gap(event: &AuditEvent, key: &CheckpointPublicKey) -> Option<u64> {
    if event.kind != EventKind::AuditGap {
        return None;
    }
    let after = event.after.as_ref()?;
    let count = after.get("dropped")?.as_u64()?;
    let first: Timestamp = serde_json::from_value(after.get("first_dropped")?.clone()).ok()?;
    let last: Timestamp = serde_json::from_value(after.get("last_dropped")?.clone()).ok()?;
    let signature = after.get("signature")?.as_str()?;
    key.verifies(&gap_message(count, first, last), signature)
        .then_some(count)
}

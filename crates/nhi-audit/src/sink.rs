//! Where events go: the [`AuditSink`] trait, its [`Receipt`], and the in-memory sink.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::AuditError;
use crate::event::AuditEvent;

/// Proof that a sink stored an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The event's position in the sink, starting at 1. A fail-open
    /// [`BufferedSink`](crate::BufferedSink) returns 0 for an event it dropped (and
    /// counted); it is the only sink that acknowledges without storing.
    pub sequence: u64,
}

/// A destination for audit events.
///
/// The audit trail is a fallible channel, unlike a log: `record` returns `Ok` only once
/// the sink has stored the event (durably, for a file), and a caller that must not act
/// unaudited treats `Err` as "do not proceed".
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync {
    /// Stores `event` and says where it was put.
    ///
    /// # Errors
    ///
    /// Whatever kept the sink from storing the event; see [`AuditError`].
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError>;
}

#[async_trait::async_trait]
impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        (**self).record(event).await
    }
}

#[async_trait::async_trait]
impl<S: AuditSink + ?Sized> AuditSink for Box<S> {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        (**self).record(event).await
    }
}

/// A sink that keeps events in memory, for tests and for hosts that forward events
/// themselves. It never fails.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every event recorded so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.lock().clone()
    }

    /// How many events were recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The list lock; a panic elsewhere cannot leave a half-pushed event, so a poisoned
    /// lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Vec<AuditEvent>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl AuditSink for MemorySink {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let mut events = self.lock();
        events.push(event.clone());
        let sequence = u64::try_from(events.len()).unwrap_or(u64::MAX);
        Ok(Receipt { sequence })
    }
}

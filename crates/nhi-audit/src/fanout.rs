//! Fan-out: one event to several sinks, with a rule for how many must store it; and a
//! mirror into `tracing` for people who want audit events in their logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::sink::{AuditSink, Receipt};

/// How many sinks of a [`FanOutSink`] must store an event for `record` to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Require {
    /// Every sink.
    All,
    /// At least this many (at least one).
    AtLeast(usize),
}

/// A sink that records each event in every one of its sinks, in order, and succeeds
/// when its [`Require`] rule is met.
///
/// Every sink is tried even after one fails, so the event lands in as many places as
/// possible. The receipt is the first successful sink's.
pub struct FanOutSink {
    sinks: Vec<Arc<dyn AuditSink>>,
    require: Require,
}

impl FanOutSink {
    /// A fan-out to `sinks` under `require`.
    pub fn new(sinks: Vec<Arc<dyn AuditSink>>, require: Require) -> Self {
        Self { sinks, require }
    }

    /// How many sinks must store an event.
    fn required(&self) -> usize {
        match self.require {
            Require::All => self.sinks.len().max(1),
            Require::AtLeast(n) => n.max(1),
        }
    }
}

impl std::fmt::Debug for FanOutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOutSink")
            .field("sinks", &self.sinks.len())
            .field("require", &self.require)
            .finish()
    }
}

#[async_trait::async_trait]
impl AuditSink for FanOutSink {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let mut first_receipt = None;
        let mut first_failure = None;
        let mut stored = 0;
        for sink in &self.sinks {
            match sink.record(event).await {
                Ok(receipt) => {
                    stored += 1;
                    first_receipt.get_or_insert(receipt);
                }
                Err(error) => {
                    first_failure.get_or_insert(error);
                }
            }
        }

        let required = self.required();
        match first_receipt {
            Some(receipt) if stored >= required => Ok(receipt),
            _ => Err(AuditError::FanOutShort {
                stored,
                required,
                first_failure: first_failure.map(Box::new),
            }),
        }
    }
}

/// The `tracing` target audit events are mirrored under.
pub const MIRROR_TARGET: &str = "nhi_audit::mirror";

/// A sink that emits each event as a `tracing` event at INFO under [`MIRROR_TARGET`],
/// with the kind, identity and the event's JSON as fields.
///
/// A tracing subscriber cannot fail and may drop lines, so this is a mirror for people
/// who want audit in their logs, never the audit trail itself: put it in a
/// [`FanOutSink`] beside a durable sink. It never fails.
#[derive(Debug, Default)]
pub struct TracingMirror {
    emitted: AtomicU64,
}

impl TracingMirror {
    /// A mirror.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl AuditSink for TracingMirror {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let json = serde_json::to_string(event).unwrap_or_default();
        let identity = event
            .identity
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info!(
            target: MIRROR_TARGET,
            kind = event.kind.as_str(),
            identity = identity.as_str(),
            event = json.as_str(),
            "{}",
            event.message
        );
        let sequence = self.emitted.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Receipt { sequence })
    }
}

//! Waiting instead of being rejected, and sweeping on a timer (feature `tokio`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::LimitError;
use crate::limiter::Limiter;
use crate::request::{LimitDecision, LimitRequest};

impl Limiter {
    /// Charges `request`, waiting (on tokio's timer) until it fits, for hosts that
    /// prefer pacing to rejection.
    ///
    /// Waiting is not a violation: the rejections met on the way do not drive the kill
    /// switch. The future is cancel-safe: nothing is charged until it returns
    /// `Allowed`, so dropping it (a timeout, a shutdown) leaves every bucket as it was.
    /// It returns `Rejected` only when waiting can never help, as for a second
    /// destructive action in an incident limited by [`Quota::once`].
    ///
    /// # Errors
    ///
    /// As [`Limiter::check`]; a request costing more than a bucket holds fails at once.
    ///
    /// [`Quota::once`]: crate::Quota::once
    pub async fn acquire(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        loop {
            let decision = self.decide(request, false)?;
            match decision.retry_after() {
                None => return Ok(decision),
                Some(Duration::MAX) => return Ok(decision),
                Some(wait) => tokio::time::sleep(wait.max(Duration::from_nanos(1))).await,
            }
        }
    }
}

/// Runs [`Limiter::sweep`] every `period` on the current tokio runtime, until the
/// limiter is dropped or the returned handle is aborted.
///
/// The task holds the limiter weakly, so it never keeps it alive.
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a tokio runtime.
pub fn spawn_sweeper(limiter: &Arc<Limiter>, period: Duration) -> tokio::task::JoinHandle<()> {
    let limiter: Weak<Limiter> = Arc::downgrade(limiter);
    let period = period.max(Duration::from_millis(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(limiter) = limiter.upgrade() else {
                return;
            };
            limiter.sweep();
        }
    })
}

//! [`RateLimiter`]: the seam between the control plane and a limiter backend.

use crate::error::LimitError;
use crate::limiter::Limiter;
use crate::request::{LimitDecision, LimitRequest};

/// A limiter the control plane can call, in this process or backed by a shared store.
///
/// Every backend answers with the same decisions as [`Limiter`]: charges are all or
/// nothing, a rejection carries the time until retry, and a breach is reported once.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Charges `request`; see [`Limiter::check`].
    ///
    /// # Errors
    ///
    /// As [`Limiter::check`], and [`LimitError::Backend`] when a shared store fails.
    async fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError>;

    /// What `check` would answer, charging and recording nothing; see
    /// [`Limiter::peek`].
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::check`].
    async fn peek(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError>;

    /// Re-arms the kill switch of `identity`; see [`Limiter::clear_breach`]. A shared
    /// backend may finish this in the background; await [`RateLimiter::reinstate`] to
    /// know it is done.
    fn clear_breach(&self, identity: &str);

    /// Re-arms the kill switch of `identity` and returns once that is done.
    ///
    /// # Errors
    ///
    /// [`LimitError::Backend`] when a shared store fails.
    async fn reinstate(&self, identity: &str) -> Result<(), LimitError> {
        self.clear_breach(identity);
        Ok(())
    }
}

#[async_trait::async_trait]
impl RateLimiter for Limiter {
    async fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        Limiter::check(self, request)
    }

    async fn peek(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        Limiter::peek(self, request)
    }

    fn clear_breach(&self, identity: &str) {
        Limiter::clear_breach(self, identity);
    }
}

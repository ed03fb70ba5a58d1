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

    /// Re-arms the kill switch of `identity`; see [`Limiter::clear_breach`].
    fn clear_breach(&self, identity: &str);
}

#[async_trait::async_trait]
impl RateLimiter for Limiter {
    async fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        Limiter::check(self, request)
    }

    fn clear_breach(&self, identity: &str) {
        Limiter::clear_breach(self, identity);
    }
}

//! Counters a host exports as metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// What a limiter has seen since it was built. Allowed checks are not counted, so the
/// hot path writes no shared counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LimitStats {
    /// Requests rejected.
    pub rejections: u64,
    /// Requests that did not fit but were allowed because shadow mode was on.
    pub shadow_rejections: u64,
    /// Kill switches tripped.
    pub breaches: u64,
    /// Checks a shared backend could not answer (each failed closed or fell back).
    pub backend_failures: u64,
    /// Checks answered by the local fallback while the shared backend was unreachable.
    pub fallbacks: u64,
}

/// The live counters behind [`LimitStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) rejections: AtomicU64,
    pub(crate) shadow_rejections: AtomicU64,
    pub(crate) breaches: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LimitStats {
        LimitStats {
            rejections: self.rejections.load(Ordering::Relaxed),
            shadow_rejections: self.shadow_rejections.load(Ordering::Relaxed),
            breaches: self.breaches.load(Ordering::Relaxed),
            ..LimitStats::default()
        }
    }
}

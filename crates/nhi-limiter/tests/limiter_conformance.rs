//! The shared conformance suite, run against the in-process limiter.

use std::sync::Arc;

use nhi_core::{ManualClock, Timestamp};
use nhi_limiter::{Limiter, RateLimiter};

#[tokio::test]
async fn the_in_process_limiter_passes_the_conformance_suite() {
    nhi_limiter::conformance::run_all(|plan| async move {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
        Arc::new(Limiter::new(plan, clock)) as Arc<dyn RateLimiter>
    })
    .await;
}

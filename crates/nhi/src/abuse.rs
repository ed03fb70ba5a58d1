//! Abuse signals that trip the kill switch: repeated denials, out-of-policy targets,
//! revoked credentials presented again, sustained limit breaches.

use std::time::Duration;

use dashmap::DashMap;
use nhi_core::{IdentityId, Timestamp};

/// Counts denials per identity in a fixed window and says when the limit is reached.
#[derive(Debug, Default)]
pub(crate) struct DenialTracker {
    windows: DashMap<IdentityId, DenialWindow>,
}

#[derive(Debug, Clone, Copy)]
struct DenialWindow {
    started: Timestamp,
    count: u32,
    tripped: bool,
}

impl DenialTracker {
    /// Counts one denial; returns true exactly once per window when `max` is reached.
    pub(crate) fn record(
        &self,
        id: &IdentityId,
        now: Timestamp,
        max: u32,
        window: Duration,
    ) -> bool {
        let mut entry = self.windows.entry(id.clone()).or_insert(DenialWindow {
            started: now,
            count: 0,
            tripped: false,
        });
        if now.duration_since(entry.started) > window {
            *entry = DenialWindow {
                started: now,
                count: 0,
                tripped: false,
            };
        }
        entry.count = entry.count.saturating_add(1);
        if entry.count >= max && !entry.tripped {
            entry.tripped = true;
            return true;
        }
        false
    }

    /// Forgets an identity's denials (it was reinstated after review).
    pub(crate) fn reset(&self, id: &IdentityId) {
        self.windows.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_at_the_threshold_within_the_window() {
        let tracker = DenialTracker::default();
        let id = IdentityId::new("bot").unwrap();
        let t0 = Timestamp::from_unix_secs(100);
        let window = Duration::from_secs(60);
        assert!(!tracker.record(&id, t0, 3, window));
        assert!(!tracker.record(&id, t0, 3, window));
        assert!(tracker.record(&id, t0, 3, window));
        assert!(!tracker.record(&id, t0, 3, window), "trips only once");
    }

    #[test]
    fn old_denials_fall_out_of_the_window() {
        let tracker = DenialTracker::default();
        let id = IdentityId::new("bot").unwrap();
        let window = Duration::from_secs(60);
        assert!(!tracker.record(&id, Timestamp::from_unix_secs(0), 2, window));
        assert!(!tracker.record(&id, Timestamp::from_unix_secs(120), 2, window));
        assert!(tracker.record(&id, Timestamp::from_unix_secs(121), 2, window));
        tracker.reset(&id);
        assert!(!tracker.record(&id, Timestamp::from_unix_secs(122), 2, window));
    }
}

//! Folding the layers a request touches into the figures of one decision.

use std::time::Duration;

use crate::breach::Breach;
use crate::gcra::Charge;
use crate::quota::Layer;
use crate::request::LimitDecision;

/// The tightest layer seen so far (fewest units left, and its burst) and the longest
/// time until all of them are full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    remaining: u32,
    limit: u32,
    reset_after: Duration,
}

impl Default for Tally {
    /// Nothing limited: everything left, nothing to wait for.
    fn default() -> Self {
        Self {
            remaining: u32::MAX,
            limit: u32::MAX,
            reset_after: Duration::ZERO,
        }
    }
}

impl Tally {
    /// Adds one layer with `remaining` units of `limit`, full after `reset_after`.
    pub(crate) fn add(&mut self, remaining: u32, limit: u32, reset_after: Duration) {
        if remaining < self.remaining {
            self.remaining = remaining;
            self.limit = limit;
        }
        self.reset_after = self.reset_after.max(reset_after);
    }

    /// Adds one layer as a charge (taken or refused) describes it.
    pub(crate) fn add_charge(&mut self, charge: Charge, limit: u32) {
        match charge {
            Charge::Taken {
                remaining,
                reset_after,
            }
            | Charge::Refused {
                remaining,
                reset_after,
                ..
            } => self.add(remaining, limit, reset_after),
        }
    }

    pub(crate) fn allowed(self, shadow_rejected: Option<Layer>) -> LimitDecision {
        LimitDecision::Allowed {
            remaining: self.remaining,
            limit: self.limit,
            reset_after: self.reset_after,
            shadow_rejected,
        }
    }

    pub(crate) fn rejected(
        self,
        layer: Layer,
        retry_after: Duration,
        breach: Option<Breach>,
    ) -> LimitDecision {
        LimitDecision::Rejected {
            layer,
            retry_after,
            breach,
            remaining: self.remaining,
            limit: self.limit,
            reset_after: self.reset_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_layer_and_the_longest_reset_win() {
        let mut tally = Tally::default();
        tally.add(5, 10, Duration::from_secs(1));
        tally.add(2, 3, Duration::from_millis(10));
        tally.add(7, 100, Duration::from_secs(9));
        let decision = tally.allowed(None);
        assert_eq!(decision.remaining(), 2);
        assert_eq!(decision.limit(), 3);
        assert_eq!(decision.reset_after(), Duration::from_secs(9));
    }
}

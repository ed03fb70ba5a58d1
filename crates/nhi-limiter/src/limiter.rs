//! The in-process [`Limiter`]: one GCRA bucket per layer and key, charged all or nothing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use nhi_core::SharedClock;

use crate::breach::{BreachDetector, ProtectiveAction};
use crate::error::LimitError;
use crate::gcra::{self, Charge};
use crate::plan::QuotaPlan;
use crate::quota::{Layer, Quota};
use crate::request::{LimitDecision, LimitRequest};

/// The longest key, in bytes, a bucket may be kept under: room for any resource name
/// (a system and a path of up to 1024 bytes), small enough that a flood of distinct
/// keys cannot make one bucket costly.
pub const MAX_KEY_LEN: usize = 2048;

/// Layered keyed token buckets in this process.
///
/// Each bucket is one atomic theoretical arrival time updated by compare-and-swap, so
/// checks on different keys never wait for each other and checks on one key never
/// block. Buckets are created on first use; call [`Limiter::sweep`] now and then to
/// forget the ones that have refilled.
///
/// Time comes from the clock given at construction and never runs backwards inside a
/// limiter: a reading older than one already used is taken as that newer reading.
pub struct Limiter {
    plan: QuotaPlan,
    layers: Vec<LayerBuckets>,
    detector: BreachDetector,
    action: Option<Arc<dyn ProtectiveAction>>,
    clock: SharedClock,
    latest: AtomicU64,
}

impl Limiter {
    /// A limiter enforcing `plan`, reading time from `clock`.
    pub fn new(plan: QuotaPlan, clock: SharedClock) -> Self {
        let layers = plan
            .layers
            .iter()
            .map(|(&layer, &quota)| LayerBuckets {
                layer,
                quota,
                buckets: DashMap::new(),
            })
            .collect();
        Self {
            detector: BreachDetector::new(plan.breach),
            plan,
            layers,
            action: None,
            clock,
            latest: AtomicU64::new(0),
        }
    }

    /// The same limiter, calling `action` when an identity breaches its limits.
    #[must_use]
    pub fn with_protective_action(mut self, action: Arc<dyn ProtectiveAction>) -> Self {
        self.action = Some(action);
        self
    }

    /// Charges `request` to every layer that limits one of its keys, all or nothing.
    ///
    /// On a rejection nothing stays charged, the identity's violation log records it,
    /// and if that trips the kill switch the protective action is called before this
    /// returns.
    ///
    /// # Errors
    ///
    /// - [`LimitError::CostExceedsBurst`] when the request costs more than some layer's
    ///   bucket holds: it could never be allowed, so no wait is offered.
    /// - [`LimitError::InvalidKey`] when a key is empty or longer than [`MAX_KEY_LEN`].
    pub fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        let cost = self.plan.costs.cost(request.severity);
        self.validate(request, cost)?;
        let now = self.now();

        let mut remaining = u32::MAX;
        for (charged, (layer, key)) in self.charged_layers(request).enumerate() {
            match layer.charge(key, now, cost) {
                Charge::Taken { remaining: left } => remaining = remaining.min(left),
                Charge::Refused { wait } => {
                    self.refund(request, cost, charged);
                    return Ok(self.reject(request, charged, layer.layer, wait, cost, now));
                }
            }
        }
        Ok(LimitDecision::Allowed { remaining })
    }

    /// Re-arms the kill switch of `identity`, after the host has reinstated it, and
    /// forgets its past rejections.
    pub fn clear_breach(&self, identity: &str) {
        self.detector.clear(identity);
    }

    /// Whether the kill switch of `identity` has tripped and not been cleared.
    pub fn is_breached(&self, identity: &str) -> bool {
        self.detector.is_latched(identity)
    }

    /// Forgets buckets that are full again and violation logs with nothing left in the
    /// breach window; returns how many entries were dropped. A tripped kill switch is
    /// kept until [`Limiter::clear_breach`].
    pub fn sweep(&self) -> usize {
        let now = self.now();
        let buckets: usize = self.layers.iter().map(|layer| layer.sweep(now)).sum();
        buckets + self.detector.sweep(now)
    }

    /// How many buckets and violation logs are held.
    pub fn tracked_keys(&self) -> usize {
        let buckets: usize = self.layers.iter().map(|layer| layer.buckets.len()).sum();
        buckets + self.detector.len()
    }

    /// The plan this limiter enforces.
    pub fn plan(&self) -> &QuotaPlan {
        &self.plan
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("plan", &self.plan)
            .field("tracked_keys", &self.tracked_keys())
            .field("protective_action", &self.action.is_some())
            .finish_non_exhaustive()
    }
}

/// The buckets of one layer, keyed by the request's key for that layer.
struct LayerBuckets {
    layer: Layer,
    quota: Quota,
    buckets: DashMap<Box<str>, AtomicU64>,
}

impl LayerBuckets {
    fn charge(&self, key: &str, now: u64, cost: u32) -> Charge {
        if let Some(bucket) = self.buckets.get(key) {
            return gcra::charge(&bucket, &self.quota, now, cost);
        }
        // A bucket seen for the first time starts full.
        let bucket = self
            .buckets
            .entry(key.into())
            .or_insert_with(|| AtomicU64::new(0));
        gcra::charge(&bucket, &self.quota, now, cost)
    }

    fn refund(&self, key: &str, cost: u32) {
        // A bucket swept away meanwhile was full, so there is nothing to give back.
        if let Some(bucket) = self.buckets.get(key) {
            gcra::refund(&bucket, &self.quota, cost);
        }
    }

    fn wait(&self, key: &str, now: u64, cost: u32) -> Duration {
        self.buckets.get(key).map_or(Duration::ZERO, |bucket| {
            gcra::wait(&bucket, &self.quota, now, cost)
        })
    }

    fn sweep(&self, now: u64) -> usize {
        let before = self.buckets.len();
        self.buckets.retain(|_, bucket| !gcra::is_full(bucket, now));
        before.saturating_sub(self.buckets.len())
    }
}

impl Limiter {
    /// The layers this request is charged to, in order, with its key for each.
    fn charged_layers<'l, 'r>(
        &'l self,
        request: &'r LimitRequest<'_>,
    ) -> impl Iterator<Item = (&'l LayerBuckets, &'r str)> {
        self.layers
            .iter()
            .filter_map(|layer| request.key(layer.layer).map(|key| (layer, key)))
    }

    /// Refuses, before anything is charged, a request that can never be answered.
    fn validate(&self, request: &LimitRequest<'_>, cost: u32) -> Result<(), LimitError> {
        check_key(Layer::Identity, request.identity)?;
        for (layer, key) in self.charged_layers(request) {
            check_key(layer.layer, key)?;
            if cost > layer.quota.burst() {
                return Err(LimitError::CostExceedsBurst {
                    layer: layer.layer,
                    cost,
                    burst: layer.quota.burst(),
                });
            }
        }
        Ok(())
    }

    /// Gives back what the first `charged` layers took.
    fn refund(&self, request: &LimitRequest<'_>, cost: u32, charged: usize) {
        for (layer, key) in self.charged_layers(request).take(charged) {
            layer.refund(key, cost);
        }
    }

    /// Builds the rejection for a request refused by layer number `refused`, and
    /// records it against the identity.
    fn reject(
        &self,
        request: &LimitRequest<'_>,
        refused: usize,
        layer: Layer,
        wait: Duration,
        cost: u32,
        now: u64,
    ) -> LimitDecision {
        // The layers after the refusing one were not tried; the retry time must cover
        // them too, so report whichever needs the longest wait.
        let (layer, retry_after) = self
            .charged_layers(request)
            .skip(refused + 1)
            .map(|(later, key)| (later.layer, later.wait(key, now, cost)))
            .fold((layer, wait), |longest, next| {
                if next.1 > longest.1 { next } else { longest }
            });

        let breach = self.detector.record(request.identity, layer, now);
        if let (Some(breach), Some(action)) = (&breach, &self.action) {
            action.on_breach(breach);
        }
        LimitDecision::Rejected {
            layer,
            retry_after,
            breach,
        }
    }

    /// The clock's reading, never earlier than one this limiter already used.
    fn now(&self) -> u64 {
        let reading = self.clock.now().unix_nanos();
        let latest = self.latest.fetch_max(reading, Ordering::AcqRel);
        latest.max(reading)
    }
}

/// Refuses keys that are empty or long enough to be abuse of the key space.
fn check_key(layer: Layer, key: &str) -> Result<(), LimitError> {
    let reason = if key.is_empty() {
        "the key is empty: name the identity, workflow, tenant, endpoint or incident class"
    } else if key.len() > MAX_KEY_LEN {
        "the key is longer than 2048 bytes: use a shorter name or a digest of it"
    } else {
        return Ok(());
    };
    Err(LimitError::InvalidKey { layer, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_length_message_names_the_limit() {
        let long = "k".repeat(MAX_KEY_LEN + 1);
        let err = check_key(Layer::Endpoint, &long).unwrap_err();
        assert!(err.to_string().contains(&MAX_KEY_LEN.to_string()), "{err}");
        assert!(check_key(Layer::Endpoint, &long[1..]).is_ok());
    }
}

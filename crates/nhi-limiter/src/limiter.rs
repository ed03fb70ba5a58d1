//! The in-process [`Limiter`]: one GCRA bucket per layer and key, charged all or nothing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nhi_core::SharedClock;

use crate::breach::{BreachDetector, ProtectiveAction};
use crate::error::LimitError;
use crate::gcra::Charge;
use crate::layers::{LayerBuckets, Taken, fits};
use crate::plan::QuotaPlan;
use crate::quota::{Layer, Quota};
use crate::request::{LimitDecision, LimitRequest};
use crate::stats::{Counters, LimitStats};
use crate::tally::Tally;

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
    layers: [LayerBuckets; 6],
    detector: BreachDetector,
    action: Option<Arc<dyn ProtectiveAction>>,
    clock: SharedClock,
    latest: AtomicU64,
    shadow: AtomicBool,
    counters: Counters,
}

impl Limiter {
    /// A limiter enforcing `plan`, reading time from `clock`.
    pub fn new(plan: QuotaPlan, clock: SharedClock) -> Self {
        let layers =
            Layer::ALL.map(|layer| LayerBuckets::new(layer, plan.layers.get(&layer).copied()));
        Self {
            detector: BreachDetector::new(plan.breach),
            shadow: AtomicBool::new(plan.shadow),
            plan,
            layers,
            action: None,
            clock,
            latest: AtomicU64::new(0),
            counters: Counters::default(),
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
    /// On a rejection nothing stays charged, the identity's violation count records
    /// it, and if that trips the kill switch the protective action is called before
    /// this returns. In shadow mode a request that does not fit is allowed instead,
    /// uncharged, marked with [`LimitDecision::shadow_rejected`] and counted.
    ///
    /// # Errors
    ///
    /// - [`LimitError::CostExceedsBurst`] when the request costs more than some layer's
    ///   bucket holds: it could never be allowed, so no wait is offered.
    /// - [`LimitError::InvalidKey`] when a key is empty or longer than [`MAX_KEY_LEN`].
    pub fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        self.decide(request, true)
    }

    /// What [`Limiter::check`] would answer, without charging, counting or creating
    /// anything: `remaining` is what would be left after the request. A request whose
    /// severity costs nothing reads the buckets as they are.
    ///
    /// # Errors
    ///
    /// As [`Limiter::check`].
    pub fn peek(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        validate(request)?;
        let now = self.now();
        let (decision, _) = self.survey(request, now)?;
        Ok(decision)
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

    /// Turns shadow mode on or off: in shadow mode requests that do not fit are
    /// allowed and counted instead of rejected, and the kill switch is not driven.
    pub fn set_shadow(&self, shadow: bool) {
        self.shadow.store(shadow, Ordering::Release);
    }

    /// Whether shadow mode is on.
    pub fn is_shadow(&self) -> bool {
        self.shadow.load(Ordering::Acquire)
    }

    /// Replaces the quota of a whole layer while checks run; `None` stops limiting it.
    /// Buckets keep their state, so tokens already spent stay spent.
    pub fn set_layer_quota(&self, layer: Layer, quota: Option<Quota>) {
        self.layer(layer).quota.set(quota);
    }

    /// The quota a layer is limited by now, if any.
    pub fn layer_quota(&self, layer: Layer) -> Option<Quota> {
        self.layer(layer).quota.get()
    }

    /// Gives one key of a layer its own quota, or (`None`) returns it to the layer's.
    /// The key's bucket, and so this override, is kept until [`Limiter::forget`].
    ///
    /// # Errors
    ///
    /// [`LimitError::InvalidKey`] when the key is empty or too long.
    pub fn set_key_quota(
        &self,
        layer: Layer,
        key: &str,
        quota: Option<Quota>,
    ) -> Result<(), LimitError> {
        check_key(layer, key)?;
        self.layer(layer).set_override(key, quota);
        Ok(())
    }

    /// Forgets the bucket of one key, and its override: when an incident is closed,
    /// for example, so its once-per-incident bucket goes. Returns whether it existed.
    pub fn forget(&self, layer: Layer, key: &str) -> bool {
        self.layer(layer).forget(key)
    }

    /// Forgets buckets that are full again and violation counts back at zero; returns
    /// how many entries were dropped. A tripped kill switch is kept until
    /// [`Limiter::clear_breach`], and keys with their own quota until
    /// [`Limiter::forget`].
    pub fn sweep(&self) -> usize {
        let now = self.now();
        let buckets: usize = self.layers.iter().map(|layer| layer.sweep(now)).sum();
        buckets + self.detector.sweep(now)
    }

    /// How many buckets and violation counts are held.
    pub fn tracked_keys(&self) -> usize {
        let buckets: usize = self.layers.iter().map(|layer| layer.buckets.len()).sum();
        buckets + self.detector.len()
    }

    /// How many rejections, shadow rejections and breaches this limiter has seen.
    pub fn stats(&self) -> LimitStats {
        self.counters.snapshot()
    }

    /// The plan in force now, with every live change to layer quotas and shadow mode.
    pub fn plan(&self) -> QuotaPlan {
        let mut plan = self.plan.clone();
        plan.shadow = self.is_shadow();
        plan.layers = Layer::ALL
            .into_iter()
            .filter_map(|layer| self.layer_quota(layer).map(|quota| (layer, quota)))
            .collect();
        plan
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("plan", &self.plan())
            .field("tracked_keys", &self.tracked_keys())
            .field("protective_action", &self.action.is_some())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Charges `request`; `record` says whether a rejection counts as a violation.
    pub(crate) fn decide(
        &self,
        request: &LimitRequest<'_>,
        record: bool,
    ) -> Result<LimitDecision, LimitError> {
        validate(request)?;
        let now = self.now();

        // Everything that can be refused without charging is refused first.
        let mut steps: [Option<Step<'_, '_>>; 6] = [None; 6];
        for (slot, layer) in steps.iter_mut().zip(&self.layers) {
            let Some(key) = request.key(layer.layer) else {
                continue;
            };
            let quota = layer.quota.get();
            if layer.is_idle(quota) {
                continue;
            }
            check_key(layer.layer, key)?;
            let cost = layer.layer.cost(&self.plan.costs, request.severity);
            if let Some(quota) = &quota {
                fits(layer.layer, quota, cost)?;
            }
            *slot = Some(Step {
                layer,
                key,
                quota,
                cost,
            });
        }

        let mut taken: [Option<Taken>; 6] = [None; 6];
        let mut tally = Tally::default();
        for (slot, step) in taken.iter_mut().zip(steps.iter().flatten()) {
            let charged = match step.layer.charge(step.key, step.quota, now, step.cost) {
                Ok(charged) => charged,
                Err(err) => {
                    self.refund(request, &taken);
                    return Err(err);
                }
            };
            match charged {
                None => {}
                Some((
                    Charge::Taken {
                        remaining,
                        reset_after,
                    },
                    quota,
                )) => {
                    tally.add(remaining, quota.burst(), reset_after);
                    if step.cost > 0 {
                        *slot = Some(Taken {
                            layer: step.layer.layer,
                            quota,
                            cost: step.cost,
                        });
                    }
                }
                Some((Charge::Refused { .. }, _)) => {
                    self.refund(request, &taken);
                    return self.reject(request, now, record);
                }
            }
        }
        Ok(tally.allowed(None))
    }

    /// Gives back every charge in `taken`.
    fn refund(&self, request: &LimitRequest<'_>, taken: &[Option<Taken>; 6]) {
        for taken in taken.iter().flatten() {
            if let Some(key) = request.key(taken.layer) {
                self.layer(taken.layer).refund(key, taken);
            }
        }
    }

    /// Answers a request that does not fit, now that nothing of it stays charged.
    fn reject(
        &self,
        request: &LimitRequest<'_>,
        now: u64,
        record: bool,
    ) -> Result<LimitDecision, LimitError> {
        let (decision, tally) = self.survey(request, now)?;
        let LimitDecision::Rejected { layer, .. } = decision else {
            // Another request gave units back meanwhile; the refusal still stands.
            return Ok(tally.rejected(Layer::Identity, Duration::ZERO, None));
        };
        if self.is_shadow() {
            self.counters
                .shadow_rejections
                .fetch_add(1, Ordering::Relaxed);
            return Ok(tally.allowed(Some(layer)));
        }
        self.counters.rejections.fetch_add(1, Ordering::Relaxed);
        if !record {
            return Ok(decision);
        }

        let Some(breach) = self.detector.record(request.identity, layer, now) else {
            return Ok(decision);
        };
        self.counters.breaches.fetch_add(1, Ordering::Relaxed);
        if let Some(action) = &self.action {
            action.on_breach(&breach);
        }
        let LimitDecision::Rejected { retry_after, .. } = decision else {
            return Ok(decision);
        };
        Ok(tally.rejected(layer, retry_after, Some(breach)))
    }

    /// Reads every layer of `request` without writing: the decision `check` would
    /// make, and the buckets as they are now.
    fn survey(
        &self,
        request: &LimitRequest<'_>,
        now: u64,
    ) -> Result<(LimitDecision, Tally), LimitError> {
        let mut after = Tally::default();
        let mut as_is = Tally::default();
        let mut longest: Option<(Layer, Duration)> = None;
        for layer in &self.layers {
            let Some(key) = request.key(layer.layer) else {
                continue;
            };
            let quota = layer.quota.get();
            if layer.is_idle(quota) {
                continue;
            }
            check_key(layer.layer, key)?;
            let cost = layer.layer.cost(&self.plan.costs, request.severity);
            let Some((at_cost, current, quota)) = layer.inspect(key, quota, now, cost)? else {
                continue;
            };
            as_is.add_charge(current, quota.burst());
            match at_cost {
                Charge::Taken { .. } => after.add_charge(at_cost, quota.burst()),
                Charge::Refused { wait, .. } => {
                    if longest.is_none_or(|(_, longest)| wait > longest) {
                        longest = Some((layer.layer, wait));
                    }
                }
            }
        }
        let decision = match longest {
            Some((layer, wait)) => as_is.rejected(layer, wait, None),
            None => after.allowed(None),
        };
        Ok((decision, as_is))
    }

    fn layer(&self, layer: Layer) -> &LayerBuckets {
        // `layers` holds one entry per `Layer::ALL`, in that order.
        let [identity, workflow, tenant, endpoint, class, incident] = &self.layers;
        match layer {
            Layer::Identity => identity,
            Layer::Workflow => workflow,
            Layer::Tenant => tenant,
            Layer::Endpoint => endpoint,
            Layer::IncidentClass => class,
            Layer::Incident => incident,
        }
    }

    /// The clock's reading, never earlier than one this limiter already used.
    pub(crate) fn now(&self) -> u64 {
        let reading = self.clock.now().unix_nanos();
        let latest = self.latest.load(Ordering::Acquire);
        if reading <= latest {
            return latest;
        }
        let latest = self.latest.fetch_max(reading, Ordering::AcqRel);
        latest.max(reading)
    }
}

/// One layer a request is about to be charged to.
#[derive(Clone, Copy)]
struct Step<'l, 'k> {
    layer: &'l LayerBuckets,
    key: &'k str,
    quota: Option<Quota>,
    cost: u32,
}

/// Refuses, before anything is charged, an identity that can never be a key.
fn validate(request: &LimitRequest<'_>) -> Result<(), LimitError> {
    check_key(Layer::Identity, request.identity)
}

/// Refuses keys that are empty or long enough to be abuse of the key space.
pub(crate) fn check_key(layer: Layer, key: &str) -> Result<(), LimitError> {
    let reason = if key.is_empty() {
        "the key is empty: name the identity, workflow, tenant, endpoint or incident"
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

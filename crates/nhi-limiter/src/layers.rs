//! The buckets of one layer, keyed by the request's key for that layer.

use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

use crate::error::LimitError;
use crate::gcra::{self, Bucket, Charge};
use crate::live::LiveQuota;
use crate::quota::{Layer, Quota};

/// The hasher of the bucket maps: fast, and seeded at random per process so keys
/// chosen by a client cannot be aimed at one slot.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// One layer: its live quota, per-key overrides and the bucket of every key seen.
#[derive(Debug)]
pub(crate) struct LayerBuckets {
    pub(crate) layer: Layer,
    pub(crate) quota: LiveQuota,
    overrides: AtomicUsize,
    pub(crate) buckets: DashMap<Box<str>, Bucket, Hasher>,
}

/// A charge that was taken and may have to be given back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taken {
    pub(crate) layer: Layer,
    pub(crate) quota: Quota,
    pub(crate) cost: u32,
}

impl LayerBuckets {
    pub(crate) fn new(layer: Layer, quota: Option<Quota>) -> Self {
        Self {
            layer,
            quota: LiveQuota::new(quota),
            overrides: AtomicUsize::new(0),
            buckets: DashMap::with_hasher(Hasher::default()),
        }
    }

    /// Whether no key of this layer can be limited, so it can be skipped unread.
    pub(crate) fn is_idle(&self, quota: Option<Quota>) -> bool {
        quota.is_none() && self.overrides.load(Ordering::Acquire) == 0
    }

    /// Charges `cost` to the bucket of `key`; `None` when the key is not limited.
    ///
    /// A cost of zero only reads, so it creates no bucket.
    pub(crate) fn charge(
        &self,
        key: &str,
        layer_quota: Option<Quota>,
        now: u64,
        cost: u32,
    ) -> Result<Option<(Charge, Quota)>, LimitError> {
        if let Some(bucket) = self.buckets.get(key) {
            let Some(quota) = bucket.quota.or(layer_quota) else {
                return Ok(None);
            };
            fits(self.layer, &quota, cost)?;
            let tat = &bucket.tat;
            let charge = if cost == 0 {
                gcra::inspect(tat.load(Ordering::Acquire), &quota, now, 0)
            } else {
                gcra::charge(tat, &quota, now, cost)
            };
            return Ok(Some((charge, quota)));
        }

        let Some(quota) = layer_quota else {
            return Ok(None);
        };
        fits(self.layer, &quota, cost)?;
        if cost == 0 {
            return Ok(Some((gcra::inspect(0, &quota, now, 0), quota)));
        }
        // A bucket seen for the first time starts full.
        let bucket = self.buckets.entry(key.into()).or_default();
        let quota = bucket.quota.unwrap_or(quota);
        Ok(Some((gcra::charge(&bucket.tat, &quota, now, cost), quota)))
    }

    /// What charging `cost` would find, without changing anything.
    pub(crate) fn inspect(
        &self,
        key: &str,
        layer_quota: Option<Quota>,
        now: u64,
        cost: u32,
    ) -> Result<Option<(Charge, Charge, Quota)>, LimitError> {
        let (tat, quota) = match self.buckets.get(key) {
            Some(bucket) => (
                bucket.tat.load(Ordering::Acquire),
                bucket.quota.or(layer_quota),
            ),
            None => (0, layer_quota),
        };
        let Some(quota) = quota else {
            return Ok(None);
        };
        fits(self.layer, &quota, cost)?;
        let at_cost = gcra::inspect(tat, &quota, now, cost);
        let as_is = gcra::inspect(tat, &quota, now, 0);
        Ok(Some((at_cost, as_is, quota)))
    }

    /// Gives back a charge; a bucket swept away meanwhile was full, so there is
    /// nothing to give back to it.
    pub(crate) fn refund(&self, key: &str, taken: &Taken) {
        if let Some(bucket) = self.buckets.get(key) {
            gcra::refund(&bucket.tat, &taken.quota, taken.cost);
        }
    }

    /// Gives `key` its own quota, or takes it away (`None`).
    pub(crate) fn set_override(&self, key: &str, quota: Option<Quota>) {
        let mut bucket = self.buckets.entry(key.into()).or_default();
        match (bucket.quota.is_some(), quota.is_some()) {
            (false, true) => {
                self.overrides.fetch_add(1, Ordering::AcqRel);
            }
            (true, false) => {
                self.overrides.fetch_sub(1, Ordering::AcqRel);
            }
            _ => {}
        }
        bucket.quota = quota;
    }

    /// Forgets the bucket (and any override) of `key`.
    pub(crate) fn forget(&self, key: &str) -> bool {
        match self.buckets.remove(key) {
            Some((_, bucket)) => {
                if bucket.quota.is_some() {
                    self.overrides.fetch_sub(1, Ordering::AcqRel);
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn sweep(&self, now: u64) -> usize {
        let before = self.buckets.len();
        self.buckets.retain(|_, bucket| !bucket.is_forgettable(now));
        before.saturating_sub(self.buckets.len())
    }
}

/// Refuses a cost the quota's bucket can never hold.
pub(crate) fn fits(layer: Layer, quota: &Quota, cost: u32) -> Result<(), LimitError> {
    if cost > quota.burst() {
        return Err(LimitError::CostExceedsBurst {
            layer,
            cost,
            burst: quota.burst(),
        });
    }
    Ok(())
}

//! A [`QuotaPlan`]: the quota of each layer, the severity costs and the breach policy.

use std::collections::BTreeMap;

use crate::breach::BreachPolicy;
use crate::config;
use crate::error::LimitError;
use crate::quota::{Layer, Quota, SeverityCosts};

/// Everything a limiter enforces.
///
/// Build one in code with [`QuotaPlan::new`] and [`QuotaPlan::layer`], or read one
/// from TOML with [`QuotaPlan::from_toml_str`] (the format is in the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuotaPlan {
    /// What each severity costs.
    pub costs: SeverityCosts,
    /// The quota of each layer that is limited; a layer not listed is not limited.
    pub layers: BTreeMap<Layer, Quota>,
    /// When repeated rejections trip the kill switch.
    pub breach: BreachPolicy,
    /// Shadow mode: count the requests that would be rejected, and allow them.
    pub shadow: bool,
}

impl QuotaPlan {
    /// A plan with default costs and breach policy and no layer limited yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same plan with `layer` limited by `quota` (replacing any quota it had).
    #[must_use]
    pub fn layer(mut self, layer: Layer, quota: Quota) -> Self {
        self.layers.insert(layer, quota);
        self
    }

    /// Reads a plan written as TOML.
    ///
    /// # Errors
    ///
    /// [`LimitError::Config`], naming the line and column, when the text is not TOML,
    /// has a key or section this format does not know, or holds a value out of range
    /// (a zero rate or burst, a period that is zero or not a duration, a rate faster
    /// than one unit per nanosecond).
    pub fn from_toml_str(text: &str) -> Result<Self, LimitError> {
        config::parse(text)
    }
}

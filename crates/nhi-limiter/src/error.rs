//! The error type of this crate.

use crate::quota::Layer;

/// Why a limiter could not be configured or could not answer.
///
/// A rejection by a bucket is not an error: it is a [`LimitDecision::Rejected`] value
/// with the time to wait. `Err` means the request can never succeed as asked, the
/// configuration is wrong, or a plugged-in backend failed.
///
/// [`LimitDecision::Rejected`]: crate::LimitDecision::Rejected
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The request costs more units than a layer's bucket can ever hold, so no amount
    /// of waiting would let it through.
    #[error(
        "a request costing {cost} units can never fit the {layer} layer, whose bucket holds \
         {burst}: raise that layer's burst or lower the severity cost"
    )]
    CostExceedsBurst {
        /// The layer whose bucket is too small.
        layer: Layer,
        /// What the request costs.
        cost: u32,
        /// The most that layer's bucket holds.
        burst: u32,
    },

    /// A rate, period or burst cannot be enforced.
    #[error("invalid quota: {reason}")]
    InvalidQuota {
        /// What is wrong and what to do instead.
        reason: String,
    },

    /// A plan written as TOML could not be read.
    #[error("invalid quota plan at line {line}, column {column}: {message}")]
    Config {
        /// The line the problem was found on, counting from 1.
        line: usize,
        /// The column the problem was found at, counting from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },

    /// A key named by the request cannot be used as a bucket key.
    #[error("invalid {layer} key: {reason}")]
    InvalidKey {
        /// The layer the key was meant for.
        layer: Layer,
        /// What is wrong with the key.
        reason: &'static str,
    },

    /// A plugged-in backend (a shared store, for example) failed to answer.
    #[error("the limiter backend failed: {source}")]
    Backend {
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

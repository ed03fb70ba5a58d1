//! The error type of this crate.

/// Why a Redis limiter could not be built.
///
/// Checks themselves answer with [`nhi_limiter::LimitError`]: a Redis failure during
/// a check is [`nhi_limiter::LimitError::Backend`] (or a local answer, when the
/// limiter is configured to fall back).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLimitError {
    /// The Redis URL or client settings were refused.
    #[error("cannot use the Redis connection settings: {source}")]
    Connection {
        /// The Redis client's own error.
        #[source]
        source: redis::RedisError,
    },

    /// The plan holds a quota this backend cannot enforce exactly.
    #[error("quota of the {layer} layer cannot be kept in Redis: {reason}")]
    Quota {
        /// The layer (or `breach` for the violation count) whose quota is refused.
        layer: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// The key prefix cannot be used.
    #[error("invalid key prefix `{prefix}`: {reason}")]
    Prefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong.
        reason: &'static str,
    },
}

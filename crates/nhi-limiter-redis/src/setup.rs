//! Checking settings and opening the connection, before any check runs.

use nhi_limiter::{Layer, LimitError, MAX_KEY_LEN, QuotaPlan};
use redis::aio::ConnectionManager;

use crate::config::RedisLimiterConfig;
use crate::error::RedisLimitError;
use crate::script;

pub(crate) fn connect(
    url: &str,
    config: &RedisLimiterConfig,
) -> Result<ConnectionManager, RedisLimitError> {
    let client =
        redis::Client::open(url).map_err(|source| RedisLimitError::Connection { source })?;
    let settings = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(1);
    ConnectionManager::new_lazy_with_config(client, settings)
        .map_err(|source| RedisLimitError::Connection { source })
}

pub(crate) fn check_prefix(prefix: &str) -> Result<(), RedisLimitError> {
    let reason = if prefix.is_empty() {
        "it is empty: give a name such as `nhi:limit`"
    } else if prefix.contains(['{', '}']) {
        "it holds a brace, which would change the Redis Cluster hash tag: remove it"
    } else {
        return Ok(());
    };
    Err(RedisLimitError::Prefix {
        prefix: prefix.to_owned(),
        reason,
    })
}

pub(crate) fn check_plan(plan: &QuotaPlan) -> Result<(), RedisLimitError> {
    for (layer, quota) in &plan.layers {
        script::check_quota(layer.as_str(), quota)?;
    }
    if let Some(quota) = plan.breach.violation_quota() {
        script::check_quota("breach", &quota)?;
    }
    Ok(())
}

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

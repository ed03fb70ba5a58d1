//! [`RedisLimiter`]: the layered limiter with its buckets in Redis.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;
use nhi_core::{SystemClock, Timestamp};
use nhi_limiter::{
    Layer, LimitDecision, LimitError, LimitRequest, LimitStats, Limiter, ProtectiveAction, Quota,
    QuotaPlan, RateLimiter,
};
use redis::Script;
use redis::aio::ConnectionManager;

use crate::config::{RedisLimiterConfig, SlotTag, Unreachable};
use crate::error::RedisLimitError;
use crate::script::{self, LayerCall, Mode, Reply};
use crate::setup::{check_key, check_plan, check_prefix, connect};

/// The layered limiter of [`nhi_limiter`], its buckets shared by every node through
/// Redis.
///
/// Each check is one call of one Lua script (sent by hash, loaded again if the
/// server lost it) that reads the server's clock, evaluates every layer of the
/// request and writes all of them or none. Concurrent checks share one multiplexed
/// connection, so they are pipelined.
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: Script,
    config: RedisLimiterConfig,
    plan: RwLock<QuotaPlan>,
    overrides: [DashMap<Box<str>, Quota>; 6],
    local: Option<Limiter>,
    pub(crate) action: Option<Arc<dyn ProtectiveAction>>,
    pub(crate) counters: Counters,
}

impl RedisLimiter {
    /// A limiter enforcing `plan` in the Redis at `url`. The connection is opened
    /// on first use and re-opened after failures, so this succeeds while Redis is
    /// down; checks then behave as `config.on_unreachable` says.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError`] when the URL is not a Redis URL, the prefix holds a brace,
    /// or a quota holds more than the script can count exactly.
    pub fn new(
        url: &str,
        plan: QuotaPlan,
        config: RedisLimiterConfig,
    ) -> Result<Self, RedisLimitError> {
        check_prefix(&config.prefix)?;
        check_plan(&plan)?;
        let connection = connect(url, &config)?;
        let local = (config.on_unreachable == Unreachable::FallBackToLocal)
            .then(|| Limiter::new(plan.clone(), Arc::new(SystemClock)));
        Ok(Self {
            connection,
            script: Script::new(script::SOURCE),
            config,
            plan: RwLock::new(plan),
            overrides: Default::default(),
            local,
            action: None,
            counters: Counters::default(),
        })
    }

    /// The same limiter, calling `action` when an identity breaches its limits. The
    /// latch in Redis makes it run once per breach across all nodes.
    #[must_use]
    pub fn with_protective_action(mut self, action: Arc<dyn ProtectiveAction>) -> Self {
        self.local = self
            .local
            .map(|local| local.with_protective_action(action.clone()));
        self.action = Some(action);
        self
    }

    /// Charges `request` to every layer, all or nothing; see
    /// [`nhi_limiter::Limiter::check`].
    ///
    /// # Errors
    ///
    /// As [`nhi_limiter::Limiter::check`], and [`LimitError::Backend`] when Redis
    /// does not answer and the limiter fails closed.
    pub async fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        self.run(request, Mode::Check, None).await
    }

    /// What `check` would answer, charging nothing.
    ///
    /// # Errors
    ///
    /// As [`RedisLimiter::check`].
    pub async fn peek(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        self.run(request, Mode::Peek, None).await
    }

    /// Re-arms the kill switch of `identity` on every node.
    ///
    /// # Errors
    ///
    /// [`LimitError::Backend`] when Redis does not answer.
    pub async fn reinstate(&self, identity: &str) -> Result<(), LimitError> {
        if let Some(local) = &self.local {
            local.clear_breach(identity);
        }
        let (violations, latch) = self.breach_keys(identity);
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(&violations)
            .arg(&latch)
            .exec_async(&mut connection)
            .await
            .map_err(backend)
    }

    /// Replaces the quota of a whole layer (`None`: stop limiting it). The quotas
    /// are sent with each check, so apply the same change on every node.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Quota`] when the script cannot count the quota exactly.
    pub fn set_layer_quota(
        &self,
        layer: Layer,
        quota: Option<Quota>,
    ) -> Result<(), RedisLimitError> {
        if let Some(quota) = &quota {
            script::check_quota(layer.as_str(), quota)?;
        }
        let mut plan = self.plan.write().unwrap_or_else(PoisonError::into_inner);
        match quota {
            Some(quota) => plan.layers.insert(layer, quota),
            None => plan.layers.remove(&layer),
        };
        if let Some(local) = &self.local {
            local.set_layer_quota(layer, quota);
        }
        Ok(())
    }

    /// Gives one key its own quota (`None`: back to the layer's), on this node.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Quota`] when the script cannot count the quota exactly.
    pub fn set_key_quota(
        &self,
        layer: Layer,
        key: &str,
        quota: Option<Quota>,
    ) -> Result<(), RedisLimitError> {
        let overrides = self.overrides(layer);
        match quota {
            Some(quota) => {
                script::check_quota(layer.as_str(), &quota)?;
                overrides.insert(key.into(), quota);
            }
            None => {
                overrides.remove(key);
            }
        }
        if let Some(local) = &self.local {
            // The local limiter refuses only keys that no check could use anyway.
            let _ = local.set_key_quota(layer, key, quota);
        }
        Ok(())
    }

    /// Counts of rejections, shadow rejections, breaches, Redis failures and local
    /// fallbacks seen by this node.
    pub fn stats(&self) -> LimitStats {
        let mut stats = LimitStats::default();
        stats.rejections = self.counters.rejections.load(Ordering::Relaxed);
        stats.shadow_rejections = self.counters.shadow_rejections.load(Ordering::Relaxed);
        stats.breaches = self.counters.breaches.load(Ordering::Relaxed);
        stats.backend_failures = self.counters.backend_failures.load(Ordering::Relaxed);
        stats.fallbacks = self.counters.fallbacks.load(Ordering::Relaxed);
        stats
    }

    /// The plan in force on this node.
    pub fn plan(&self) -> QuotaPlan {
        self.plan
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        RedisLimiter::check(self, request).await
    }

    async fn peek(&self, request: &LimitRequest<'_>) -> Result<LimitDecision, LimitError> {
        RedisLimiter::peek(self, request).await
    }

    /// Starts re-arming the switch in the background on the current tokio runtime;
    /// await [`RedisLimiter::reinstate`] to know when it is done.
    fn clear_breach(&self, identity: &str) {
        if let Some(local) = &self.local {
            local.clear_breach(identity);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (violations, latch) = self.breach_keys(identity);
        let mut connection = self.connection.clone();
        runtime.spawn(async move {
            let _ = redis::cmd("DEL")
                .arg(&violations)
                .arg(&latch)
                .exec_async(&mut connection)
                .await;
        });
    }

    async fn reinstate(&self, identity: &str) -> Result<(), LimitError> {
        RedisLimiter::reinstate(self, identity).await
    }
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("config", &self.config)
            .field("plan", &self.plan())
            .field("protective_action", &self.action.is_some())
            .finish_non_exhaustive()
    }
}

/// Counters of this node.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) rejections: AtomicU64,
    pub(crate) shadow_rejections: AtomicU64,
    pub(crate) breaches: AtomicU64,
    pub(crate) backend_failures: AtomicU64,
    pub(crate) fallbacks: AtomicU64,
}

impl RedisLimiter {
    /// One check or peek; `at` replaces the server's clock (tests only).
    pub(crate) async fn run(
        &self,
        request: &LimitRequest<'_>,
        mode: Mode,
        at: Option<Timestamp>,
    ) -> Result<LimitDecision, LimitError> {
        let (calls, breach, shadow) = self.calls(request)?;
        let tag = self.tag(request.identity);
        let mut invocation = self.script.prepare_invoke();
        for call in &calls {
            if let Some(key) = request.key(call.layer) {
                invocation.key(self.key(tag, call.layer.as_str(), key));
            }
        }
        let (violations, latch) = self.breach_keys(request.identity);
        invocation.key(violations).key(latch);
        for arg in script::arguments(mode, shadow, at, &breach, &calls) {
            invocation.arg(arg);
        }

        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(
            self.config.timeout,
            invocation.invoke_async::<Vec<i64>>(&mut connection),
        )
        .await;
        let values = match answer {
            Ok(Ok(values)) => values,
            Ok(Err(err)) => return self.unreachable(request, mode, Box::new(err)),
            Err(elapsed) => return self.unreachable(request, mode, Box::new(elapsed)),
        };
        let Some(reply) = Reply::parse(&values) else {
            let err = format!("the check script answered {} values, not 9", values.len());
            return self.unreachable(request, mode, err.into());
        };
        Ok(self.conclude(request, mode, &reply, &calls, &breach))
    }

    /// The layers `request` is charged to, validated, with the policy and mode.
    fn calls(
        &self,
        request: &LimitRequest<'_>,
    ) -> Result<(Vec<LayerCall>, nhi_limiter::BreachPolicy, bool), LimitError> {
        check_key(Layer::Identity, request.identity)?;
        let plan = self.plan.read().unwrap_or_else(PoisonError::into_inner);
        let mut calls = Vec::with_capacity(Layer::ALL.len());
        for layer in Layer::ALL {
            let Some(key) = request.key(layer) else {
                continue;
            };
            let overrides = self.overrides(layer);
            let quota = if overrides.is_empty() {
                None
            } else {
                overrides.get(key).map(|quota| *quota)
            };
            let Some(quota) = quota.or_else(|| plan.layers.get(&layer).copied()) else {
                continue;
            };
            check_key(layer, key)?;
            let cost = layer.cost(&plan.costs, request.severity);
            if cost > quota.burst() {
                return Err(LimitError::CostExceedsBurst {
                    layer,
                    cost,
                    burst: quota.burst(),
                });
            }
            calls.push(LayerCall { layer, quota, cost });
        }
        Ok((calls, plan.breach, plan.shadow))
    }

    /// Redis did not answer: fail closed or answer locally, and count it.
    fn unreachable(
        &self,
        request: &LimitRequest<'_>,
        mode: Mode,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Result<LimitDecision, LimitError> {
        self.counters
            .backend_failures
            .fetch_add(1, Ordering::Relaxed);
        let Some(local) = &self.local else {
            return Err(LimitError::Backend { source });
        };
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        match mode {
            Mode::Check => local.check(request),
            Mode::Peek => local.peek(request),
        }
    }

    fn overrides(&self, layer: Layer) -> &DashMap<Box<str>, Quota> {
        let [identity, workflow, tenant, endpoint, class, incident] = &self.overrides;
        match layer {
            Layer::Identity => identity,
            Layer::Workflow => workflow,
            Layer::Tenant => tenant,
            Layer::Endpoint => endpoint,
            Layer::IncidentClass => class,
            Layer::Incident => incident,
        }
    }

    fn tag<'a>(&'a self, identity: &'a str) -> &'a str {
        match &self.config.slot {
            SlotTag::Identity => identity,
            SlotTag::Fixed(tag) => tag,
        }
    }

    /// `PREFIX:{TAG}:KIND:KEY`: every key of one request shares the text up to the
    /// first `}`, so Redis Cluster hashes them to one slot.
    fn key(&self, tag: &str, kind: &str, key: &str) -> String {
        format!("{}:{{{tag}}}:{kind}:{key}", self.config.prefix)
    }

    fn breach_keys(&self, identity: &str) -> (String, String) {
        let tag = self.tag(identity);
        (
            self.key(tag, "violations", identity),
            self.key(tag, "breached", identity),
        )
    }
}

fn backend(err: redis::RedisError) -> LimitError {
    LimitError::Backend {
        source: Box::new(err),
    }
}

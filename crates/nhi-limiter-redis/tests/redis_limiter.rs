//! The Redis backend: the shared conformance suite, several nodes on one Redis, key
//! layout, expiry, and what happens when Redis cannot be reached.
//!
//! Tests needing Redis read `NHI_TEST_REDIS_URL` and skip, saying so, when it is
//! unset. Each limiter gets a key prefix of its own, so leftovers never matter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nhi_core::Severity;
use nhi_limiter::{
    Breach, BreachPolicy, Layer, LimitError, LimitRequest, Quota, QuotaPlan, RateLimiter,
};
use nhi_limiter_redis::{RedisLimitError, RedisLimiter, RedisLimiterConfig, SlotTag, Unreachable};

const HOUR: Duration = Duration::from_secs(3600);

fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("NHI_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped {test}: NHI_TEST_REDIS_URL is not set");
    }
    url
}

/// A key prefix no earlier run used.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("nhi-test:{}:{nanos}:{n}", std::process::id())
}

fn config(prefix: String) -> RedisLimiterConfig {
    RedisLimiterConfig {
        prefix,
        timeout: Duration::from_secs(2),
        ..RedisLimiterConfig::default()
    }
}

fn hourly(burst: u32) -> Quota {
    Quota::new(NonZeroU32::MIN, HOUR, NonZeroU32::new(burst).unwrap()).unwrap()
}

fn read(identity: &str) -> LimitRequest<'_> {
    LimitRequest::new(identity, Severity::Read)
}

async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_redis_limiter_passes_the_conformance_suite() {
    let Some(url) = redis_url("the_redis_limiter_passes_the_conformance_suite") else {
        return;
    };
    nhi_limiter::conformance::run_all(|plan| {
        let url = url.clone();
        async move {
            let limiter = RedisLimiter::new(&url, plan, config(unique_prefix())).unwrap();
            Arc::new(limiter) as Arc<dyn RateLimiter>
        }
    })
    .await;
}

#[tokio::test]
async fn nodes_sharing_redis_share_buckets_and_trip_the_switch_once() {
    let Some(url) = redis_url("nodes_sharing_redis_share_buckets_and_trip_the_switch_once") else {
        return;
    };
    let plan = QuotaPlan {
        breach: BreachPolicy {
            rejections: NonZeroU32::new(3).unwrap(),
            window: HOUR,
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, hourly(4));
    let prefix = unique_prefix();
    let calls = Arc::new(AtomicUsize::new(0));
    let nodes: Vec<RedisLimiter> = (0..3)
        .map(|_| {
            let calls = calls.clone();
            RedisLimiter::new(&url, plan.clone(), config(prefix.clone()))
                .unwrap()
                .with_protective_action(Arc::new(move |_: &Breach| {
                    calls.fetch_add(1, Ordering::SeqCst);
                }))
        })
        .collect();

    let mut allowed = 0;
    for round in 0..10 {
        let node = &nodes[round % nodes.len()];
        if node.check(&read("agent")).await.unwrap().is_allowed() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4, "the fleet shares one burst");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the switch trips once for the fleet"
    );
    let breaches: u64 = nodes.iter().map(|node| node.stats().breaches).sum();
    assert_eq!(breaches, 1);
}

#[tokio::test]
async fn concurrent_checks_over_one_connection_never_overdraw() {
    let Some(url) = redis_url("concurrent_checks_over_one_connection_never_overdraw") else {
        return;
    };
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, hourly(1000))
        .layer(Layer::Endpoint, hourly(250));
    let limiter = Arc::new(RedisLimiter::new(&url, plan, config(unique_prefix())).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..600 {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            let endpoint = if n % 2 == 0 { "a" } else { "b" };
            let request = read("agent").endpoint(endpoint);
            limiter.check(&request).await.unwrap().is_allowed()
        });
    }
    let mut allowed = 0;
    while let Some(result) = tasks.join_next().await {
        allowed += usize::from(result.unwrap());
    }
    // Two endpoints of 250 each; the identity has room for all of them.
    assert_eq!(allowed, 500);
    let left = limiter.peek(&read("agent")).await.unwrap();
    assert_eq!(
        left.remaining(),
        499,
        "refused requests gave their identity charge back"
    );
}

#[tokio::test]
async fn keys_share_the_identity_hash_tag_and_expire_when_full() {
    let Some(url) = redis_url("keys_share_the_identity_hash_tag_and_expire_when_full") else {
        return;
    };
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, hourly(5))
        .layer(Layer::Tenant, hourly(5));
    let prefix = unique_prefix();
    let limiter = RedisLimiter::new(&url, plan, config(prefix.clone())).unwrap();
    limiter
        .check(&read("agent-7").tenant("acme"))
        .await
        .unwrap();

    let mut found = keys(&url, &format!("{prefix}:*")).await;
    found.sort();
    assert_eq!(
        found,
        [
            format!("{prefix}:{{agent-7}}:identity:agent-7"),
            format!("{prefix}:{{agent-7}}:tenant:acme"),
        ]
    );
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for key in &found {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        // The bucket is full again in one hour: its key must live that long, no less.
        assert!(
            ttl > 3_590_000 && ttl <= 3_600_001,
            "{key} expires in {ttl} ms"
        );
    }
}

#[tokio::test]
async fn a_fixed_tag_shares_tenant_buckets_across_identities() {
    let Some(url) = redis_url("a_fixed_tag_shares_tenant_buckets_across_identities") else {
        return;
    };
    let plan = QuotaPlan::new().layer(Layer::Tenant, hourly(1));
    let tagged = RedisLimiterConfig {
        slot: SlotTag::Fixed("fleet".into()),
        ..config(unique_prefix())
    };
    let limiter = RedisLimiter::new(&url, plan.clone(), tagged).unwrap();
    assert!(
        limiter
            .check(&read("a").tenant("acme"))
            .await
            .unwrap()
            .is_allowed()
    );
    assert!(
        !limiter
            .check(&read("b").tenant("acme"))
            .await
            .unwrap()
            .is_allowed()
    );

    // Tagged by identity, each identity has its own share of the tenant layer.
    let per_identity = RedisLimiter::new(&url, plan, config(unique_prefix())).unwrap();
    assert!(
        per_identity
            .check(&read("a").tenant("acme"))
            .await
            .unwrap()
            .is_allowed()
    );
    assert!(
        per_identity
            .check(&read("b").tenant("acme"))
            .await
            .unwrap()
            .is_allowed()
    );
}

#[tokio::test]
async fn live_quota_changes_apply_to_the_next_check() {
    let Some(url) = redis_url("live_quota_changes_apply_to_the_next_check") else {
        return;
    };
    let plan = QuotaPlan::new().layer(Layer::Identity, hourly(2));
    let limiter = RedisLimiter::new(&url, plan, config(unique_prefix())).unwrap();
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 1);
    limiter
        .set_layer_quota(Layer::Identity, Some(hourly(10)))
        .unwrap();
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 8);
    limiter
        .set_key_quota(Layer::Identity, "agent", Some(hourly(2)))
        .unwrap();
    assert!(!limiter.check(&read("agent")).await.unwrap().is_allowed());
    limiter
        .set_key_quota(Layer::Identity, "agent", None)
        .unwrap();
    assert!(limiter.check(&read("agent")).await.unwrap().is_allowed());
}

/// Nothing listens on port 1, so every check finds Redis unreachable.
const NOWHERE: &str = "redis://127.0.0.1:1";

#[tokio::test]
async fn an_unreachable_redis_fails_closed_by_default_and_is_counted() {
    let plan = QuotaPlan::new().layer(Layer::Identity, hourly(5));
    let limiter = RedisLimiter::new(NOWHERE, plan, config(unique_prefix())).unwrap();
    for _ in 0..3 {
        let err = limiter.check(&read("agent")).await.unwrap_err();
        assert!(matches!(err, LimitError::Backend { .. }), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }
    assert_eq!(limiter.stats().backend_failures, 3);
    assert_eq!(limiter.stats().fallbacks, 0);
}

#[tokio::test]
async fn an_unreachable_redis_can_fall_back_to_the_local_limiter() {
    let plan = QuotaPlan::new().layer(Layer::Identity, hourly(2));
    let fallback = RedisLimiterConfig {
        on_unreachable: Unreachable::FallBackToLocal,
        ..config(unique_prefix())
    };
    let limiter = RedisLimiter::new(NOWHERE, plan, fallback).unwrap();
    assert!(limiter.check(&read("agent")).await.unwrap().is_allowed());
    assert!(limiter.check(&read("agent")).await.unwrap().is_allowed());
    assert!(!limiter.check(&read("agent")).await.unwrap().is_allowed());
    let stats = limiter.stats();
    assert_eq!((stats.backend_failures, stats.fallbacks), (3, 3));
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let plan = QuotaPlan::new();
    let braces = RedisLimiterConfig {
        prefix: "a{b}".into(),
        ..RedisLimiterConfig::default()
    };
    let err = RedisLimiter::new("redis://127.0.0.1:6379", plan.clone(), braces).unwrap_err();
    assert!(matches!(err, RedisLimitError::Prefix { .. }), "{err}");

    let err = RedisLimiter::new("not a url", plan, RedisLimiterConfig::default()).unwrap_err();
    assert!(matches!(err, RedisLimitError::Connection { .. }), "{err}");

    let yearly = Quota::new(
        NonZeroU32::MIN,
        Duration::from_secs(365 * 86_400),
        NonZeroU32::MIN,
    )
    .unwrap();
    let too_big = QuotaPlan::new().layer(Layer::Identity, yearly);
    let err = RedisLimiter::new(
        "redis://127.0.0.1:6379",
        too_big,
        RedisLimiterConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("identity"), "{err}");
}

#[tokio::test]
async fn a_script_cache_flushed_by_the_server_is_reloaded() {
    let Some(url) = redis_url("a_script_cache_flushed_by_the_server_is_reloaded") else {
        return;
    };
    let plan = QuotaPlan::new().layer(Layer::Identity, hourly(3));
    let limiter = RedisLimiter::new(&url, plan, config(unique_prefix())).unwrap();
    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 2);

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut connection)
        .await
        .unwrap();

    assert_eq!(limiter.check(&read("agent")).await.unwrap().remaining(), 1);
    assert_eq!(limiter.stats().backend_failures, 0);
}

//! The limiter against its anchor, governor, in the same run.
//!
//! - `hot_key`: one identity checked over and over; governor's keyed limiter (a
//!   DashMap of GCRA cells) checks one key.
//! - `five_layers`: identity, workflow, tenant, endpoint and incident class charged all
//!   or nothing; governor checks one key, and (the same work without all or nothing)
//!   five keyed governors one key each.
//! - `random_100k`: 100,000 identities picked at random; governor keyed the same.
//! - per-key memory: resident memory grown by 1,000,000 keys, printed before the runs.
//! - `redis`: checks per second of the Redis backend over one multiplexed connection,
//!   one at a time and 64 in flight (pipelined); only when `NHI_TEST_REDIS_URL` is set.
//!
//! Both in-process limiters read a clock that does not move (a manual clock for nhi, a
//! fake clock for governor) and have room for every check, so both measure the path of
//! an allowed request.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota as GovernorQuota, RateLimiter as Governor};
use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{Layer, LimitRequest, Limiter, Quota, QuotaPlan};

const KEYS: usize = 100_000;

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()).with_burst(NonZeroU32::MAX)
}

fn governor_quota() -> GovernorQuota {
    GovernorQuota::per_second(NonZeroU32::MAX).allow_burst(NonZeroU32::MAX)
}

fn nhi(layers: &[Layer]) -> Limiter {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)));
    let plan = layers
        .iter()
        .fold(QuotaPlan::new(), |plan, layer| plan.layer(*layer, quota()));
    Limiter::new(plan, clock)
}

type KeyedGovernor = Governor<
    String,
    governor::state::keyed::DashMapStateStore<String>,
    FakeRelativeClock,
    governor::middleware::NoOpMiddleware<<FakeRelativeClock as governor::clock::Clock>::Instant>,
>;

fn governor() -> KeyedGovernor {
    Governor::dashmap_with_clock(governor_quota(), FakeRelativeClock::default())
}

/// A cheap deterministic index stream, so both sides see the same key order.
struct Picks(u64);

impl Picks {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        usize::try_from(self.0 >> 33).unwrap() % KEYS
    }
}

fn hot_key(c: &mut Criterion) {
    let limiter = nhi(&[Layer::Identity]);
    let anchor = governor();
    let key = "restart-agent".to_owned();
    let request = LimitRequest::new("restart-agent", Severity::Read);

    let mut group = c.benchmark_group("limiter_hot_key");
    group.bench_function("governor_keyed", |b| {
        b.iter(|| anchor.check_key(black_box(&key)).is_ok());
    });
    group.bench_function("nhi_check", |b| {
        b.iter(|| limiter.check(black_box(&request)).unwrap().is_allowed());
    });
    group.finish();
}

fn five_layers(c: &mut Criterion) {
    let limiter = nhi(&[
        Layer::Identity,
        Layer::Workflow,
        Layer::Tenant,
        Layer::Endpoint,
        Layer::IncidentClass,
    ]);
    let anchor = governor();
    let key = "restart-agent".to_owned();
    let request = LimitRequest::new("restart-agent", Severity::Read)
        .workflow("remediate-pod-crashloop")
        .tenant("acme")
        .endpoint("k8s:prod/payments")
        .incident_class("crashloop");

    // The same work without all or nothing: five keyed governors, one key each.
    let anchors: Vec<(KeyedGovernor, String)> = [
        "restart-agent",
        "remediate-pod-crashloop",
        "acme",
        "k8s:prod/payments",
        "crashloop",
    ]
    .into_iter()
    .map(|key| (governor(), key.to_owned()))
    .collect();

    let mut group = c.benchmark_group("limiter_five_layers");
    group.bench_function("governor_keyed_one_key", |b| {
        b.iter(|| anchor.check_key(black_box(&key)).is_ok());
    });
    group.bench_function("governor_keyed_five_keys", |b| {
        b.iter(|| {
            anchors
                .iter()
                .all(|(anchor, key)| anchor.check_key(black_box(key)).is_ok())
        });
    });
    group.bench_function("nhi_check_five_layers", |b| {
        b.iter(|| limiter.check(black_box(&request)).unwrap().is_allowed());
    });
    group.finish();
}

fn random_keys(c: &mut Criterion) {
    let names: Vec<String> = (0..KEYS).map(|n| format!("agent-{n:06}")).collect();
    let limiter = nhi(&[Layer::Identity]);
    let anchor = governor();
    for name in &names {
        limiter
            .check(&LimitRequest::new(name, Severity::Read))
            .unwrap();
        let _ = anchor.check_key(name);
    }

    let mut group = c.benchmark_group("limiter_random_100k");
    let mut picks = Picks(7);
    group.bench_function("governor_keyed", |b| {
        b.iter(|| anchor.check_key(&names[picks.next()]).is_ok());
    });
    let mut picks = Picks(7);
    group.bench_function("nhi_check", |b| {
        b.iter(|| {
            let request = LimitRequest::new(&names[picks.next()], Severity::Read);
            limiter.check(&request).unwrap().is_allowed()
        });
    });
    group.finish();
}

/// Resident memory of this process, in bytes (Linux; 0 elsewhere).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn per_key_memory(_: &mut Criterion) {
    const COUNT: usize = 1_000_000;
    let names: Vec<String> = (0..COUNT).map(|n| format!("agent-{n:07}")).collect();

    let before = resident_bytes();
    let limiter = nhi(&[Layer::Identity]);
    for name in &names {
        limiter
            .check(&LimitRequest::new(name, Severity::Read))
            .unwrap();
    }
    let nhi_bytes = resident_bytes().saturating_sub(before);

    let before = resident_bytes();
    let anchor = governor();
    for name in &names {
        let _ = anchor.check_key(name);
    }
    let governor_bytes = resident_bytes().saturating_sub(before);

    let per_key = |bytes: u64| bytes as f64 / COUNT as f64;
    println!(
        "limiter_per_key_memory: nhi {:.0} B/key, governor keyed {:.0} B/key \
         (resident growth over {COUNT} keys of 13 bytes)",
        per_key(nhi_bytes),
        per_key(governor_bytes)
    );
    black_box((&limiter, &anchor));
}

fn redis(c: &mut Criterion) {
    let Some(url) = std::env::var("NHI_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("limiter_redis skipped: NHI_TEST_REDIS_URL is not set");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plan = QuotaPlan::new()
        .layer(Layer::Identity, slow_quota())
        .layer(Layer::Endpoint, slow_quota());
    let config = nhi_limiter_redis::RedisLimiterConfig {
        prefix: format!("nhi-bench:{}", std::process::id()),
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let limiter = Arc::new({
        let _guard = runtime.enter();
        nhi_limiter_redis::RedisLimiter::new(&url, plan, config).unwrap()
    });

    let mut group = c.benchmark_group("limiter_redis");
    group.bench_function("one_at_a_time", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = LimitRequest::new("agent", Severity::Read).endpoint("db");
                limiter.check(&request).await.unwrap().is_allowed()
            })
        });
    });
    group.bench_function("pipelined_64_in_flight", |b| {
        b.iter_custom(|iterations| {
            let limiter = limiter.clone();
            runtime.block_on(async move {
                let start = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for n in 0..iterations {
                    if tasks.len() >= 64 {
                        tasks.join_next().await.unwrap().unwrap();
                    }
                    let limiter = limiter.clone();
                    tasks.spawn(async move {
                        let identity = format!("agent-{}", n % 1024);
                        let request = LimitRequest::new(&identity, Severity::Read).endpoint("db");
                        limiter.check(&request).await.unwrap().is_allowed()
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.unwrap();
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// Room for every check a benchmark makes, and a bucket the script counts exactly.
fn slow_quota() -> Quota {
    Quota::new(
        NonZeroU32::new(1_000_000).unwrap(),
        Duration::from_secs(1),
        NonZeroU32::new(1_000_000_000).unwrap(),
    )
    .unwrap()
}

criterion_group!(
    benches,
    per_key_memory,
    hot_key,
    five_layers,
    random_keys,
    redis
);
criterion_main!(benches);

//! Reading without charging, shadow mode, live quota changes, once per incident.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{
    Breach, BreachPolicy, Layer, LimitDecision, LimitRequest, Limiter, Quota, QuotaPlan,
};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn quota(per_second: u32, burst: u32) -> Quota {
    Quota::per_second(nz(per_second)).with_burst(nz(burst))
}

fn limiter(plan: QuotaPlan) -> (Limiter, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    (Limiter::new(plan, clock.clone()), clock)
}

fn read(identity: &str) -> LimitRequest<'_> {
    LimitRequest::new(identity, Severity::Read)
}

#[test]
fn outcomes_carry_limit_remaining_and_time_to_full() {
    let (limiter, clock) = limiter(QuotaPlan::new().layer(Layer::Identity, quota(10, 5)));
    let decision = limiter.check(&read("agent")).unwrap();
    assert_eq!(decision.limit(), 5);
    assert_eq!(decision.remaining(), 4);
    assert_eq!(decision.reset_after(), Duration::from_millis(100));

    clock.advance(Duration::from_millis(40));
    let decision = limiter.check(&read("agent")).unwrap();
    assert_eq!(decision.reset_after(), Duration::from_millis(160));
}

#[test]
fn a_peek_creates_no_bucket_and_charges_nothing() {
    let (limiter, _clock) = limiter(QuotaPlan::new().layer(Layer::Identity, quota(1, 2)));
    let peeked = limiter.peek(&read("agent")).unwrap();
    assert_eq!((peeked.remaining(), peeked.limit()), (1, 2));
    assert_eq!(limiter.tracked_keys(), 0);

    limiter.check(&read("agent")).unwrap();
    limiter.check(&read("agent")).unwrap();
    let before = limiter.tracked_keys();
    let peeked = limiter.peek(&read("agent")).unwrap();
    assert_eq!(peeked.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(peeked.breach(), None);
    assert_eq!(limiter.tracked_keys(), before);
    assert_eq!(limiter.stats().rejections, 0);
}

#[test]
fn a_request_that_costs_nothing_only_reads() {
    let plan = QuotaPlan {
        costs: nhi_limiter::SeverityCosts {
            read: 0,
            ..Default::default()
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, quota(1, 10));
    let (limiter, _clock) = limiter(plan);
    for _ in 0..100 {
        assert_eq!(limiter.check(&read("agent")).unwrap().remaining(), 10);
    }
    assert_eq!(limiter.tracked_keys(), 0);
}

#[test]
fn shadow_mode_counts_rejections_charges_nothing_and_never_trips() {
    let breaches = Arc::new(AtomicUsize::new(0));
    let seen = breaches.clone();
    let plan = QuotaPlan {
        shadow: true,
        breach: BreachPolicy {
            rejections: nz(2),
            window: Duration::from_secs(60),
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, quota(1, 1));
    let (limiter, clock) = limiter(plan);
    let limiter = limiter.with_protective_action(Arc::new(move |_: &Breach| {
        seen.fetch_add(1, Ordering::SeqCst);
    }));

    assert_eq!(
        limiter.check(&read("agent")).unwrap().shadow_rejected(),
        None
    );
    for _ in 0..10 {
        let decision = limiter.check(&read("agent")).unwrap();
        assert!(decision.is_allowed());
        assert_eq!(decision.shadow_rejected(), Some(Layer::Identity));
    }
    assert_eq!(limiter.stats().shadow_rejections, 10);
    assert_eq!(limiter.stats().rejections, 0);
    assert_eq!(breaches.load(Ordering::SeqCst), 0);

    // Turned off live, the same bucket now rejects: shadow requests were not charged,
    // so it refills after one interval exactly.
    limiter.set_shadow(false);
    assert!(!limiter.check(&read("agent")).unwrap().is_allowed());
    clock.advance(Duration::from_secs(1));
    assert!(limiter.check(&read("agent")).unwrap().is_allowed());
}

#[test]
fn a_whole_layer_quota_changes_live() {
    let (limiter, _clock) = limiter(QuotaPlan::new().layer(Layer::Identity, quota(1, 2)));
    assert_eq!(limiter.check(&read("agent")).unwrap().remaining(), 1);
    limiter.set_layer_quota(Layer::Identity, Some(quota(1, 10)));
    assert_eq!(limiter.check(&read("agent")).unwrap().remaining(), 8);
    assert_eq!(limiter.plan().layers[&Layer::Identity], quota(1, 10));

    limiter.set_layer_quota(Layer::Identity, None);
    assert_eq!(limiter.check(&read("agent")).unwrap().remaining(), u32::MAX);

    // A layer the plan did not limit can be limited later.
    limiter.set_layer_quota(Layer::Tenant, Some(quota(1, 1)));
    let tenant = read("agent").tenant("acme");
    assert!(limiter.check(&tenant).unwrap().is_allowed());
    assert!(!limiter.check(&tenant).unwrap().is_allowed());
}

#[test]
fn one_key_gets_its_own_quota_live() {
    let (limiter, _clock) = limiter(QuotaPlan::new().layer(Layer::Identity, quota(1, 5)));
    limiter
        .set_key_quota(Layer::Identity, "runaway", Some(quota(1, 1)))
        .unwrap();
    assert!(limiter.check(&read("runaway")).unwrap().is_allowed());
    assert!(!limiter.check(&read("runaway")).unwrap().is_allowed());
    assert_eq!(limiter.check(&read("steady")).unwrap().remaining(), 4);

    // The override survives a sweep even when its bucket is full.
    limiter
        .set_key_quota(Layer::Identity, "idle", Some(quota(1, 1)))
        .unwrap();
    limiter.sweep();
    assert_eq!(limiter.peek(&read("idle")).unwrap().limit(), 1);

    limiter
        .set_key_quota(Layer::Identity, "runaway", None)
        .unwrap();
    assert_eq!(limiter.peek(&read("runaway")).unwrap().limit(), 5);
    assert!(limiter.set_key_quota(Layer::Identity, "", None).is_err());
}

#[test]
fn a_key_override_applies_even_where_the_layer_is_not_limited() {
    let (limiter, _clock) = limiter(QuotaPlan::new());
    limiter
        .set_key_quota(Layer::Endpoint, "prod-db", Some(quota(1, 1)))
        .unwrap();
    let hit = read("agent").endpoint("prod-db");
    assert!(limiter.check(&hit).unwrap().is_allowed());
    assert!(!limiter.check(&hit).unwrap().is_allowed());
    assert!(
        limiter
            .check(&read("agent").endpoint("dev-db"))
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn one_destructive_action_per_incident_until_it_is_forgotten() {
    let plan = QuotaPlan::new().layer(Layer::Incident, Quota::once());
    let (limiter, clock) = limiter(plan);
    let restart = LimitRequest::new("agent", Severity::Destructive).incident("INC-7");
    assert!(limiter.check(&restart).unwrap().is_allowed());

    clock.advance(Duration::from_secs(365 * 24 * 3600));
    limiter.sweep();
    let again = limiter.check(&restart).unwrap();
    assert!(matches!(
        again,
        LimitDecision::Rejected {
            layer: Layer::Incident,
            retry_after: Duration::MAX,
            ..
        }
    ));
    // Reads and writes in the incident are not counted by this layer.
    let write = LimitRequest::new("agent", Severity::Write).incident("INC-7");
    assert!(limiter.check(&write).unwrap().is_allowed());

    assert!(limiter.forget(Layer::Incident, "INC-7"));
    assert!(limiter.check(&restart).unwrap().is_allowed());
}

#[test]
fn a_plan_reads_shadow_mode_and_once_layers_from_toml() {
    let plan = QuotaPlan::from_toml_str(
        r#"
        shadow = true

        [layers.incident]
        once = true

        [layers.identity]
        rate = 10
        per = "1s"
        burst = 20
        "#,
    )
    .unwrap();
    assert!(plan.shadow);
    assert_eq!(plan.layers[&Layer::Incident], Quota::once());

    for bad in [
        "[layers.incident]\nonce = true\nrate = 1\n",
        "[layers.identity]\nrate = 1\n",
        "[layers.identity]\nper = \"1s\"\n",
    ] {
        let err = QuotaPlan::from_toml_str(bad).unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
    }
}

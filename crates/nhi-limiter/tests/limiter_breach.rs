//! The kill switch: repeated rejections of one identity trip it once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use nhi_core::{ManualClock, Severity, Timestamp};
use nhi_limiter::{
    Breach, BreachPolicy, Layer, LimitDecision, LimitRequest, Limiter, ProtectiveAction, Quota,
    QuotaPlan, RateLimiter,
};

const START: u64 = 1_700_000_000;

/// Counts breaches and keeps the last one.
#[derive(Default)]
struct Recorder {
    calls: AtomicUsize,
    last: Mutex<Option<Breach>>,
}

impl ProtectiveAction for Recorder {
    fn on_breach(&self, breach: &Breach) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(breach.clone());
    }
}

/// Identity limited to 1 unit per minute; the switch trips on 3 rejections in 10 s.
fn limiter() -> (Limiter, Arc<ManualClock>, Arc<Recorder>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let recorder = Arc::new(Recorder::default());
    let plan = QuotaPlan {
        breach: BreachPolicy {
            rejections: NonZeroU32::new(3).unwrap(),
            window: Duration::from_secs(10),
        },
        ..QuotaPlan::new()
    }
    .layer(Layer::Identity, Quota::per_minute(NonZeroU32::MIN));
    let limiter = Limiter::new(plan, clock.clone()).with_protective_action(recorder.clone());
    (limiter, clock, recorder)
}

fn read(identity: &str) -> LimitRequest<'_> {
    LimitRequest::new(identity, Severity::Read)
}

#[test]
fn the_switch_trips_once_on_the_nth_rejection_and_stays_latched() {
    let (limiter, clock, recorder) = limiter();
    assert!(limiter.check(&read("agent")).unwrap().is_allowed());

    // A single rejection, or two, never trip it.
    assert_eq!(limiter.check(&read("agent")).unwrap().breach(), None);
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(limiter.check(&read("agent")).unwrap().breach(), None);
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 0);

    clock.advance(Duration::from_secs(1));
    let decision = limiter.check(&read("agent")).unwrap();
    let expected = Breach {
        identity: "agent".into(),
        layer: Layer::Identity,
        rejections: 3,
        window: Duration::from_secs(10),
        at: Timestamp::from_unix_secs(START + 2),
    };
    assert_eq!(decision.breach(), Some(&expected));
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.last.lock().unwrap().as_ref(), Some(&expected));
    assert!(limiter.is_breached("agent"));

    // Further rejections report nothing new and call nobody.
    for _ in 0..20 {
        let decision = limiter.check(&read("agent")).unwrap();
        assert!(!decision.is_allowed());
        assert_eq!(decision.breach(), None);
    }
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn rejections_spread_wider_than_the_window_do_not_trip() {
    let (limiter, clock, recorder) = limiter();
    assert!(limiter.check(&read("agent")).unwrap().is_allowed());
    for _ in 0..5 {
        assert!(!limiter.check(&read("agent")).unwrap().is_allowed());
        clock.advance(Duration::from_secs(6));
    }
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn clearing_the_breach_re_arms_the_switch() {
    let (limiter, _clock, recorder) = limiter();
    assert!(limiter.check(&read("agent")).unwrap().is_allowed());
    let breaches = (0..3)
        .filter(|_| limiter.check(&read("agent")).unwrap().breach().is_some())
        .count();
    assert_eq!(breaches, 1);

    limiter.clear_breach("agent");
    assert!(!limiter.is_breached("agent"));

    // The count starts over: two more rejections are not enough, the third trips.
    assert_eq!(limiter.check(&read("agent")).unwrap().breach(), None);
    assert_eq!(limiter.check(&read("agent")).unwrap().breach(), None);
    assert!(limiter.check(&read("agent")).unwrap().breach().is_some());
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn identities_trip_their_own_switches() {
    let (limiter, _clock, recorder) = limiter();
    for identity in ["a", "b"] {
        assert!(limiter.check(&read(identity)).unwrap().is_allowed());
        assert!(!limiter.check(&read(identity)).unwrap().is_allowed());
        assert!(!limiter.check(&read(identity)).unwrap().is_allowed());
    }
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 0);
    assert!(limiter.check(&read("a")).unwrap().breach().is_some());
    assert!(!limiter.is_breached("b"));
}

#[test]
fn the_breach_names_the_layer_that_rejected() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let plan = QuotaPlan {
        breach: BreachPolicy {
            rejections: NonZeroU32::new(2).unwrap(),
            window: Duration::from_secs(60),
        },
        ..QuotaPlan::new()
    }
    .layer(
        Layer::Identity,
        Quota::per_second(NonZeroU32::new(100).unwrap()),
    )
    .layer(Layer::Endpoint, Quota::per_minute(NonZeroU32::MIN));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let limiter = Limiter::new(plan, clock).with_protective_action(Arc::new(move |_: &Breach| {
        counted.fetch_add(1, Ordering::SeqCst);
    }));

    let hit = read("agent").endpoint("db");
    assert!(limiter.check(&hit).unwrap().is_allowed());
    assert!(limiter.check(&hit).unwrap().breach().is_none());
    let breach = limiter.check(&hit).unwrap().breach().cloned().unwrap();
    assert_eq!(breach.layer, Layer::Endpoint);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_protective_action_may_call_back_into_the_same_limiter() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let plan = QuotaPlan::new().layer(Layer::Identity, Quota::per_minute(NonZeroU32::MIN));
    let this: Arc<OnceLock<Weak<Limiter>>> = Arc::default();
    let reached = Arc::new(AtomicUsize::new(0));

    let (slot, count) = (Arc::clone(&this), Arc::clone(&reached));
    let action = move |breach: &Breach| {
        if let Some(limiter) = slot.get().and_then(Weak::upgrade) {
            // Re-entering must not deadlock on the limiter's own state.
            let _ = limiter.check(&LimitRequest::new(&breach.identity, Severity::Read));
            limiter.clear_breach(&breach.identity);
            count.fetch_add(1, Ordering::SeqCst);
        }
    };
    let limiter = Arc::new(Limiter::new(plan, clock).with_protective_action(Arc::new(action)));
    this.set(Arc::downgrade(&limiter)).unwrap();

    for _ in 0..6 {
        limiter.check(&read("agent")).unwrap();
    }
    assert_eq!(reached.load(Ordering::SeqCst), 1);
    assert!(!limiter.is_breached("agent"));
}

#[test]
fn a_breach_serializes_with_readable_time_and_window() {
    let breach = Breach {
        identity: "agent".into(),
        layer: Layer::IncidentClass,
        rejections: 5,
        window: Duration::from_secs(60),
        at: Timestamp::from_unix_secs(1_767_225_600),
    };
    let json = serde_json::to_value(&breach).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "identity": "agent",
            "layer": "incident-class",
            "rejections": 5,
            "window": "1m",
            "at": "2026-01-01T00:00:00Z",
        })
    );
}

#[tokio::test]
async fn the_rate_limiter_seam_answers_like_the_limiter() {
    let (limiter, _clock, recorder) = limiter();
    let seam: Arc<dyn RateLimiter> = Arc::new(limiter);
    assert!(seam.check(&read("agent")).await.unwrap().is_allowed());
    let mut tripped = 0;
    for _ in 0..5 {
        if let LimitDecision::Rejected {
            breach: Some(_), ..
        } = seam.check(&read("agent")).await.unwrap()
        {
            tripped += 1;
        }
    }
    assert_eq!(tripped, 1);
    seam.clear_breach("agent");
    assert_eq!(recorder.calls.load(Ordering::SeqCst), 1);
}

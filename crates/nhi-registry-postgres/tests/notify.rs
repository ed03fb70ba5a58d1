//! Change notification between nodes: a suspension made through one store handle
//! reaches a cache on another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use nhi_registry::{CachedStore, IdentityStore, LifecycleState, Registry, conformance};
use nhi_registry_postgres::{PostgresStore, keep_fresh};
use tokio::time::timeout;

/// Only a guard against a hang: the notice normally arrives in milliseconds.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_on_one_node_reaches_the_cache_of_another() {
    let Some(url) = common::server("a_suspension_on_one_node_reaches_the_cache_of_another") else {
        return;
    };
    let schema = common::unique_schema();
    let (node_a, _) =
        conformance::registry_at_start(Arc::new(PostgresStore::open(&url, &schema).await.unwrap()));
    let store_b = PostgresStore::open(&url, &schema).await.unwrap();
    let feed = store_b.subscribe().await.unwrap();
    let cache_b = Arc::new(CachedStore::new(Arc::new(store_b)));
    let mut fresh = keep_fresh(feed, cache_b.clone());
    let node_b = Registry::new(
        cache_b.clone(),
        Arc::new(nhi_core::ManualClock::new(conformance::START)),
    );

    let agent = node_a
        .provision(conformance::sample_identity("shared-agent"))
        .await
        .unwrap();
    let seen = node_b.get(&agent.id).await.unwrap();
    assert_eq!(seen.state, LifecycleState::Active);
    assert_eq!(cache_b.cached_len(), 1, "node b now serves it from memory");

    node_a
        .transition(&agent.id, LifecycleState::Suspended)
        .await
        .unwrap();
    loop {
        let change = timeout(GUARD, fresh.applied()).await.unwrap().unwrap();
        if change.id == agent.id && change.state == LifecycleState::Suspended {
            break;
        }
    }
    let after = node_b.get(&agent.id).await.unwrap();
    assert_eq!(after.state, LifecycleState::Suspended);
    assert_eq!(after.version, agent.version + 1);
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn every_committed_write_is_announced_in_order() {
    let Some(url) = common::server("every_committed_write_is_announced_in_order") else {
        return;
    };
    let schema = common::unique_schema();
    let store = PostgresStore::open(&url, &schema).await.unwrap();
    let mut feed = store.subscribe().await.unwrap();
    let record = conformance::record_in_state("announced", LifecycleState::Active);
    store.insert(&record).await.unwrap();
    let mut quarantined = record.clone();
    quarantined.state = LifecycleState::Quarantined;
    store.update(&quarantined).await.unwrap();
    // A lost race commits nothing and announces nothing.
    assert!(store.update(&record).await.is_err());

    let first = timeout(GUARD, feed.next()).await.unwrap().unwrap().unwrap();
    let second = timeout(GUARD, feed.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((first.version, first.state), (1, LifecycleState::Active));
    assert_eq!(
        (second.version, second.state),
        (2, LifecycleState::Quarantined)
    );

    // A stranger's notice on the channel is an error value, not a panic.
    common::execute(&url, &format!("NOTIFY \"{}\", 'garbage'", store.channel())).await;
    let bad = timeout(GUARD, feed.next()).await.unwrap().unwrap();
    assert!(bad.is_err());
    assert!(feed.try_next().is_none());
    common::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn schemas_do_not_hear_each_other() {
    let Some(url) = common::server("schemas_do_not_hear_each_other") else {
        return;
    };
    let (one, two) = (common::unique_schema(), common::unique_schema());
    let store_one = PostgresStore::open(&url, &one).await.unwrap();
    let store_two = PostgresStore::open(&url, &two).await.unwrap();
    let mut feed_two = store_two.subscribe().await.unwrap();

    let loud = conformance::record_in_state("loud", LifecycleState::Active);
    store_one.insert(&loud).await.unwrap();
    let quiet = conformance::record_in_state("quiet", LifecycleState::Active);
    store_two.insert(&quiet).await.unwrap();

    // Notices on one connection arrive in commit order, so the first one heard is ours.
    let heard = timeout(GUARD, feed_two.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(heard.id, quiet.id);
    common::drop_schema(&url, &one).await;
    common::drop_schema(&url, &two).await;
}

/// Writes on `writer` until `fresh` has applied one of those very writes (a notice of
/// an older version does not count); the timeout on each wait only paces the writes
/// while the feed is being opened.
async fn until_fresh(
    writer: &Registry,
    fresh: &mut nhi_registry_postgres::FreshCache,
    id: &nhi_core::IdentityId,
) {
    for step in 1..=400_u64 {
        let at = conformance::START.saturating_add(Duration::from_secs(step));
        let written = writer.record_rotation(id, at).await.unwrap().version;
        while let Ok(Some(change)) = timeout(Duration::from_millis(100), fresh.applied()).await {
            if change.id == *id && change.version >= written {
                return;
            }
        }
    }
    panic!("the cache never heard of the writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_survives_losing_its_feed() {
    let Some(url) = common::server("a_cache_survives_losing_its_feed") else {
        return;
    };
    let schema = common::unique_schema();
    let (node_a, _) =
        conformance::registry_at_start(Arc::new(PostgresStore::open(&url, &schema).await.unwrap()));
    let store_b = Arc::new(PostgresStore::open(&url, &schema).await.unwrap());
    let cache_b = Arc::new(CachedStore::new(store_b.clone()));
    let mut fresh = nhi_registry_postgres::keep_fresh_from(store_b, cache_b.clone());
    let agent = node_a
        .provision(conformance::sample_identity("long-lived"))
        .await
        .unwrap();
    until_fresh(&node_a, &mut fresh, &agent.id).await;
    assert!(fresh.is_caching());

    // The server ends the feed's connection.
    let ended = common::terminate(&url, &format!("%LISTEN%{schema}%")).await;
    assert_eq!(ended, 1, "the feed's connection was ended");
    until_fresh(&node_a, &mut fresh, &agent.id).await;
    assert!(
        fresh.is_running() && fresh.is_caching(),
        "the feed was opened again"
    );

    cache_b.get(&agent.id).await.unwrap();
    node_a
        .transition(&agent.id, LifecycleState::Suspended)
        .await
        .unwrap();
    loop {
        let change = timeout(GUARD, fresh.applied()).await.unwrap().unwrap();
        if change.state == LifecycleState::Suspended {
            break;
        }
    }
    let seen = cache_b.get(&agent.id).await.unwrap().unwrap();
    assert_eq!(seen.state, LifecycleState::Suspended);
    drop(fresh);
    assert!(!cache_b.is_caching(), "no feed, no cache");
    common::drop_schema(&url, &schema).await;
}

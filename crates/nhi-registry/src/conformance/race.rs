//! The concurrency checks of the conformance suite: racing writers on one record.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support: a failed check panics with a message"
)]

use std::sync::Arc;
use std::time::Duration;

use nhi_core::IdentityId;

use super::{
    RACE_UPDATES, START, UPDATES_PER_WRITER, WRITERS, record_in_state, registry_at_start,
    sample_identity,
};
use crate::registry::Edit;
use crate::{IdentityStore, LifecycleState, Registry, RegistryError};

/// [`WRITERS`] tasks race on one record directly through the store, [`RACE_UPDATES`]
/// successful updates in all; a writer that gets VersionConflict reads again and
/// retries. The final record must hold every update and its version must have grown by
/// exactly [`RACE_UPDATES`].
pub async fn racing_writers_at_scale(store: Arc<dyn IdentityStore>) {
    let record = record_in_state("conf-race-scale", LifecycleState::Active);
    store.insert(&record).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        let id = record.id.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..RACE_UPDATES / WRITERS {
                loop {
                    let mut current = store.get(&id).await.unwrap().unwrap();
                    let count: usize = current
                        .labels
                        .get("counter")
                        .map_or(0, |c| c.parse().unwrap());
                    current
                        .labels
                        .insert("counter".into(), (count + 1).to_string());
                    match store.update(&current).await {
                        Ok(_) => break,
                        Err(RegistryError::VersionConflict { .. }) => {}
                        Err(other) => panic!("a racing update failed: {other}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer task panicked");
    }

    let stored = store.get(&record.id).await.unwrap().unwrap();
    assert_eq!(
        stored.labels.get("counter").map(String::as_str),
        Some(RACE_UPDATES.to_string().as_str()),
        "an update was lost in the race"
    );
    assert_eq!(stored.version, record.version + RACE_UPDATES as u64);
}

/// [`WRITERS`] tasks each make [`UPDATES_PER_WRITER`] read-modify-write updates of one
/// record through the registry; every single one must be in the final record.
pub async fn concurrent_writers_lose_nothing(store: Arc<dyn IdentityStore>) {
    let (registry, _) = registry_at_start(store);
    let record = registry
        .provision(sample_identity("conf-race-a"))
        .await
        .unwrap();
    concurrent_counter(std::slice::from_ref(&registry), &record.id).await;

    let stored = registry.get(&record.id).await.unwrap();
    let expected = WRITERS * UPDATES_PER_WRITER;
    assert_eq!(
        stored.labels.get("counter").map(String::as_str),
        Some(expected.to_string().as_str()),
        "an update was lost"
    );
    assert!(
        stored.version >= record.version + expected as u64,
        "every counter update must bump the version"
    );
    assert_eq!(
        stored.last_used_at,
        Some(START.saturating_add(Duration::from_secs(UPDATES_PER_WRITER as u64)))
    );
}

/// Runs [`WRITERS`] tasks over `registries` (round robin), each incrementing the
/// `counter` label of `id` and recording a use [`UPDATES_PER_WRITER`] times.
///
/// A store with several handles on one database passes one registry per handle.
pub async fn concurrent_counter(registries: &[Registry], id: &IdentityId) {
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let registry = registries[writer % registries.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for step in 1..=UPDATES_PER_WRITER {
                increment_counter(&registry, &id).await;
                let at = START.saturating_add(Duration::from_secs(step as u64));
                registry
                    .record_use(&id, at)
                    .await
                    .expect("record_use must succeed");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer task panicked");
    }
}

async fn increment_counter(registry: &Registry, id: &IdentityId) {
    registry
        .modify(id, |record, _| {
            let count: usize = record
                .labels
                .get("counter")
                .map_or(0, |c| c.parse().unwrap());
            record
                .labels
                .insert("counter".into(), (count + 1).to_string());
            Ok(Edit::Write)
        })
        .await
        .expect("a counter update must not give up");
}

//! The conformance suite every [`IdentityStore`] must pass.
//!
//! Enabled by the cargo feature `conformance`. Each check panics with a message saying
//! what the store did wrong. Run them inside a tokio runtime (the concurrency check
//! spawns tasks; the multi-thread flavor makes its race real). Checks use their own id
//! prefixes, so they can share one store, but the store should start empty.
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_store_conforms() {
//!     nhi_registry::conformance::run_all(Arc::new(MyStore::new())).await;
//! }
//! ```

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support: a failed check panics with a message"
)]

use std::sync::Arc;
use std::time::Duration;

use nhi_core::{Clock, CredentialKind, IdentityId, IdentityKind, ManualClock, RiskTier, Timestamp};

use crate::{
    CredentialPolicy, IdentityRecord, IdentityStore, LifecycleState, NewIdentity, Owner, Page,
    Registry, RegistryError,
};

mod guards;
mod race;

pub use guards::guards_hold;
pub use race::{concurrent_counter, concurrent_writers_lose_nothing, racing_writers_at_scale};

/// The time the suite's clock starts at: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_unix_secs(1_767_225_600);

/// How many concurrent writers [`concurrent_writers_lose_nothing`] starts.
pub const WRITERS: usize = 8;

/// How many updates each of them makes.
pub const UPDATES_PER_WRITER: usize = 25;

/// Runs every check of the suite against `store`.
pub async fn run_all(store: Arc<dyn IdentityStore>) {
    insert_get_and_duplicates(store.clone()).await;
    optimistic_updates(store.clone()).await;
    pagination_in_id_order(store.clone()).await;
    tombstoned_ids_are_never_reused(store.clone()).await;
    lifecycle_transitions(store.clone()).await;
    batch_inserts(store.clone()).await;
    guards_hold(store.clone()).await;
    concurrent_writers_lose_nothing(store.clone()).await;
    racing_writers_at_scale(store).await;
}

/// How many updates [`racing_writers_at_scale`] makes in all, spread over [`WRITERS`].
pub const RACE_UPDATES: usize = 10_000;

const _: () = assert!(
    RACE_UPDATES.is_multiple_of(WRITERS),
    "the race splits evenly"
);

/// A valid low-tier request for `id` that provisioning accepts at [`START`].
pub fn sample_identity(id: &str) -> NewIdentity {
    NewIdentity {
        id: id.parse().expect("sample ids are valid"),
        kind: IdentityKind::Bot,
        owner: Some(Owner {
            team: "platform".parse().expect("valid team"),
            person: Some("alice".into()),
        }),
        purpose: Some("Posts deploy notices to the release channel.".into()),
        environment: "production".parse().expect("valid environment"),
        tenant: "acme".parse().expect("valid tenant"),
        allowed_systems: ["chat".to_owned()].into(),
        scopes: ["chat:post".to_owned()].into(),
        credential: CredentialPolicy {
            kind: CredentialKind::Jwt,
            lifetime: Duration::from_secs(3_600),
        },
        rotation_interval: Duration::from_secs(30 * 86_400),
        risk_tier: RiskTier::Low,
        expires_at: Some(START.saturating_add(Duration::from_secs(365 * 86_400))),
        decommission_at: None,
        last_used_at: None,
        last_rotated_at: None,
        labels: Default::default(),
    }
}

/// A registry over `store` with a manual clock at [`START`].
pub fn registry_at_start(store: Arc<dyn IdentityStore>) -> (Registry, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START));
    (Registry::new(store, clock.clone()), clock)
}

/// A record in `state`, as if it had got there through the lifecycle.
pub fn record_in_state(id: &str, state: LifecycleState) -> IdentityRecord {
    IdentityRecord::from_new(sample_identity(id), state, START)
}

fn id(text: &str) -> IdentityId {
    text.parse().expect("test ids are valid")
}

/// Insert then get returns the same record; a second insert of the id is refused; an
/// unknown id reads as `None`.
pub async fn insert_get_and_duplicates(store: Arc<dyn IdentityStore>) {
    let record = record_in_state("conf-insert-a", LifecycleState::Active);
    store
        .insert(&record)
        .await
        .expect("insert of a new id must succeed");

    let read = store.get(&record.id).await.expect("get must succeed");
    assert_eq!(
        read.as_ref(),
        Some(&record),
        "get must return the inserted record unchanged"
    );

    let mut again = record.clone();
    again.purpose = Some("A different identity with the same id.".into());
    match store.insert(&again).await {
        Err(RegistryError::AlreadyExists { id }) => assert_eq!(id, record.id),
        other => panic!("a second insert of one id must be AlreadyExists, got {other:?}"),
    }
    let read = store.get(&record.id).await.unwrap();
    assert_eq!(
        read,
        Some(record),
        "a refused insert must not change the stored record"
    );

    let missing = store.get(&id("conf-insert-missing")).await.unwrap();
    assert!(missing.is_none(), "an unknown id must read as None");
}

/// Update succeeds for the stored version and bumps it; a stale version is a conflict
/// that changes nothing; an unknown id is NotFound.
pub async fn optimistic_updates(store: Arc<dyn IdentityStore>) {
    let record = record_in_state("conf-update-a", LifecycleState::Active);
    store.insert(&record).await.unwrap();

    let mut change = record.clone();
    change.labels.insert("step".into(), "one".into());
    let stored = store
        .update(&change)
        .await
        .expect("update at the stored version must succeed");
    assert_eq!(
        stored.version,
        record.version + 1,
        "update must bump the version by one"
    );
    assert_eq!(stored.labels.get("step").map(String::as_str), Some("one"));
    assert_eq!(store.get(&record.id).await.unwrap(), Some(stored.clone()));

    let mut stale = record.clone();
    stale.labels.insert("step".into(), "stale".into());
    match store.update(&stale).await {
        Err(RegistryError::VersionConflict {
            expected, found, ..
        }) => {
            assert_eq!((expected, found), (record.version, stored.version));
        }
        other => panic!("an update at a stale version must be VersionConflict, got {other:?}"),
    }
    assert_eq!(
        store.get(&record.id).await.unwrap(),
        Some(stored),
        "a refused update must not change the stored record"
    );

    let ghost = record_in_state("conf-update-ghost", LifecycleState::Active);
    match store.update(&ghost).await {
        Err(RegistryError::NotFound { id }) => assert_eq!(id, ghost.id),
        other => panic!("an update of an unknown id must be NotFound, got {other:?}"),
    }
}

/// Listing pages through every record exactly once, in ascending id order.
pub async fn pagination_in_id_order(store: Arc<dyn IdentityStore>) {
    // Inserted out of order on purpose.
    let mut ids: Vec<String> = (0..23)
        .map(|n| format!("conf-page-{:02}", (n * 7) % 23))
        .collect();
    for text in &ids {
        store
            .insert(&record_in_state(text, LifecycleState::Active))
            .await
            .unwrap();
    }
    ids.sort();

    let mut seen: Vec<IdentityId> = Vec::new();
    let mut page = Page::first(5);
    loop {
        let batch = store.list(&page).await.expect("list must succeed");
        assert!(
            batch.len() <= page.limit,
            "a page must hold at most `limit` records"
        );
        for record in &batch {
            if let Some(previous) = seen.last() {
                assert!(
                    &record.id > previous,
                    "ids must ascend across pages: {} after {previous}",
                    record.id
                );
            }
            seen.push(record.id.clone());
        }
        match batch.last() {
            Some(last) if batch.len() == page.limit => page.after = Some(last.id.clone()),
            _ => break,
        }
    }
    let ours: Vec<&str> = seen
        .iter()
        .map(IdentityId::as_str)
        .filter(|s| s.starts_with("conf-page-"))
        .collect();
    assert_eq!(
        ours, ids,
        "every record must be listed exactly once, in id order"
    );

    let empty = store.list(&Page::first(0)).await.unwrap();
    assert!(empty.is_empty(), "a page with limit 0 must be empty");
    let after_last = Page {
        after: Some(id("conf-page-22")),
        limit: 100,
    };
    let tail = store.list(&after_last).await.unwrap();
    assert!(
        tail.iter().all(|r| r.id.as_str() > "conf-page-22"),
        "`after` must be exclusive"
    );

    let mut scanned = Vec::new();
    store
        .scan(&mut |record| {
            if record.id.as_str().starts_with("conf-page-") {
                scanned.push(record.id.as_str().to_owned());
            }
        })
        .await
        .expect("scan must succeed");
    scanned.sort();
    assert_eq!(scanned, ids, "scan must show every record exactly once");

    let (registry, _) = registry_at_start(store.clone());
    let mut odd = record_in_state("conf-page-zz-staging", LifecycleState::Suspended);
    odd.environment = "staging".parse().unwrap();
    store.insert(&odd).await.unwrap();
    let query = crate::IdentityQuery {
        environment: Some(odd.environment.clone()),
        states: [LifecycleState::Suspended].into(),
        ..Default::default()
    };
    let found = registry.find(&query).await.expect("find must succeed");
    assert_eq!(
        found,
        vec![odd],
        "find must return exactly the matching records"
    );
}

/// An id that went all the way to tombstoned can be neither provisioned nor imported
/// again, and the tombstone stays readable.
pub async fn tombstoned_ids_are_never_reused(store: Arc<dyn IdentityStore>) {
    let (registry, _) = registry_at_start(store);
    let new = sample_identity("conf-tomb-a");
    let record = registry
        .provision(new.clone())
        .await
        .expect("provision must succeed");

    for state in [
        LifecycleState::Disabled,
        LifecycleState::Deprovisioned,
        LifecycleState::Archived,
        LifecycleState::Tombstoned,
    ] {
        registry
            .transition(&record.id, state)
            .await
            .expect("decommission step must succeed");
    }

    match registry.provision(new.clone()).await {
        Err(RegistryError::IdReused { id }) => assert_eq!(id, record.id),
        other => panic!("provisioning a tombstoned id must be IdReused, got {other:?}"),
    }
    match registry.import(new).await {
        Err(RegistryError::IdReused { .. }) => {}
        other => panic!("importing a tombstoned id must be IdReused, got {other:?}"),
    }
    let tomb = registry
        .get(&record.id)
        .await
        .expect("a tombstone must stay in the store");
    assert_eq!(tomb.state, LifecycleState::Tombstoned);
    assert!(tomb.scopes.is_empty() && tomb.allowed_systems.is_empty());
}

/// Every legal transition succeeds and is stored; every other pair is IllegalTransition
/// and changes nothing.
pub async fn lifecycle_transitions(store: Arc<dyn IdentityStore>) {
    let (registry, clock) = registry_at_start(store);
    clock.advance(Duration::from_secs(60));

    for from in LifecycleState::ALL {
        for to in LifecycleState::ALL {
            let text = format!("conf-move-{from}-{to}");
            let record = record_in_state(&text, *from);
            registry.store().insert(&record).await.unwrap();
            let result = registry.transition(&record.id, *to).await;

            if from.can_transition_to(*to) {
                let moved = result.unwrap_or_else(|e| panic!("{from} -> {to} must succeed: {e}"));
                assert_eq!(moved.before, record);
                assert_eq!(moved.after.state, *to);
                assert_eq!(moved.after.state_changed_at, clock.now());
                assert_eq!(moved.after.version, record.version + 1);
                assert_eq!(registry.get(&record.id).await.unwrap(), moved.after);
                if *to == LifecycleState::Disabled {
                    assert_eq!(
                        moved.after.revoked_before,
                        Some(clock.now()),
                        "disabling must set the revocation epoch"
                    );
                }
            } else {
                match result {
                    Err(RegistryError::IllegalTransition { from: f, to: t, .. }) => {
                        assert_eq!((f, t), (*from, *to));
                    }
                    other => panic!("{from} -> {to} must be IllegalTransition, got {other:?}"),
                }
                assert_eq!(
                    registry.get(&record.id).await.unwrap(),
                    record,
                    "a refused move must change nothing"
                );
            }
        }
    }
}

/// A batch of fresh records is stored whole; a batch naming a taken id, or one id
/// twice, is refused with AlreadyExists naming it.
pub async fn batch_inserts(store: Arc<dyn IdentityStore>) {
    let batch: Vec<IdentityRecord> = (0..50)
        .map(|n| record_in_state(&format!("conf-batch-{n:02}"), LifecycleState::Active))
        .collect();
    store
        .insert_many(&batch)
        .await
        .expect("a batch of fresh ids must be stored");
    for record in &batch {
        assert_eq!(
            store.get(&record.id).await.unwrap().as_ref(),
            Some(record),
            "every record of a batch must be stored unchanged"
        );
    }
    store
        .insert_many(&[])
        .await
        .expect("an empty batch must succeed");

    let mut clash = batch[7].clone();
    clash.purpose = Some("Someone else with the same id.".into());
    match store.insert_many(&[clash]).await {
        Err(RegistryError::AlreadyExists { id }) => assert_eq!(id, batch[7].id),
        other => panic!("a batch with a taken id must be AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        store.get(&batch[7].id).await.unwrap().as_ref(),
        Some(&batch[7])
    );

    let twice = record_in_state("conf-batch-twice", LifecycleState::Active);
    match store.insert_many(&[twice.clone(), twice.clone()]).await {
        Err(RegistryError::AlreadyExists { id }) => assert_eq!(id, twice.id),
        other => panic!("a batch naming one id twice must be AlreadyExists, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_conforms() {
        super::run_all(std::sync::Arc::new(MemoryStore::new())).await;
    }
}

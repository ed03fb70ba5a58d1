//! [`CachedStore`]: a read cache in front of any store, kept current by change notices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use nhi_core::IdentityId;

use crate::change::Change;
use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::store::{IdentityStore, Page};

/// An [`IdentityStore`] that answers [`IdentityStore::get`] from memory and everything
/// else from the store it wraps.
///
/// A node that shares a store with others sees their writes only through
/// [`CachedStore::apply`]: feed it every [`Change`] the shared store announces (for
/// PostgreSQL, `nhi_registry_postgres::keep_fresh` does it). A cached copy is then
/// stale for at most the time a notice takes to arrive. Without a feed, leave caching
/// off ([`CachedStore::set_caching`]); a cache that lost its feed must be turned off
/// or cleared, never trusted.
///
/// Writes go through to the store; a write that loses a version race evicts the copy,
/// so the retry reads the store. Listing always reads the store.
pub struct CachedStore {
    inner: Arc<dyn IdentityStore>,
    slots: DashMap<IdentityId, Slot>,
    // Bumped by every clear, so a read that raced one does not cache its result.
    generation: AtomicU64,
    caching: AtomicBool,
}

/// What the cache knows about one identity.
enum Slot {
    /// A copy believed current.
    Known(Box<IdentityRecord>),
    /// A change to this version (or a lost write) was announced: copies older than it
    /// are stale and must not be cached.
    Stale {
        /// The lowest version worth caching.
        at_least: u64,
    },
}

impl CachedStore {
    /// A cache in front of `inner`, with caching on.
    pub fn new(inner: Arc<dyn IdentityStore>) -> Self {
        Self {
            inner,
            slots: DashMap::new(),
            generation: AtomicU64::new(0),
            caching: AtomicBool::new(true),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn IdentityStore> {
        &self.inner
    }

    /// Takes a change made anywhere into account: a cached copy older than it is
    /// dropped, and a read still in flight that returns an older copy is not cached.
    pub fn apply(&self, change: &Change) {
        match self.slots.entry(change.id.clone()) {
            Entry::Occupied(mut slot) => {
                let at_least = match slot.get() {
                    Slot::Known(record) if !change.supersedes_version(record.version) => return,
                    Slot::Known(_) => change.version,
                    Slot::Stale { at_least } => change.version.max(*at_least),
                };
                slot.insert(Slot::Stale { at_least });
            }
            Entry::Vacant(slot) => {
                slot.insert(Slot::Stale {
                    at_least: change.version,
                });
            }
        }
    }

    /// Drops everything cached, for when notices may have been missed.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.slots.clear();
    }

    /// Turns caching on or off; turning it off drops everything cached, and reads go
    /// to the store until it is turned on again.
    pub fn set_caching(&self, on: bool) {
        self.caching.store(on, Ordering::Release);
        if !on {
            self.clear();
        }
    }

    /// Whether reads are served from memory.
    pub fn is_caching(&self) -> bool {
        self.caching.load(Ordering::Acquire)
    }

    /// How many records are cached as current.
    pub fn cached_len(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot.value(), Slot::Known(_)))
            .count()
    }

    /// Caches `record` as read while the generation was `seen`, unless the cache was
    /// cleared since, a newer copy is cached, or a newer version was announced.
    fn remember(&self, record: &IdentityRecord, seen: u64) {
        if !self.is_caching() {
            return;
        }
        // Checked under the entry's lock, which `apply` also takes.
        match self.slots.entry(record.id.clone()) {
            Entry::Occupied(mut slot) => {
                let newer = match slot.get() {
                    Slot::Known(cached) => cached.version < record.version,
                    Slot::Stale { at_least } => record.version >= *at_least,
                };
                if newer {
                    slot.insert(Slot::Known(Box::new(record.clone())));
                }
            }
            Entry::Vacant(slot) => {
                if self.generation.load(Ordering::Acquire) == seen {
                    slot.insert(Slot::Known(Box::new(record.clone())));
                }
            }
        }
    }

    /// After a failed write the cached copy is not to be trusted: only a newer one is.
    fn distrust(&self, id: &IdentityId) {
        if let Some(mut slot) = self.slots.get_mut(id)
            && let Slot::Known(record) = slot.value()
        {
            let at_least = record.version.saturating_add(1);
            *slot = Slot::Stale { at_least };
        }
    }
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("slots", &self.slots.len())
            .field("caching", &self.is_caching())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl IdentityStore for CachedStore {
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        self.inner.insert(record).await
    }

    async fn insert_many(&self, records: &[IdentityRecord]) -> Result<(), RegistryError> {
        self.inner.insert_many(records).await
    }

    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError> {
        if self.is_caching()
            && let Some(slot) = self.slots.get(id)
            && let Slot::Known(record) = slot.value()
        {
            return Ok(Some(IdentityRecord::clone(record)));
        }
        let seen = self.generation.load(Ordering::Acquire);
        let read = self.inner.get(id).await?;
        if let Some(record) = &read {
            self.remember(record, seen);
        }
        Ok(read)
    }

    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError> {
        let seen = self.generation.load(Ordering::Acquire);
        match self.inner.update(record).await {
            Ok(stored) => {
                self.remember(&stored, seen);
                Ok(stored)
            }
            Err(err) => {
                self.distrust(&record.id);
                Err(err)
            }
        }
    }

    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError> {
        self.inner.list(page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::record_in_state;
    use crate::{LifecycleState, MemoryStore};

    #[tokio::test]
    async fn a_change_made_elsewhere_evicts_the_stale_copy() {
        let shared = Arc::new(MemoryStore::new());
        let cache = CachedStore::new(shared.clone());
        let record = record_in_state("cache-a", LifecycleState::Active);
        shared.insert(&record).await.unwrap();
        assert_eq!(cache.get(&record.id).await.unwrap(), Some(record.clone()));

        // Another node suspends it, writing straight to the shared store.
        let mut suspended = record.clone();
        suspended.state = LifecycleState::Suspended;
        let stored = shared.update(&suspended).await.unwrap();
        let still = cache.get(&record.id).await.unwrap().unwrap();
        assert_eq!(still.state, LifecycleState::Active, "no notice yet");

        cache.apply(&Change::of(&stored));
        let fresh = cache.get(&record.id).await.unwrap().unwrap();
        assert_eq!(fresh.state, LifecycleState::Suspended);
    }

    #[tokio::test]
    async fn a_read_older_than_an_announced_change_is_not_cached() {
        let shared = Arc::new(MemoryStore::new());
        let cache = CachedStore::new(shared.clone());
        let record = record_in_state("cache-e", LifecycleState::Active);
        shared.insert(&record).await.unwrap();

        // The notice of version 2 arrives before this node's read of version 1 lands.
        let mut ahead = Change::of(&record);
        ahead.version = 2;
        cache.apply(&ahead);
        assert_eq!(cache.get(&record.id).await.unwrap().unwrap().version, 1);
        assert_eq!(cache.cached_len(), 0, "version 1 is known to be stale");

        shared.update(&record).await.unwrap();
        assert_eq!(cache.get(&record.id).await.unwrap().unwrap().version, 2);
        assert_eq!(cache.cached_len(), 1);
    }

    #[tokio::test]
    async fn an_old_notice_keeps_a_newer_copy() {
        let shared = Arc::new(MemoryStore::new());
        let cache = CachedStore::new(shared.clone());
        let record = record_in_state("cache-b", LifecycleState::Active);
        shared.insert(&record).await.unwrap();
        let stored = cache.update(&record).await.unwrap();
        cache.apply(&Change::of(&record));
        assert_eq!(cache.cached_len(), 1);
        assert_eq!(cache.get(&record.id).await.unwrap(), Some(stored));
    }

    #[tokio::test]
    async fn a_lost_race_evicts_so_the_retry_reads_the_store() {
        let shared = Arc::new(MemoryStore::new());
        let cache = CachedStore::new(shared.clone());
        let record = record_in_state("cache-c", LifecycleState::Active);
        shared.insert(&record).await.unwrap();
        cache.get(&record.id).await.unwrap();
        shared.update(&record).await.unwrap(); // behind the cache's back

        let err = cache.update(&record).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::VersionConflict { .. }),
            "{err}"
        );
        assert_eq!(cache.get(&record.id).await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn with_caching_off_every_read_goes_to_the_store() {
        let shared = Arc::new(MemoryStore::new());
        let cache = CachedStore::new(shared.clone());
        let record = record_in_state("cache-d", LifecycleState::Active);
        shared.insert(&record).await.unwrap();
        cache.get(&record.id).await.unwrap();
        cache.set_caching(false);
        assert_eq!(cache.cached_len(), 0);
        shared.update(&record).await.unwrap();
        assert_eq!(cache.get(&record.id).await.unwrap().unwrap().version, 2);
        assert_eq!(cache.cached_len(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cached_store_conforms() {
        let cache = CachedStore::new(Arc::new(MemoryStore::new()));
        crate::conformance::run_all(Arc::new(cache)).await;
    }
}

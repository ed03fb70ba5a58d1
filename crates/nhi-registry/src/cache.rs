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
    records: DashMap<IdentityId, IdentityRecord>,
    // Bumped by every invalidation, so a read that raced one does not cache its result.
    generation: AtomicU64,
    caching: AtomicBool,
}

impl CachedStore {
    /// A cache in front of `inner`, with caching on.
    pub fn new(inner: Arc<dyn IdentityStore>) -> Self {
        Self {
            inner,
            records: DashMap::new(),
            generation: AtomicU64::new(0),
            caching: AtomicBool::new(true),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<dyn IdentityStore> {
        &self.inner
    }

    /// Takes a change made anywhere into account: a cached copy older than it is dropped.
    pub fn apply(&self, change: &Change) {
        if let Entry::Occupied(cached) = self.records.entry(change.id.clone()) {
            self.generation.fetch_add(1, Ordering::AcqRel);
            if change.supersedes_version(cached.get().version) {
                cached.remove();
            }
        } else {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Drops every cached copy, for when notices may have been missed.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.records.clear();
    }

    /// Turns caching on or off; turning it off drops every cached copy, and reads go
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

    /// How many records are cached.
    pub fn cached_len(&self) -> usize {
        self.records.len()
    }

    /// Caches `record` as read while the generation was `seen`, unless an invalidation
    /// happened since or a newer copy is already cached.
    fn remember(&self, record: &IdentityRecord, seen: u64) {
        if !self.is_caching() {
            return;
        }
        match self.records.entry(record.id.clone()) {
            Entry::Occupied(mut cached) => {
                if cached.get().version < record.version {
                    cached.insert(record.clone());
                }
            }
            Entry::Vacant(slot) => {
                // Checked under the entry's lock, which `apply` also takes.
                if self.generation.load(Ordering::Acquire) == seen {
                    slot.insert(record.clone());
                }
            }
        }
    }
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("cached", &self.records.len())
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
            && let Some(cached) = self.records.get(id)
        {
            return Ok(Some(cached.value().clone()));
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
                // Whatever went wrong, the cached copy is no longer to be trusted.
                self.generation.fetch_add(1, Ordering::AcqRel);
                self.records.remove(&record.id);
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

//! An identity store held in memory, for tests, examples and single-process hosts.

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use nhi_core::IdentityId;

use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::store::{IdentityStore, Page, next_version};

/// An [`IdentityStore`] in a sharded concurrent map; everything is lost when it is dropped.
///
/// Reads and writes of different identities do not contend. Listing walks the whole map
/// and sorts, so a full listing costs O(n log n) per page; use a database-backed store
/// for large estates.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: DashMap<IdentityId, IdentityRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records the store holds, tombstones included.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[async_trait::async_trait]
impl IdentityStore for MemoryStore {
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        match self.records.entry(record.id.clone()) {
            Entry::Occupied(_) => Err(RegistryError::AlreadyExists {
                id: record.id.clone(),
            }),
            Entry::Vacant(slot) => {
                slot.insert(record.clone());
                Ok(())
            }
        }
    }

    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError> {
        Ok(self.records.get(id).map(|entry| entry.value().clone()))
    }

    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError> {
        let Some(mut stored) = self.records.get_mut(&record.id) else {
            return Err(RegistryError::NotFound {
                id: record.id.clone(),
            });
        };
        if stored.version != record.version {
            return Err(RegistryError::VersionConflict {
                id: record.id.clone(),
                expected: record.version,
                found: stored.version,
            });
        }

        // The shard lock is held from the version check to the write, so the
        // compare-and-swap is atomic.
        let mut next = record.clone();
        next.version = next_version(record)?;
        *stored = next.clone();
        Ok(next)
    }

    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError> {
        let mut ids: Vec<IdentityId> = self
            .records
            .iter()
            .map(|entry| entry.key().clone())
            .filter(|id| page.admits(id))
            .collect();
        ids.sort_unstable();
        ids.truncate(page.limit);

        // A record deleted between the two passes cannot happen (records are never
        // removed), but skipping a missing one keeps this total.
        Ok(ids
            .iter()
            .filter_map(|id| self.records.get(id).map(|entry| entry.value().clone()))
            .collect())
    }
}

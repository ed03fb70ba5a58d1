//! An identity store held in memory, for tests, examples and single-process hosts.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use nhi_core::IdentityId;

use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::store::{IdentityStore, Page, next_version};

/// An [`IdentityStore`] in a sharded concurrent map; everything is lost when it is dropped.
///
/// Reads and updates of different identities do not contend. An ordered index of the
/// ids, behind one lock, serves listing (a page costs O(log n + page)); inserts take
/// that lock briefly.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: DashMap<IdentityId, IdentityRecord>,
    // Ids only ever join: records are never removed.
    order: RwLock<BTreeSet<IdentityId>>,
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
                // Indexed while the entry is held, so a listing never misses a record
                // that a get already sees for long.
                self.order
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(record.id.clone());
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

    /// Walks the map in place: no record is copied.
    async fn scan(
        &self,
        visit: &mut (dyn for<'r> FnMut(&'r IdentityRecord) + Send),
    ) -> Result<(), RegistryError> {
        self.records.iter().for_each(|entry| visit(entry.value()));
        Ok(())
    }

    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError> {
        let ids: Vec<IdentityId> = {
            let order = self.order.read().unwrap_or_else(PoisonError::into_inner);
            let after = match &page.after {
                Some(after) => Bound::Excluded(after),
                None => Bound::Unbounded,
            };
            order
                .range::<IdentityId, _>((after, Bound::Unbounded))
                .take(page.limit)
                .cloned()
                .collect()
        };

        // An id is indexed just before its record lands; skipping one caught in between
        // keeps this total.
        Ok(ids
            .iter()
            .filter_map(|id| self.records.get(id).map(|entry| entry.value().clone()))
            .collect())
    }
}

//! The storage seam: the [`IdentityStore`] trait every backend implements.

use nhi_core::IdentityId;

use crate::error::RegistryError;
use crate::record::IdentityRecord;

/// How many records the default [`IdentityStore::scan`] reads at a time.
const SCAN_PAGE: usize = 1_024;

/// One page of a listing: records with ids strictly after `after`, in ascending id order,
/// at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// List ids strictly greater than this one; `None` starts at the beginning.
    pub after: Option<IdentityId>,
    /// The most records to return; `0` returns none.
    pub limit: usize,
}

impl Page {
    /// The first page of `limit` records.
    pub fn first(limit: usize) -> Self {
        Self { after: None, limit }
    }

    /// Whether `id` falls after this page's cursor.
    pub fn admits(&self, id: &IdentityId) -> bool {
        self.after.as_ref().is_none_or(|after| id > after)
    }
}

/// Where identity records live.
///
/// Every store keeps records forever, tombstones included, so that an id is never
/// handed out twice. Writes use optimistic concurrency: a record carries the version it
/// was read at, and [`IdentityStore::update`] refuses it if the stored version moved on.
/// Every implementation should pass the `conformance` suite of this crate.
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a new record as given.
    ///
    /// # Errors
    ///
    /// [`RegistryError::AlreadyExists`] when the id is taken (tombstoned ids included);
    /// a backend error when the store fails.
    async fn insert(&self, record: &IdentityRecord) -> Result<(), RegistryError>;

    /// Stores several new records, for bulk provisioning and imports.
    ///
    /// The default inserts them one by one and stops at the first error, leaving the
    /// records before it stored. Stores that can write a batch atomically override it
    /// and store all of them or none.
    ///
    /// # Errors
    ///
    /// [`RegistryError::AlreadyExists`] naming a taken id (one in the batch twice
    /// included); a backend error when the store fails.
    async fn insert_many(&self, records: &[IdentityRecord]) -> Result<(), RegistryError> {
        for record in records {
            self.insert(record).await?;
        }
        Ok(())
    }

    /// The record with this id, if any.
    ///
    /// # Errors
    ///
    /// A backend or corruption error when the store fails.
    async fn get(&self, id: &IdentityId) -> Result<Option<IdentityRecord>, RegistryError>;

    /// Replaces the record if the stored version equals `record.version`; stores and
    /// returns it with the version bumped by one.
    ///
    /// # Errors
    ///
    /// [`RegistryError::VersionConflict`] when the stored version differs,
    /// [`RegistryError::NotFound`] when there is no such record,
    /// [`RegistryError::VersionExhausted`] when the version cannot grow, and a backend
    /// error when the store fails.
    async fn update(&self, record: &IdentityRecord) -> Result<IdentityRecord, RegistryError>;

    /// Shows every record to `visit`, in no particular order, for whole-estate walks
    /// such as reconciliation.
    ///
    /// The default reads [`IdentityStore::list`] page by page; a store that can walk
    /// its records without copying them overrides it. `visit` must not call back into
    /// the store. A record written during the walk may be seen before or after the
    /// write, or (in a page-by-page walk) not at all if it is new.
    ///
    /// # Errors
    ///
    /// A backend or corruption error when the store fails.
    async fn scan(
        &self,
        visit: &mut (dyn for<'r> FnMut(&'r IdentityRecord) + Send),
    ) -> Result<(), RegistryError> {
        let mut page = Page::first(SCAN_PAGE);
        loop {
            let batch = self.list(&page).await?;
            batch.iter().for_each(&mut *visit);
            match batch.last() {
                Some(last) if batch.len() >= page.limit && page.admits(&last.id) => {
                    page.after = Some(last.id.clone());
                }
                _ => return Ok(()),
            }
        }
    }

    /// One page of records in ascending id order.
    ///
    /// # Errors
    ///
    /// A backend or corruption error when the store fails.
    async fn list(&self, page: &Page) -> Result<Vec<IdentityRecord>, RegistryError>;
}

/// The version an update of `record` stores: one more than the version it was read at.
///
/// # Errors
///
/// [`RegistryError::VersionExhausted`] when the counter is at its maximum.
pub fn next_version(record: &IdentityRecord) -> Result<u64, RegistryError> {
    record
        .version
        .checked_add(1)
        .ok_or_else(|| RegistryError::VersionExhausted {
            id: record.id.clone(),
        })
}

//! Where issued keys are remembered: the [`ApiKeyStore`] trait and an in-memory store.

use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;
use nhi_core::{CredentialId, Environment, IdentityId, TenantId, Timestamp};

use crate::error::CredentialError;
use crate::rotation::{GenerationCheck, GenerationCounter};

/// What is remembered about an issued key: never the key itself, only its keyed hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The public key id (also the credential id).
    pub key_id: CredentialId,
    /// HMAC-SHA256 of the whole key under the deployment key.
    pub secret_hash: Vec<u8>,
    /// The identity the key proves.
    pub identity: IdentityId,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// The environment it is bound to.
    pub environment: Environment,
    /// The scopes it grants (for an OAuth client: the most it may ask for).
    pub scopes: Vec<String>,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The key id of the first key of its renewal chain.
    pub lineage: CredentialId,
    /// Its place in the renewal chain: 0 for the first key, one more per renewal.
    pub generation: u64,
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("key_id", &self.key_id)
            .field("identity", &self.identity)
            .field("tenant", &self.tenant)
            .field("environment", &self.environment)
            .field("scopes", &self.scopes)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("lineage", &self.lineage)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Stores key records by key id, and the newest generation seen in use per chain.
///
/// Implementations must make [`ApiKeyStore::observe_generation`] atomic per chain: two
/// concurrent uses must not both see themselves as the newest.
#[async_trait::async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new record.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] when the key id is taken;
    /// [`CredentialError::Backend`] when the store fails.
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), CredentialError>;

    /// The record of `key_id`, if any.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when the store fails.
    async fn find(&self, key_id: &str) -> Result<Option<Arc<ApiKeyRecord>>, CredentialError>;

    /// Notes that generation `generation` of chain `lineage` was used, and says whether
    /// a newer one had been used before.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when the store fails.
    async fn observe_generation(
        &self,
        lineage: &CredentialId,
        generation: u64,
    ) -> Result<GenerationCheck, CredentialError>;

    /// [`ApiKeyStore::find`] answered at once, for stores that never wait (held in
    /// memory); `None` means the store must be asked through [`ApiKeyStore::find`].
    ///
    /// The default answers `None`. A store that overrides it must give the same answer
    /// as [`ApiKeyStore::find`] would; checks then skip the cost of an async call.
    fn find_immediate(
        &self,
        key_id: &str,
    ) -> Option<Result<Option<Arc<ApiKeyRecord>>, CredentialError>> {
        let _ = key_id;
        None
    }

    /// [`ApiKeyStore::observe_generation`] answered at once, for stores that never
    /// wait; `None` means the store must be asked through
    /// [`ApiKeyStore::observe_generation`]. The default answers `None`.
    fn observe_generation_immediate(
        &self,
        lineage: &CredentialId,
        generation: u64,
    ) -> Option<Result<GenerationCheck, CredentialError>> {
        let _ = (lineage, generation);
        None
    }
}

/// An [`ApiKeyStore`] in this process's memory (lost on restart).
#[derive(Debug, Default)]
pub struct MemoryApiKeyStore {
    records: DashMap<String, Arc<ApiKeyRecord>, foldhash::fast::RandomState>,
    generations: GenerationCounter,
}

impl MemoryApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[async_trait::async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), CredentialError> {
        match self.records.entry(record.key_id.to_string()) {
            dashmap::Entry::Occupied(_) => Err(CredentialError::InvalidRequest {
                reason: format!("key id `{}` is already taken", record.key_id),
            }),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Arc::new(record));
                Ok(())
            }
        }
    }

    async fn find(&self, key_id: &str) -> Result<Option<Arc<ApiKeyRecord>>, CredentialError> {
        Ok(self
            .records
            .get(key_id)
            .map(|entry| Arc::clone(entry.value())))
    }

    async fn observe_generation(
        &self,
        lineage: &CredentialId,
        generation: u64,
    ) -> Result<GenerationCheck, CredentialError> {
        Ok(self.generations.observe(lineage, generation))
    }

    fn find_immediate(
        &self,
        key_id: &str,
    ) -> Option<Result<Option<Arc<ApiKeyRecord>>, CredentialError>> {
        let record = self
            .records
            .get(key_id)
            .map(|entry| Arc::clone(entry.value()));
        Some(Ok(record))
    }

    fn observe_generation_immediate(
        &self,
        lineage: &CredentialId,
        generation: u64,
    ) -> Option<Result<GenerationCheck, CredentialError>> {
        Some(Ok(self.generations.observe(lineage, generation)))
    }
}

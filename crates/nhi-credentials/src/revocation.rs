//! Revoked credential ids: the [`RevocationList`] trait and an in-memory list.

use dashmap::DashMap;
use nhi_core::{CredentialId, Timestamp};

use crate::error::CredentialError;

/// Revoked credential ids (a token's `jti`), each with when the revocation takes effect
/// and how long to remember it: until the credential would have expired anyway.
#[async_trait::async_trait]
pub trait RevocationList: Send + Sync {
    /// Revokes `id` from `effective_at` on, remembering it until `remember_until`.
    ///
    /// Revoking an id twice keeps the earlier effective time and the later memory limit.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when the store fails.
    async fn revoke(
        &self,
        id: &CredentialId,
        effective_at: Timestamp,
        remember_until: Timestamp,
    ) -> Result<(), CredentialError>;

    /// Whether `id` counts as revoked at `at` (true when `at >= effective_at`).
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when the store fails; callers fail closed.
    async fn is_revoked(&self, id: &CredentialId, at: Timestamp) -> Result<bool, CredentialError>;

    /// Forgets entries whose `remember_until` is at or before `now`; returns how many.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when the store fails.
    async fn purge(&self, now: Timestamp) -> Result<usize, CredentialError>;

    /// [`RevocationList::is_revoked`] answered at once, for lists that never wait (held
    /// in memory); `None` means the list must be asked through
    /// [`RevocationList::is_revoked`].
    ///
    /// The default answers `None`. A list that overrides it must give the same answer
    /// as [`RevocationList::is_revoked`] would; checks then skip the cost of an async
    /// call.
    fn is_revoked_immediate(
        &self,
        id: &CredentialId,
        at: Timestamp,
    ) -> Option<Result<bool, CredentialError>> {
        let _ = (id, at);
        None
    }
}

/// Whether `id` is revoked at `at`, asking `list` without an async call when it can
/// answer at once.
pub(crate) async fn is_revoked(
    list: &dyn RevocationList,
    id: &CredentialId,
    at: Timestamp,
) -> Result<bool, CredentialError> {
    match list.is_revoked_immediate(id, at) {
        Some(answer) => answer,
        None => list.is_revoked(id, at).await,
    }
}

/// When a revocation starts and until when it is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    effective_at: Timestamp,
    remember_until: Timestamp,
}

/// A [`RevocationList`] held in this process's memory (lost on restart).
#[derive(Debug, Default)]
pub struct MemoryRevocationList {
    entries: DashMap<CredentialId, Entry, foldhash::fast::RandomState>,
}

impl MemoryRevocationList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many revocations are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no revocation is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[async_trait::async_trait]
impl RevocationList for MemoryRevocationList {
    async fn revoke(
        &self,
        id: &CredentialId,
        effective_at: Timestamp,
        remember_until: Timestamp,
    ) -> Result<(), CredentialError> {
        let new = Entry {
            effective_at,
            remember_until,
        };
        self.entries
            .entry(id.clone())
            .and_modify(|old| {
                old.effective_at = old.effective_at.min(effective_at);
                old.remember_until = old.remember_until.max(remember_until);
            })
            .or_insert(new);
        Ok(())
    }

    async fn is_revoked(&self, id: &CredentialId, at: Timestamp) -> Result<bool, CredentialError> {
        Ok(self.revoked_at(id, at))
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, CredentialError> {
        let before = self.entries.len();
        self.entries.retain(|_, entry| entry.remember_until > now);
        Ok(before.saturating_sub(self.entries.len()))
    }

    fn is_revoked_immediate(
        &self,
        id: &CredentialId,
        at: Timestamp,
    ) -> Option<Result<bool, CredentialError>> {
        Some(Ok(self.revoked_at(id, at)))
    }
}

impl MemoryRevocationList {
    /// Whether `id` counts as revoked at `at`.
    fn revoked_at(&self, id: &CredentialId, at: Timestamp) -> bool {
        self.entries
            .get(id)
            .is_some_and(|entry| at >= entry.effective_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> CredentialId {
        CredentialId::new(text).unwrap()
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    #[tokio::test]
    async fn revocation_takes_effect_at_its_time() {
        let list = MemoryRevocationList::new();
        list.revoke(&id("a"), at(100), at(500)).await.unwrap();

        assert!(!list.is_revoked(&id("a"), at(99)).await.unwrap());
        assert!(list.is_revoked(&id("a"), at(100)).await.unwrap());
        assert!(!list.is_revoked(&id("b"), at(100)).await.unwrap());
    }

    #[tokio::test]
    async fn revoking_twice_keeps_the_stricter_entry() {
        let list = MemoryRevocationList::new();
        list.revoke(&id("a"), at(100), at(500)).await.unwrap();
        list.revoke(&id("a"), at(200), at(900)).await.unwrap();
        list.revoke(&id("a"), at(50), at(300)).await.unwrap();

        assert!(list.is_revoked(&id("a"), at(50)).await.unwrap());
        assert_eq!(list.purge(at(600)).await.unwrap(), 0);
        assert_eq!(list.purge(at(900)).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn purge_forgets_only_what_has_lapsed() {
        let list = MemoryRevocationList::new();
        for n in 0..100 {
            list.revoke(&id(&format!("c{n}")), at(0), at(n))
                .await
                .unwrap();
        }
        assert_eq!(list.purge(at(50)).await.unwrap(), 51);
        assert_eq!(list.len(), 49);
        assert!(list.is_revoked(&id("c99"), at(60)).await.unwrap());
        assert!(!list.is_revoked(&id("c10"), at(60)).await.unwrap());
    }
}

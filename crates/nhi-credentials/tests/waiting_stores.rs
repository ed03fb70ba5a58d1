//! Stores that must be asked through their async calls (a database, a remote cache):
//! checks give the same answers as with the in-memory stores, which answer at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nhi_core::{Clock, CredentialId, Environment, IdentityId, ManualClock, TenantId, Timestamp};
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, ApiKeyRecord, ApiKeyStore, CredentialError, CredentialProvider,
    GenerationCheck, IssueRequest, MemoryApiKeyStore, MemoryRevocationList, RevocationList,
    SecretHasher,
};

/// Wraps the in-memory stores but keeps the default `*_immediate` answers (`None`), and
/// counts the async calls it receives.
#[derive(Default)]
struct Waiting {
    keys: MemoryApiKeyStore,
    revocations: MemoryRevocationList,
    async_calls: AtomicUsize,
}

#[async_trait::async_trait]
impl ApiKeyStore for Waiting {
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), CredentialError> {
        self.keys.insert(record).await
    }

    async fn find(&self, key_id: &str) -> Result<Option<Arc<ApiKeyRecord>>, CredentialError> {
        self.async_calls.fetch_add(1, Ordering::Relaxed);
        self.keys.find(key_id).await
    }

    async fn observe_generation(
        &self,
        lineage: &CredentialId,
        generation: u64,
    ) -> Result<GenerationCheck, CredentialError> {
        self.async_calls.fetch_add(1, Ordering::Relaxed);
        self.keys.observe_generation(lineage, generation).await
    }
}

#[async_trait::async_trait]
impl RevocationList for Waiting {
    async fn revoke(
        &self,
        id: &CredentialId,
        effective_at: Timestamp,
        remember_until: Timestamp,
    ) -> Result<(), CredentialError> {
        self.revocations
            .revoke(id, effective_at, remember_until)
            .await
    }

    async fn is_revoked(&self, id: &CredentialId, at: Timestamp) -> Result<bool, CredentialError> {
        self.async_calls.fetch_add(1, Ordering::Relaxed);
        self.revocations.is_revoked(id, at).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, CredentialError> {
        self.revocations.purge(now).await
    }
}

fn request() -> IssueRequest {
    IssueRequest::new(
        IdentityId::new("billing-sync").unwrap(),
        TenantId::new("acme").unwrap(),
        Environment::new("production").unwrap(),
    )
    .with_scopes(["invoices.read"])
}

#[tokio::test]
async fn api_key_checks_fall_back_to_the_async_calls() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600)));
    let waiting = Arc::new(Waiting::default());
    let provider = ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::new(&[42; 32]).unwrap(),
        waiting.clone(),
        waiting.clone(),
        clock.clone(),
    )
    .unwrap();

    // A good key: lookup, revocation and renewal chain, each asked once.
    let first = provider.issue(&request()).await.unwrap();
    provider.verify(&first.secret).await.unwrap();
    assert_eq!(waiting.async_calls.load(Ordering::Relaxed), 3);

    // Renewal and reuse detection work the same way.
    let second = provider.renew(&first.secret).await.unwrap();
    provider.verify(&second.secret).await.unwrap();
    let err = provider.verify(&first.secret).await.unwrap_err();
    assert!(
        matches!(err, CredentialError::ReuseDetected { .. }),
        "{err:?}"
    );

    // So does revocation.
    RevocationList::revoke(
        waiting.as_ref(),
        &second.credential_id,
        clock.now(),
        second.expires_at,
    )
    .await
    .unwrap();
    let err = provider.verify(&second.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Revoked { .. }), "{err:?}");
}

#[tokio::test]
async fn the_memory_stores_answer_at_once_as_their_async_calls_do() {
    let store = MemoryApiKeyStore::new();
    let list = MemoryRevocationList::new();
    let id = CredentialId::new("k1").unwrap();
    let at = Timestamp::from_unix_secs(100);

    assert!(matches!(store.find_immediate("k1"), Some(Ok(None))));
    assert!(matches!(
        store.observe_generation_immediate(&id, 2),
        Some(Ok(GenerationCheck::Advanced { previous: 0 }))
    ));
    assert_eq!(
        store.observe_generation(&id, 1).await.unwrap(),
        GenerationCheck::Superseded { latest: 2 }
    );
    assert!(matches!(
        store.observe_generation_immediate(&id, 1),
        Some(Ok(GenerationCheck::Superseded { latest: 2 }))
    ));

    assert!(matches!(
        list.is_revoked_immediate(&id, at),
        Some(Ok(false))
    ));
    list.revoke(&id, at, Timestamp::from_unix_secs(200))
        .await
        .unwrap();
    assert!(matches!(list.is_revoked_immediate(&id, at), Some(Ok(true))));
    assert!(list.is_revoked(&id, at).await.unwrap());
}

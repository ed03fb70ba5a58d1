//! Revocation as seen by the JWT provider.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use nhi_core::{Clock, CredentialId, Timestamp};
use nhi_credentials::{
    CredentialError, CredentialProvider, JwtConfig, JwtProvider, KeyRing, RevocationList,
};

#[tokio::test]
async fn a_revoked_jti_is_reported_as_revoked() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let other = f.provider.issue(&request()).await.unwrap();

    f.revocations
        .revoke(&issued.credential_id, f.clock.now(), issued.expires_at)
        .await
        .unwrap();

    let err = f.provider.verify(&issued.secret).await.unwrap_err();
    assert!(err.is_rejection());
    match err {
        CredentialError::Revoked { credential_id } => {
            assert_eq!(credential_id, issued.credential_id);
        }
        other => panic!("expected Revoked, got {other:?}"),
    }
    f.provider.verify(&other.secret).await.unwrap();
}

#[tokio::test]
async fn a_revocation_in_the_future_does_not_revoke_yet() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let effective = f.clock.now().saturating_add(secs(60));
    f.revocations
        .revoke(&issued.credential_id, effective, issued.expires_at)
        .await
        .unwrap();

    f.provider.verify(&issued.secret).await.unwrap();
    f.clock.advance(secs(59));
    f.provider.verify(&issued.secret).await.unwrap();
    f.clock.advance(secs(1));
    let err = f.provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Revoked { .. }));
}

#[tokio::test]
async fn purge_forgets_revocations_of_expired_tokens() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    f.revocations
        .revoke(&issued.credential_id, f.clock.now(), issued.expires_at)
        .await
        .unwrap();

    assert_eq!(f.revocations.purge(f.clock.now()).await.unwrap(), 0);
    f.clock.set(issued.expires_at);
    assert_eq!(f.revocations.purge(f.clock.now()).await.unwrap(), 1);
    assert!(f.revocations.is_empty());
}

/// A revocation store that is down.
struct BrokenList;

#[async_trait::async_trait]
impl RevocationList for BrokenList {
    async fn revoke(
        &self,
        _: &CredentialId,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<(), CredentialError> {
        Err(broken())
    }
    async fn is_revoked(&self, _: &CredentialId, _: Timestamp) -> Result<bool, CredentialError> {
        Err(broken())
    }
    async fn purge(&self, _: Timestamp) -> Result<usize, CredentialError> {
        Err(broken())
    }
}

fn broken() -> CredentialError {
    CredentialError::Backend {
        what: "checking a revocation".to_owned(),
        source: Box::new(std::io::Error::other("connection refused")),
    }
}

#[tokio::test]
async fn a_failing_revocation_store_fails_closed() {
    let clock = Arc::new(nhi_core::ManualClock::new(Timestamp::from_unix_secs(START)));
    let provider = JwtProvider::new(
        JwtConfig::new(ISSUER, AUDIENCE),
        Arc::new(KeyRing::generate().unwrap()),
        Arc::new(BrokenList),
        clock,
    )
    .unwrap();
    let issued = provider.issue(&request()).await.unwrap();
    let err = provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Backend { .. }));
    assert!(!err.is_rejection());
    assert!(std::error::Error::source(&err).is_some());
}

//! The mock provider hosts use in their tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use nhi_core::{Clock, CredentialKind, ManualClock, Timestamp};
use nhi_credentials::{
    CredentialError, CredentialProvider, CredentialSecret, MemoryRevocationList, MockProvider,
    RevocationList,
};

fn mock() -> (Arc<ManualClock>, MockProvider) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    (clock.clone(), MockProvider::new(clock))
}

#[tokio::test]
async fn round_trip() {
    let (_, provider) = mock();
    let issued = provider.issue(&request()).await.unwrap();
    assert_eq!(provider.kind(), CredentialKind::Jwt);
    assert_eq!(
        issued.expires_at.duration_since(issued.issued_at),
        secs(300)
    );

    let principal = provider.verify(&issued.secret).await.unwrap();
    assert_eq!(principal.identity.as_str(), "restart-agent");
    assert_eq!(principal.credential_id, issued.credential_id);
    assert_eq!(principal.scopes, ["deployment.restart", "k8s:read"]);
    assert_eq!(principal.tenant.unwrap().as_str(), "acme");
    assert_eq!(provider.issued_count(), 1);
}

#[tokio::test]
async fn expiry_follows_the_clock() {
    let (clock, provider) = mock();
    let issued = provider
        .issue(&request().with_lifetime(secs(60)))
        .await
        .unwrap();
    clock.advance(secs(59));
    provider.verify(&issued.secret).await.unwrap();
    clock.advance(secs(1));
    let err = provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Expired { .. }));

    let capped = provider
        .issue(&request().with_lifetime(secs(86_400)))
        .await
        .unwrap();
    assert_eq!(
        capped.expires_at.duration_since(capped.issued_at),
        secs(3600)
    );
}

#[tokio::test]
async fn revocation_is_honoured() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let list = Arc::new(MemoryRevocationList::new());
    let provider = MockProvider::new(clock.clone())
        .with_revocations(list.clone())
        .with_kind(CredentialKind::ApiKey);
    let issued = provider.issue(&request()).await.unwrap();
    assert_eq!(issued.kind, CredentialKind::ApiKey);

    list.revoke(&issued.credential_id, clock.now(), issued.expires_at)
        .await
        .unwrap();
    let err = provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Revoked { .. }));
}

#[tokio::test]
async fn unknown_and_foreign_tokens_are_refused() {
    let (_, provider) = mock();
    let issued = provider.issue(&request()).await.unwrap();
    // change the last character to a different one, whatever it was
    let mut text = issued.secret.expose_secret().to_owned();
    let last = text.pop();
    text.push(if last == Some('0') { '1' } else { '0' });

    for token in [text.as_str(), "", "nhi_mock_", "eyJ.eyJ.sig"] {
        let err = provider
            .verify(&CredentialSecret::new(token))
            .await
            .unwrap_err();
        assert!(err.is_rejection(), "{token}: {err:?}");
    }
    assert!(format!("{issued:?}").contains("<redacted>"));
    assert!(!format!("{issued:?}").contains(issued.secret.expose_secret()));
}

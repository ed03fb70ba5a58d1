//! API keys: format, offline look-alike refusal, hashed storage, expiry, revocation,
//! renewal and reuse detection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use nhi_core::{Clock, CredentialKind, Environment, IdentityId, ManualClock, TenantId, Timestamp};
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, ApiKeyStore, CredentialError, CredentialProvider,
    CredentialSecret, IssueRequest, MemoryApiKeyStore, MemoryRevocationList, RevocationList,
    SecretHasher,
};

struct Keys {
    clock: Arc<ManualClock>,
    store: Arc<MemoryApiKeyStore>,
    revocations: Arc<MemoryRevocationList>,
    provider: ApiKeyProvider,
}

fn keys() -> Keys {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600)));
    let store = Arc::new(MemoryApiKeyStore::new());
    let revocations = Arc::new(MemoryRevocationList::new());
    let provider = ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::new(&[42; 32]).unwrap(),
        store.clone(),
        revocations.clone(),
        clock.clone(),
    )
    .unwrap();
    Keys {
        clock,
        store,
        revocations,
        provider,
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
async fn issue_and_verify_round_trip() {
    let k = keys();
    let issued = k.provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret();

    // nhik_<12 id>_<22 secret + 6 checksum>
    let parts: Vec<&str> = text.split('_').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "nhik");
    assert_eq!(parts[1], issued.credential_id.as_str());
    assert_eq!(parts[2].len(), 28);
    assert_eq!(issued.kind, CredentialKind::ApiKey);
    assert_eq!(
        issued.expires_at.duration_since(issued.issued_at),
        Duration::from_secs(30 * 24 * 3600)
    );

    let principal = k.provider.verify(&issued.secret).await.unwrap();
    assert_eq!(principal.identity.as_str(), "billing-sync");
    assert_eq!(principal.credential_id, issued.credential_id);
    assert_eq!(principal.kind, CredentialKind::ApiKey);
    assert_eq!(principal.scopes, ["invoices.read"]);
}

#[tokio::test]
async fn only_a_keyed_hash_is_stored_and_nothing_leaks() {
    let k = keys();
    let issued = k.provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret().to_owned();
    let secret_part = &text[text.len() - 28..text.len() - 6];

    let record = k
        .store
        .find(issued.credential_id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.secret_hash.len(), 32);
    assert!(
        !record
            .secret_hash
            .windows(8)
            .any(|w| text.as_bytes().windows(8).any(|t| t == w))
    );
    for shown in [
        format!("{record:?}"),
        format!("{issued:?}"),
        format!("{:?}", k.provider),
    ] {
        assert!(!shown.contains(secret_part), "{shown}");
    }

    // Another deployment key cannot check it.
    let elsewhere = ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::new(&[43; 32]).unwrap(),
        k.store.clone(),
        k.revocations.clone(),
        k.clock.clone(),
    )
    .unwrap();
    let err = elsewhere.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::WrongSecret), "{err:?}");
}

#[tokio::test]
async fn look_alikes_are_refused_without_a_lookup() {
    let k = keys();
    let issued = k.provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret().to_owned();

    // Every single-character change of the secret part fails the checksum.
    let start = text.len() - 28;
    for index in start..text.len() {
        let mut bytes = text.clone().into_bytes();
        bytes[index] = if bytes[index] == b'x' { b'y' } else { b'x' };
        let changed = CredentialSecret::new(String::from_utf8(bytes).unwrap());
        let err = k.provider.verify(&changed).await.unwrap_err();
        assert!(
            matches!(err, CredentialError::BadChecksum),
            "{index}: {err:?}"
        );
        assert!(err.is_rejection());
    }

    // A well-formed key with a correct checksum that we never issued: unknown.
    let stranger = k.provider.issue(&request()).await.unwrap();
    let other_store = keys();
    let err = other_store
        .provider
        .verify(&stranger.secret)
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::UnknownCredential), "{err:?}");
}

#[tokio::test]
async fn malformed_keys_are_refused() {
    let k = keys();
    let issued = k.provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret().to_owned();
    let cases = [
        String::new(),
        "nhik".into(),
        "nhik__".into(),
        text.replacen("nhik", "ghp", 1),
        text.replacen("nhik", "NHIK", 1),
        text[..text.len() - 1].to_owned(),
        format!("{text}0"),
        text.replacen('_', "-", 1),
        format!("Bearer {text}"),
        text.replace(&text[5..7], "é"),
        "x".repeat(10_000),
    ];
    for case in cases {
        let err = k
            .provider
            .verify(&CredentialSecret::new(case.clone()))
            .await
            .unwrap_err();
        assert!(err.is_rejection(), "{case}: {err:?}");
        assert!(!err.to_string().contains(&text[text.len() - 28..]), "{err}");
    }
}

#[tokio::test]
async fn expiry_and_revocation() {
    let k = keys();
    let issued = k
        .provider
        .issue(&request().with_lifetime(Duration::from_secs(3600)))
        .await
        .unwrap();
    k.clock.advance(Duration::from_secs(3599));
    k.provider.verify(&issued.secret).await.unwrap();
    k.clock.advance(Duration::from_secs(1));
    let err = k.provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Expired { .. }), "{err:?}");

    let second = k.provider.issue(&request()).await.unwrap();
    k.revocations
        .revoke(&second.credential_id, k.clock.now(), second.expires_at)
        .await
        .unwrap();
    let err = k.provider.verify(&second.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Revoked { .. }), "{err:?}");

    // A year is capped at the maximum of 90 days.
    let long = k
        .provider
        .issue(&request().with_lifetime(Duration::from_secs(365 * 24 * 3600)))
        .await
        .unwrap();
    assert_eq!(
        long.expires_at.duration_since(long.issued_at),
        Duration::from_secs(90 * 24 * 3600)
    );
}

#[tokio::test]
async fn renewal_overlaps_until_the_successor_is_used_then_reuse_is_detected() {
    let k = keys();
    let first = k.provider.issue(&request()).await.unwrap();
    let second = k.provider.renew(&first.secret).await.unwrap();
    assert_ne!(first.credential_id, second.credential_id);

    // Overlap: the old key still works until the new one has been used.
    k.provider.verify(&first.secret).await.unwrap();
    k.provider.verify(&second.secret).await.unwrap();

    // The copy left behind is now a reuse, told apart from other refusals.
    let err = k.provider.verify(&first.secret).await.unwrap_err();
    let CredentialError::ReuseDetected {
        credential_id,
        identity,
        generation,
        latest,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(credential_id, &first.credential_id);
    assert_eq!(identity.as_str(), "billing-sync");
    assert_eq!((*generation, *latest), (0, 1));
    assert!(err.is_rejection());

    // Renewing from the superseded key is refused the same way.
    let err = k.provider.renew(&first.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::ReuseDetected { .. }));
    k.provider.verify(&second.secret).await.unwrap();
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let k = keys();
    for prefix in ["", "Nhik", "nh_k", "x"] {
        let config = ApiKeyConfig {
            prefix: prefix.into(),
            ..ApiKeyConfig::default()
        };
        let made = ApiKeyProvider::new(
            config,
            SecretHasher::generate().unwrap(),
            k.store.clone(),
            k.revocations.clone(),
            k.clock.clone(),
        );
        assert!(
            matches!(made, Err(CredentialError::InvalidConfig { .. })),
            "{prefix}"
        );
    }
    let err = k
        .provider
        .issue(&request().with_scopes(["a b"]))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::InvalidRequest { .. }));
}

//! A cryptography provider the host installed first is never replaced, and one that
//! cannot verify yields a typed error rather than a panic. Our own keys sign through
//! ring directly, so issuing does not depend on the host's provider.
//!
//! This installs a process-wide default, so it lives in its own test binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use jsonwebtoken::crypto::{CryptoProvider, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, new_error};
use nhi_core::{ManualClock, Timestamp};
use nhi_credentials::{
    CredentialError, CredentialProvider, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
    install_ring_crypto_provider, ring_crypto_provider,
};

static HOST_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(new_error(ErrorKind::Provider("host refuses".to_owned()))),
    verifier_factory: |_, _| Err(new_error(ErrorKind::Provider("host refuses".to_owned()))),
    key_utils: KeyUtils::new_unimplemented(),
};

#[tokio::test]
async fn the_hosts_provider_is_kept() {
    HOST_PROVIDER.install_default().unwrap();

    install_ring_crypto_provider().unwrap();
    install_ring_crypto_provider().unwrap();
    let installed = CryptoProvider::try_get_default().unwrap();
    assert!(std::ptr::eq(installed, &HOST_PROVIDER));
    assert!(!std::ptr::eq(installed, ring_crypto_provider()));

    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let provider = JwtProvider::new(
        JwtConfig::new(ISSUER, AUDIENCE),
        Arc::new(KeyRing::generate().unwrap()),
        Arc::new(MemoryRevocationList::new()),
        clock,
    )
    .unwrap();

    let issued = provider.issue(&request()).await.unwrap();
    let err = provider.verify(&issued.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::Token { .. }), "{err:?}");
    assert!(!err.is_rejection());
}

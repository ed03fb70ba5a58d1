//! With no provider installed, ours is installed once and then used.
//!
//! This installs a process-wide default, so it lives in its own test binary.

#![allow(clippy::unwrap_used)]

use jsonwebtoken::crypto::CryptoProvider;
use nhi_credentials::{install_ring_crypto_provider, ring_crypto_provider};

#[test]
fn ours_is_installed_when_none_is() {
    let before = CryptoProvider::try_get_default();
    install_ring_crypto_provider().unwrap();
    install_ring_crypto_provider().unwrap();
    let after = CryptoProvider::try_get_default().unwrap();
    match before {
        // Built without a jsonwebtoken backend feature: ours fills the gap.
        None => assert!(std::ptr::eq(after, ring_crypto_provider())),
        // A backend was compiled in: it stays.
        Some(existing) => assert!(std::ptr::eq(after, existing)),
    }
}

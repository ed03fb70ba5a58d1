//! Any bytes as an external issuer's JWKS document: parsed or refused, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_credentials::JwkSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = JwkSet::parse(data) {
        assert!(set.len() + set.skipped() <= data.len());
    }
});

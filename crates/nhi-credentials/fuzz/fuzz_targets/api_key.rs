//! Any bytes presented as an API key: refused or accepted, never a panic.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use nhi_core::{ManualClock, Timestamp};
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, CredentialProvider, CredentialSecret, MemoryApiKeyStore,
    MemoryRevocationList, SecretHasher,
};

struct Target {
    runtime: tokio::runtime::Runtime,
    provider: ApiKeyProvider,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let provider = ApiKeyProvider::new(
            ApiKeyConfig::default(),
            SecretHasher::new(&[1; 32]).unwrap(),
            Arc::new(MemoryApiKeyStore::new()),
            Arc::new(MemoryRevocationList::new()),
            Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600))),
        )
        .unwrap();
        Target { runtime, provider }
    })
}

fuzz_target!(|data: &[u8]| {
    let target = target();
    let secret = CredentialSecret::new(String::from_utf8_lossy(data).into_owned());
    let _ = target.runtime.block_on(target.provider.verify(&secret));
});

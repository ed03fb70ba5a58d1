//! Any bytes presented as a token: verification must refuse or accept, never panic.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use nhi_core::{ManualClock, Timestamp};
use nhi_credentials::{
    CredentialProvider, CredentialSecret, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
};

struct Target {
    runtime: tokio::runtime::Runtime,
    provider: JwtProvider,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let provider = JwtProvider::new(
            JwtConfig::new("https://nhi.example", "fuzz"),
            Arc::new(KeyRing::generate().unwrap()),
            Arc::new(MemoryRevocationList::new()),
            Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600))),
        )
        .unwrap();
        Target { runtime, provider }
    })
}

fuzz_target!(|data: &[u8]| {
    let target = target();
    let text = String::from_utf8_lossy(data).into_owned();
    let secret = CredentialSecret::new(text);
    let outcome = target.runtime.block_on(target.provider.verify(&secret));
    if let Err(err) = outcome {
        // Every refusal must render without panicking and stay short.
        assert!(err.to_string().len() < 512);
    }
});

//! Token verification against its anchor: the bare Ed25519 signature check by ring.
//!
//! `nhi_verify` is the whole check (size, header, key lookup, signature, claims,
//! revocation lookup); `ring_ed25519_verify` is only the signature over the same bytes.
//! Their ratio is the price of strictness.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use nhi_core::{ManualClock, SharedClock, Timestamp};
use nhi_credentials::{
    CredentialProvider, IssueRequest, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

fn verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)));
    let keys = Arc::new(KeyRing::generate().unwrap());
    let revocations = Arc::new(MemoryRevocationList::new());
    let config = JwtConfig::new("https://issuer.bench", "bench");
    let provider = JwtProvider::new(config, keys, revocations, clock).unwrap();
    let request = IssueRequest {
        identity: "bench-agent".parse().unwrap(),
        tenant: "acme".parse().unwrap(),
        environment: "production".parse().unwrap(),
        scopes: vec!["k8s:health.read".into()],
        lifetime: None,
        audience: None,
    };
    let token = runtime.block_on(provider.issue(&request)).unwrap();

    // the anchor: one Ed25519 signature check over a message of the same length
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let message = token.secret.expose_secret().as_bytes().to_vec();
    let signature = pair.sign(&message);
    let public = UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref().to_vec());

    let mut group = c.benchmark_group("token_verification");
    group.bench_function("ring_ed25519_verify", |b| {
        b.iter(|| public.verify(&message, signature.as_ref()).unwrap());
    });
    group.bench_function("nhi_verify", |b| {
        b.iter(|| runtime.block_on(provider.verify(&token.secret)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);

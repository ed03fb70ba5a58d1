//! Credentials against their anchors, measured in the same run:
//!
//! - `token_verification_eddsa` / `_es256`: `nhi_verify` is the whole check (size,
//!   header, key lookup, signature, claims, revocation lookup); `ring_*_verify` is only
//!   the signature over the same bytes. Their ratio is the price of strictness.
//! - `api_key_check`: `nhi_authenticate` is the whole check (shape, checksum, store
//!   lookup, constant-time HMAC compare, expiry, revocation, renewal chain) returning the
//!   shared record; `nhi_verify` also builds the owned `Principal`; `ring_hmac_sha256`
//!   is one HMAC-SHA256 of the same key text.
//! - `issue`: tokens and API keys issued per second.
//!
//! The in-memory stores never wait, so each future is polled to completion directly
//! (`ready`) rather than through an async runtime, whose own cost is not ours.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use nhi_core::{ManualClock, SharedClock, Timestamp};
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, CredentialProvider, IssueRequest, JwtConfig, JwtProvider,
    KeyRing, MemoryApiKeyStore, MemoryRevocationList, SecretHasher, SignatureAlgorithm,
};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, UnparsedPublicKey,
};
/// Polls a future that never waits until it is done.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)))
}

fn request() -> IssueRequest {
    IssueRequest {
        identity: "bench-agent".parse().unwrap(),
        tenant: "acme".parse().unwrap(),
        environment: "production".parse().unwrap(),
        scopes: vec!["k8s:health.read".into()],
        lifetime: None,
        audience: None,
    }
}

fn jwt_provider(algorithm: SignatureAlgorithm) -> JwtProvider {
    let keys = Arc::new(KeyRing::generate_for(algorithm).unwrap());
    let revocations = Arc::new(MemoryRevocationList::new());
    let config = JwtConfig::new("https://issuer.bench", "bench");
    JwtProvider::new(config, keys, revocations, clock()).unwrap()
}

fn api_key_provider() -> ApiKeyProvider {
    ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::new(&[7; 32]).unwrap(),
        Arc::new(MemoryApiKeyStore::new()),
        Arc::new(MemoryRevocationList::new()),
        clock(),
    )
    .unwrap()
}

fn verification_eddsa(c: &mut Criterion) {
    let provider = jwt_provider(SignatureAlgorithm::EdDSA);
    let token = ready(provider.issue(&request())).unwrap();

    // the anchor: one Ed25519 signature check over a message of the same length
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let message = token.secret.expose_secret().as_bytes().to_vec();
    let signature = pair.sign(&message);
    let public = UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref().to_vec());

    let mut group = c.benchmark_group("token_verification_eddsa");
    group.bench_function("ring_ed25519_verify", |b| {
        b.iter(|| public.verify(&message, signature.as_ref()).unwrap());
    });
    group.bench_function("nhi_verify", |b| {
        b.iter(|| ready(provider.verify(&token.secret)).unwrap());
    });
    group.finish();
}

fn verification_es256(c: &mut Criterion) {
    let provider = jwt_provider(SignatureAlgorithm::ES256);
    let token = ready(provider.issue(&request())).unwrap();

    // the anchor: one P-256 ECDSA signature check over a message of the same length
    let rng = SystemRandom::new();
    let signing = &ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
    let message = token.secret.expose_secret().as_bytes().to_vec();
    let signature = pair.sign(&rng, &message).unwrap();
    let public = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );

    let mut group = c.benchmark_group("token_verification_es256");
    group.bench_function("ring_p256_verify", |b| {
        b.iter(|| public.verify(&message, signature.as_ref()).unwrap());
    });
    group.bench_function("nhi_verify", |b| {
        b.iter(|| ready(provider.verify(&token.secret)).unwrap());
    });
    group.finish();
}

fn api_key_check(c: &mut Criterion) {
    let provider = api_key_provider();
    let key = ready(provider.issue(&request())).unwrap();

    // the anchor: one HMAC-SHA256 over the key text with a prepared key
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
    let text = key.secret.expose_secret().as_bytes().to_vec();

    let mut group = c.benchmark_group("api_key_check");
    group.bench_function("ring_hmac_sha256", |b| {
        b.iter(|| hmac::sign(&hmac_key, std::hint::black_box(&text)));
    });
    group.bench_function("nhi_authenticate", |b| {
        b.iter(|| ready(provider.authenticate(&key.secret)).unwrap());
    });
    group.bench_function("nhi_verify", |b| {
        b.iter(|| ready(provider.verify(&key.secret)).unwrap());
    });
    group.finish();
}

fn issue(c: &mut Criterion) {
    let eddsa = jwt_provider(SignatureAlgorithm::EdDSA);
    let es256 = jwt_provider(SignatureAlgorithm::ES256);
    let api_keys = api_key_provider();
    let request = request();

    let mut group = c.benchmark_group("issue");
    group.bench_function("jwt_eddsa", |b| {
        b.iter(|| ready(eddsa.issue(&request)).unwrap());
    });
    group.bench_function("jwt_es256", |b| {
        b.iter(|| ready(es256.issue(&request)).unwrap());
    });
    group.bench_function("api_key", |b| {
        b.iter(|| ready(api_keys.issue(&request)).unwrap());
    });
    group.finish();
}

criterion_group!(
    benches,
    verification_eddsa,
    verification_es256,
    api_key_check,
    issue
);
criterion_main!(benches);

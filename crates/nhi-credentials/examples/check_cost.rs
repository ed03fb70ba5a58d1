//! Runs one credential check, or its bare ring anchor, a given number of times, so that
//! an instruction counter (such as `valgrind --tool=callgrind`) can price one check
//! without the noise of wall time on a shared machine.
//!
//! Run: `cargo build --release -p nhi-credentials --example check_cost`, then
//! `valgrind --tool=callgrind target/release/examples/check_cost <case> <count>` for
//! two counts; the difference of the totals divided by the difference of the counts is
//! the instructions of one check. Cases: `eddsa-ring`, `eddsa-nhi`, `es256-ring`,
//! `es256-nhi`, `hmac-ring` (or `apikey-ring`), `apikey-nhi`.
//!
//! `check_cost time <eddsa|es256|apikey> <count>` instead times the check and its
//! anchor in alternating batches of `count` (31 rounds each) and prints the median time
//! per operation of each and the median of the per-round ratios: paired batches see
//! the same machine load, so the ratio holds up better than two separate runs.

use std::error::Error;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use nhi_core::{ManualClock, SharedClock, Timestamp};
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, CredentialProvider, IssueRequest, JwtConfig, JwtProvider,
    KeyRing, MemoryApiKeyStore, MemoryRevocationList, SecretHasher, SignatureAlgorithm,
};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, UnparsedPublicKey,
};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: check_cost <case> <count> | check_cost time <pair> <count>";
    let case = args.next().ok_or(usage)?;
    if case == "time" {
        let pair = args.next().ok_or(usage)?;
        let count: u32 = args.next().ok_or(usage)?.parse()?;
        return time_pair(&pair, count);
    }
    let count: u32 = args.next().ok_or(usage)?.parse()?;
    let (pair, side) = case.rsplit_once('-').ok_or(usage)?;
    let (mut anchor, mut check) = pair_of(pair)?;
    let operation = if side == "ring" {
        &mut anchor
    } else {
        &mut check
    };
    for _ in 0..count {
        operation()?;
    }
    Ok(())
}

/// One operation, run again and again.
type Operation = Box<dyn FnMut() -> Result<(), Box<dyn Error>>>;

/// The anchor and the full check of `pair` (`eddsa`, `es256`, `apikey`; `hmac` is
/// accepted for the anchor of `apikey`).
fn pair_of(pair: &str) -> Result<(Operation, Operation), Box<dyn Error>> {
    match pair {
        "eddsa" => token_pair(SignatureAlgorithm::EdDSA),
        "es256" => token_pair(SignatureAlgorithm::ES256),
        "apikey" | "hmac" => api_key_pair(),
        other => Err(format!("unknown case `{other}`").into()),
    }
}

/// Times the full check of `pair` against its anchor in alternating batches.
fn time_pair(pair: &str, count: u32) -> Result<(), Box<dyn Error>> {
    let (mut anchor, mut check) = pair_of(pair)?;
    let (mut anchors, mut checks, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..31 {
        let a = per_operation(&mut anchor, count)?;
        let c = per_operation(&mut check, count)?;
        anchors.push(a);
        checks.push(c);
        ratios.push(c / a);
    }
    println!(
        "{pair}: anchor {:.3} µs, nhi {:.3} µs, ratio {:.3} (median of 31 paired batches \
         of {count})",
        median(&mut anchors) * 1e6,
        median(&mut checks) * 1e6,
        median(&mut ratios),
    );
    Ok(())
}

/// Seconds per run of `operation`, over `count` runs.
fn per_operation(operation: &mut Operation, count: u32) -> Result<f64, Box<dyn Error>> {
    let start = std::time::Instant::now();
    for _ in 0..count {
        operation()?;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(count))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A token check, and the bare signature check over the same signed bytes.
fn token_pair(algorithm: SignatureAlgorithm) -> Result<(Operation, Operation), Box<dyn Error>> {
    let keys = Arc::new(KeyRing::generate_for(algorithm)?);
    let config = JwtConfig::new("https://issuer.bench", "bench");
    let revocations = Arc::new(MemoryRevocationList::new());
    let provider = JwtProvider::new(config, keys, revocations, clock())?;
    let token = ready(provider.issue(&request()?))?;
    let text = token.secret.expose_secret();
    let message = text.rsplit_once('.').ok_or("a token has a signature")?.0;
    let message = message.as_bytes().to_vec();

    let rng = SystemRandom::new();
    let (public, signature) = if algorithm == SignatureAlgorithm::EdDSA {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(ring_error)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(ring_error)?;
        let signature = pair.sign(&message).as_ref().to_vec();
        let public = UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref().to_vec());
        (public, signature)
    } else {
        let signing = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).map_err(ring_error)?;
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).map_err(ring_error)?;
        let signature = pair
            .sign(&rng, &message)
            .map_err(ring_error)?
            .as_ref()
            .to_vec();
        let public = UnparsedPublicKey::new(
            &ECDSA_P256_SHA256_FIXED,
            pair.public_key().as_ref().to_vec(),
        );
        (public, signature)
    };

    let anchor: Operation = Box::new(move || {
        public
            .verify(black_box(&message), &signature)
            .map_err(ring_error)
    });
    let check: Operation = Box::new(move || {
        black_box(ready(provider.verify(black_box(&token.secret)))?);
        Ok(())
    });
    Ok((anchor, check))
}

/// An API key check, and one HMAC-SHA256 of the same key text.
fn api_key_pair() -> Result<(Operation, Operation), Box<dyn Error>> {
    let provider = ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::new(&[7; 32])?,
        Arc::new(MemoryApiKeyStore::new()),
        Arc::new(MemoryRevocationList::new()),
        clock(),
    )?;
    let key = ready(provider.issue(&request()?))?;
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7; 32]);
    let text = key.secret.expose_secret().as_bytes().to_vec();

    let anchor: Operation = Box::new(move || {
        black_box(ring::hmac::sign(&hmac_key, black_box(&text)));
        Ok(())
    });
    let check: Operation = Box::new(move || {
        black_box(ready(provider.authenticate(black_box(&key.secret)))?);
        Ok(())
    });
    Ok((anchor, check))
}

/// ring's errors say nothing more than that the operation failed.
fn ring_error<E: std::fmt::Debug>(err: E) -> Box<dyn Error> {
    format!("ring: {err:?}").into()
}

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)))
}

fn request() -> Result<IssueRequest, Box<dyn Error>> {
    Ok(IssueRequest::new(
        "bench-agent".parse()?,
        "acme".parse()?,
        "production".parse()?,
    )
    .with_scopes(["k8s:health.read".to_owned()]))
}

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

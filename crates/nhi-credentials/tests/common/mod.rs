//! Shared fixtures: a provider on a manual clock, and a forger that signs any header
//! and claims with a known key.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod external;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nhi_core::{Environment, IdentityId, ManualClock, TenantId, Timestamp};
use nhi_credentials::{
    CredentialSecret, IssueRequest, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
    SigningKey,
};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://nhi.example";
pub const AUDIENCE: &str = "payments-api";
pub const START: u64 = 1_767_225_600;
pub const KID: &str = "test-key-1";

pub struct Fixture {
    pub clock: Arc<ManualClock>,
    pub revocations: Arc<MemoryRevocationList>,
    pub keys: Arc<KeyRing>,
    pub provider: JwtProvider,
    pub forger: Forger,
}

/// A provider whose active key is known to the forger.
pub fn fixture() -> Fixture {
    let forger = Forger::new(KID);
    let keys = Arc::new(KeyRing::with_active(forger.signing_key()));
    fixture_with(keys, forger, JwtConfig::new(ISSUER, AUDIENCE))
}

pub fn fixture_with(keys: Arc<KeyRing>, forger: Forger, config: JwtConfig) -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
    let revocations = Arc::new(MemoryRevocationList::new());
    let provider =
        JwtProvider::new(config, keys.clone(), revocations.clone(), clock.clone()).unwrap();
    Fixture {
        clock,
        revocations,
        keys,
        provider,
        forger,
    }
}

pub fn request() -> IssueRequest {
    IssueRequest::new(
        IdentityId::new("restart-agent").unwrap(),
        TenantId::new("acme").unwrap(),
        Environment::new("production").unwrap(),
    )
    .with_scopes(["deployment.restart", "k8s:read"])
}

/// Signs arbitrary JWS compact tokens with an Ed25519 key it keeps.
pub struct Forger {
    pub kid: String,
    pkcs8: Vec<u8>,
}

impl Forger {
    pub fn new(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            kid: kid.to_owned(),
            pkcs8: pkcs8.as_ref().to_vec(),
        }
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_pkcs8(self.kid.clone(), &self.pkcs8).unwrap()
    }

    /// The key pair, to sign raw messages.
    pub fn key_pair(&self) -> Ed25519KeyPair {
        Ed25519KeyPair::from_pkcs8(&self.pkcs8).unwrap()
    }

    /// A token with exactly this header and these claims, signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> CredentialSecret {
        let message = format!("{}.{}", b64(header), b64(claims));
        let pair = Ed25519KeyPair::from_pkcs8(&self.pkcs8).unwrap();
        let signature = URL_SAFE_NO_PAD.encode(pair.sign(message.as_bytes()));
        CredentialSecret::new(format!("{message}.{signature}"))
    }

    /// A token with our header and `claims`.
    pub fn sign_claims(&self, claims: &Value) -> CredentialSecret {
        self.sign(
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }
}

/// Claims as this crate issues them, at `START`, living five minutes.
pub fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "restart-agent",
        "aud": AUDIENCE,
        "iat": START,
        "nbf": START,
        "exp": START + 300,
        "jti": "0123456789abcdef0123456789abcdef",
        "scope": "deployment.restart",
        "tenant": "acme",
        "env": "production",
    })
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The decoded JSON of one part of a compact token.
pub fn part(token: &CredentialSecret, index: usize) -> Value {
    let text = token.expose_secret().split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

//! An external issuer for tests: signs tokens with any supported algorithm and serves
//! its JWKS through a counting [`JwksSource`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nhi_credentials::{CredentialError, CredentialSecret, JwksSource};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{Value, json};

use super::b64;

pub const RSA_DER: &[u8] = include_bytes!("../data/rsa2048.der");
pub const P384_PKCS8: &[u8] = include_bytes!("../data/p384.pk8");

pub enum Key {
    Ed(sig::Ed25519KeyPair),
    P256(sig::EcdsaKeyPair),
    P384(sig::EcdsaKeyPair),
    Rs256(sig::RsaKeyPair),
    Ps256(sig::RsaKeyPair),
    Hs256(Vec<u8>),
}

pub struct ExternalKey {
    pub kid: String,
    pub key: Key,
}

impl ExternalKey {
    pub fn new(kid: &str, alg: &str) -> Self {
        let rng = SystemRandom::new();
        let key = match alg {
            "EdDSA" => {
                let pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
                Key::Ed(sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
            }
            "ES256" => {
                let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
                Key::P256(sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap())
            }
            "ES384" => Key::P384(
                sig::EcdsaKeyPair::from_pkcs8(
                    &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                    P384_PKCS8,
                    &rng,
                )
                .unwrap(),
            ),
            "RS256" => Key::Rs256(sig::RsaKeyPair::from_der(RSA_DER).unwrap()),
            "PS256" => Key::Ps256(sig::RsaKeyPair::from_der(RSA_DER).unwrap()),
            "HS256" => Key::Hs256(vec![7; 32]),
            other => panic!("no test key for {other}"),
        };
        Self {
            kid: kid.to_owned(),
            key,
        }
    }

    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Ed(_) => "EdDSA",
            Key::P256(_) => "ES256",
            Key::P384(_) => "ES384",
            Key::Rs256(_) => "RS256",
            Key::Ps256(_) => "PS256",
            Key::Hs256(_) => "HS256",
        }
    }

    pub fn jwk(&self) -> Value {
        let e = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &self.key {
            Key::Ed(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": e(pair.public_key().as_ref()), "kid": self.kid})
            }
            Key::P256(pair) | Key::P384(pair) => {
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let crv = if half == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": e(&point[1..=half]), "y": e(&point[half + 1..]), "kid": self.kid, "use": "sig"})
            }
            Key::Rs256(pair) | Key::Ps256(pair) => {
                let parts = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "n": e(&parts.n), "e": e(&parts.e), "kid": self.kid, "alg": self.alg()})
            }
            Key::Hs256(_) => Value::Null,
        }
    }

    /// Signs `message` as this key's algorithm.
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Key::P256(pair) | Key::P384(pair) => {
                pair.sign(&rng, message).unwrap().as_ref().to_vec()
            }
            Key::Rs256(pair) | Key::Ps256(pair) => {
                let padding: &dyn sig::RsaEncoding = match self.key {
                    Key::Rs256(_) => &sig::RSA_PKCS1_SHA256,
                    _ => &sig::RSA_PSS_SHA256,
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, message, &mut out).unwrap();
                out
            }
            Key::Hs256(secret) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
                hmac::sign(&key, message).as_ref().to_vec()
            }
        }
    }

    pub fn sign_with(&self, header: &Value, claims: &Value) -> CredentialSecret {
        let message = format!("{}.{}", b64(header), b64(claims));
        let signature = URL_SAFE_NO_PAD.encode(self.sign_bytes(message.as_bytes()));
        CredentialSecret::new(format!("{message}.{signature}"))
    }

    pub fn sign(&self, claims: &Value) -> CredentialSecret {
        self.sign_with(
            &json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }
}

/// A JWKS served from memory, counting fetches.
#[derive(Default)]
pub struct CountingSource {
    pub document: Mutex<Vec<u8>>,
    pub fetches: AtomicUsize,
    pub fail: std::sync::atomic::AtomicBool,
}

impl CountingSource {
    pub fn serving(keys: &[&ExternalKey]) -> Arc<Self> {
        let source = Arc::new(Self::default());
        source.serve(keys);
        source
    }

    pub fn serve(&self, keys: &[&ExternalKey]) {
        let jwks = json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()});
        *self.document.lock().unwrap() = serde_json::to_vec(&jwks).unwrap();
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl JwksSource for CountingSource {
    async fn fetch(&self) -> Result<Vec<u8>, CredentialError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(CredentialError::Backend {
                what: "fetching the test JWKS".to_owned(),
                source: "unreachable".into(),
            });
        }
        Ok(self.document.lock().unwrap().clone())
    }
}

//! [`SigningKey`]: one of our private keys, Ed25519 or ECDSA P-256.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use serde_json::{Value, json};

use crate::algorithm::SignatureAlgorithm;
use crate::error::CredentialError;
use crate::keys::{VerifyingKey, check_kid};
use crate::random::random_hex;

/// A private signing key (EdDSA or ES256) with its key id (`kid`).
///
/// `Debug` shows the key id and algorithm only; the private key is never printed.
///
/// Known limit: the parsed key pair lives in ring's types, which do not promise to wipe
/// their memory on drop, and neither does the PKCS#8 document [`SigningKey::generate`]
/// gets from ring. Keys that must never linger in memory belong in a KMS or HSM.
pub struct SigningKey {
    kid: String,
    pair: Pair,
    public: VerifyingKey,
}

enum Pair {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

impl SigningKey {
    /// A fresh Ed25519 key with a random key id.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when random numbers or key generation fail.
    pub fn generate() -> Result<Self, CredentialError> {
        Self::generate_for(SignatureAlgorithm::EdDSA)
    }

    /// A fresh key for `algorithm` (`EdDSA` or `ES256`) with a random key id.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for an algorithm this crate does not issue;
    /// [`CredentialError::Crypto`] when random numbers or key generation fail.
    pub fn generate_for(algorithm: SignatureAlgorithm) -> Result<Self, CredentialError> {
        let rng = SystemRandom::new();
        let failed = |_| CredentialError::Crypto {
            reason: "key generation failed",
        };
        let kid = random_hex::<8>()?;
        match algorithm {
            SignatureAlgorithm::EdDSA => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?;
                Self::from_pkcs8(kid, pkcs8.as_ref())
            }
            SignatureAlgorithm::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(failed)?;
                Self::from_pkcs8_es256(kid, pkcs8.as_ref())
            }
            other => Err(not_issued(other)),
        }
    }

    /// An Ed25519 key from a PKCS#8 document (v1 or v2).
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when the key id is not 1 to 128 URL-safe
    /// characters or the document is not an Ed25519 private key.
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: &[u8]) -> Result<Self, CredentialError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|_| bad_key("the signing key is not a PKCS#8 Ed25519 private key"))?;
        let x = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&x),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        });
        let decoding = DecodingKey::from_ed_der(&x);
        let public = VerifyingKey::new(kid.clone(), SignatureAlgorithm::EdDSA, decoding, Some(jwk));
        Ok(Self {
            kid,
            pair: Pair::Ed25519(pair),
            public,
        })
    }

    /// An ECDSA P-256 (ES256) key from a PKCS#8 document.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when the key id is not 1 to 128 URL-safe
    /// characters or the document is not a P-256 private key.
    pub fn from_pkcs8_es256(kid: impl Into<String>, pkcs8: &[u8]) -> Result<Self, CredentialError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| bad_key("the signing key is not a PKCS#8 P-256 private key"))?;

        // An uncompressed point: 0x04, x, y.
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = match point.split_first() {
            Some((0x04, xy)) if xy.len() == 64 => xy.split_at(32),
            _ => return Err(bad_key("the P-256 public key is not an uncompressed point")),
        };
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        });
        let decoding = DecodingKey::from_ec_der(&point);
        let public = VerifyingKey::new(kid.clone(), SignatureAlgorithm::ES256, decoding, Some(jwk));
        Ok(Self {
            kid,
            pair: Pair::P256(pair),
            public,
        })
    }

    /// A fixed, published Ed25519 key (the example key of RFC 8037 Appendix A.1) with key
    /// id `insecure-test-key`, so hosts' tests get stable tokens and JWKS. Anyone can
    /// sign with it: never trust it outside tests.
    ///
    /// # Errors
    ///
    /// None in practice; the signature matches the other constructors.
    pub fn insecure_test_key() -> Result<Self, CredentialError> {
        // PKCS#8 v1 wrapping of a raw Ed25519 seed: the fixed prefix, then the 32 bytes.
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        const SEED: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let mut pkcs8 = PREFIX.to_vec();
        pkcs8.extend_from_slice(&SEED);
        Self::from_pkcs8("insecure-test-key", &pkcs8)
    }

    /// The key id written into token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.public.algorithm()
    }

    /// The raw public key: 32 bytes for Ed25519, an uncompressed point for P-256.
    pub fn public_key(&self) -> &[u8] {
        match &self.pair {
            Pair::Ed25519(pair) => pair.public_key().as_ref(),
            Pair::P256(pair) => pair.public_key().as_ref(),
        }
    }

    /// The public key as a JSON Web Key (`OKP` per RFC 8037, or `EC`).
    pub fn jwk(&self) -> Value {
        self.public.jwk().cloned().unwrap_or(Value::Null)
    }

    /// The key that checks this key's signatures.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// Signs `message`: 64 bytes (Ed25519 or P-256 `r || s`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CredentialError> {
        match &self.pair {
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::P256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| CredentialError::Crypto {
                    reason: "ECDSA signing failed",
                }),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .finish_non_exhaustive()
    }
}

fn bad_key(reason: &str) -> CredentialError {
    CredentialError::InvalidConfig {
        reason: reason.to_owned(),
    }
}

fn not_issued(algorithm: SignatureAlgorithm) -> CredentialError {
    CredentialError::InvalidConfig {
        reason: format!("`{algorithm}` keys are verified only; issue with `EdDSA` or `ES256`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_generate_and_describe_themselves() {
        let ed = SigningKey::generate().unwrap();
        assert_eq!(ed.algorithm(), SignatureAlgorithm::EdDSA);
        assert_eq!(ed.public_key().len(), 32);
        assert_eq!(ed.jwk()["kty"], "OKP");

        let ec = SigningKey::generate_for(SignatureAlgorithm::ES256).unwrap();
        assert_eq!(ec.public_key().len(), 65);
        assert_eq!(ec.jwk()["crv"], "P-256");
        assert_eq!(ec.sign(b"m").unwrap().len(), 64);
        assert!(format!("{ec:?}").contains("ES256"));

        assert!(SigningKey::generate_for(SignatureAlgorithm::RS256).is_err());

        // The published test key is the RFC 8037 example key.
        let fixed = SigningKey::insecure_test_key().unwrap();
        assert_eq!(
            fixed.jwk()["x"],
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(fixed.kid(), "insecure-test-key");
        assert!(SigningKey::generate_for(SignatureAlgorithm::HS256).is_err());
    }

    #[test]
    fn kid_rules_are_enforced() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        assert!(SigningKey::from_pkcs8("k-1", pkcs8.as_ref()).is_ok());
        assert!(SigningKey::from_pkcs8("", pkcs8.as_ref()).is_err());
        assert!(SigningKey::from_pkcs8("a b", pkcs8.as_ref()).is_err());
        assert!(SigningKey::from_pkcs8("k", b"not a key").is_err());
        assert!(SigningKey::from_pkcs8_es256("k", pkcs8.as_ref()).is_err());
    }
}

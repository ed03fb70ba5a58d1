//! A `jsonwebtoken` cryptography provider backed by ring.
//!
//! `jsonwebtoken` 12 carries no cryptography of its own: a process must install one
//! [`CryptoProvider`] before the first token is signed or checked, and signing or
//! checking without one panics inside that library. This module supplies a provider
//! built on ring and installs it only when the host has not installed its own.
//!
//! Supported: EdDSA (Ed25519), ES256, ES384, RS256/384/512 and PS256/384/512 (RSA 2048
//! to 8192 bits), HS256/384/512 (verification in constant time). RSA public keys must
//! be given as PKCS#1 DER or as modulus and exponent; extracting components from a DER
//! RSA public key for JWK building is not supported and returns an error.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind, new_error};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use ring::{digest, hmac};

use crate::error::CredentialError;

/// The ring-backed provider, for hosts that install it themselves.
static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_components_from_private_key,
        compute_digest,
    },
};

/// The ring-backed `jsonwebtoken` cryptography provider of this crate.
pub fn ring_crypto_provider() -> &'static CryptoProvider {
    &RING_PROVIDER
}

/// Installs the ring-backed provider as the process default unless one is installed.
///
/// A provider the host installed earlier is kept. Calling this more than once, or
/// from several threads at once, is harmless. [`crate::JwtProvider::new`] calls it.
///
/// # Errors
///
/// [`CredentialError::CryptoProviderMissing`] if, against expectation, no provider is
/// available afterwards.
pub fn install_ring_crypto_provider() -> Result<(), CredentialError> {
    if CryptoProvider::try_get_default().is_none() {
        // Losing a race to another installer is fine: some provider is now in place.
        let _ = RING_PROVIDER.install_default();
    }
    ensure_crypto_provider()
}

/// Fails with a typed error, instead of a panic inside `jsonwebtoken`, when no provider
/// is installed.
pub(crate) fn ensure_crypto_provider() -> Result<(), CredentialError> {
    match CryptoProvider::try_get_default() {
        Some(_) => Ok(()),
        None => Err(CredentialError::CryptoProviderMissing),
    }
}

/// Signs with a key parsed once per token.
enum RingSigner {
    Ed25519(sig::Ed25519KeyPair),
    Ecdsa(sig::EcdsaKeyPair, Algorithm),
    Rsa(sig::RsaKeyPair, &'static dyn sig::RsaEncoding, Algorithm),
    Hmac(hmac::Key, Algorithm),
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let rng = SystemRandom::new();
        match self {
            Self::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            Self::Ecdsa(pair, _) => pair
                .sign(&rng, msg)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| SignatureError::new()),
            Self::Rsa(pair, padding, _) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(*padding, &rng, msg, &mut signature)
                    .map_err(|_| SignatureError::new())?;
                Ok(signature)
            }
            Self::Hmac(key, _) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::Ecdsa(_, alg) | Self::Rsa(_, _, alg) | Self::Hmac(_, alg) => *alg,
        }
    }
}

/// Checks signatures against one public key or shared secret.
struct RingVerifier {
    algorithm: Algorithm,
    check: Check,
}

enum Check {
    Public(&'static dyn sig::VerificationAlgorithm, Vec<u8>),
    RsaComponents(&'static sig::RsaParameters, Vec<u8>, Vec<u8>),
    Hmac(hmac::Key),
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let checked = match &self.check {
            Check::Public(alg, key) => {
                sig::UnparsedPublicKey::new(*alg, key).verify(msg, signature)
            }
            Check::RsaComponents(params, n, e) => {
                sig::RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
            }
            Check::Hmac(key) => hmac::verify(key, msg, signature),
        };
        checked.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, JwtError> {
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let der = key.as_bytes();
    let alg = *algorithm;
    let rng = SystemRandom::new();

    let signer = match alg {
        Algorithm::EdDSA => RingSigner::Ed25519(
            sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
        ),
        Algorithm::ES256 | Algorithm::ES384 => {
            let signing = match alg {
                Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                _ => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            };
            let pair = sig::EcdsaKeyPair::from_pkcs8(signing, der, &rng)
                .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?;
            RingSigner::Ecdsa(pair, alg)
        }
        Algorithm::HS256 => RingSigner::Hmac(hmac::Key::new(hmac::HMAC_SHA256, der), alg),
        Algorithm::HS384 => RingSigner::Hmac(hmac::Key::new(hmac::HMAC_SHA384, der), alg),
        Algorithm::HS512 => RingSigner::Hmac(hmac::Key::new(hmac::HMAC_SHA512, der), alg),
        _ => {
            let padding = rsa_padding(alg).ok_or_else(unsupported)?;
            let pair = sig::RsaKeyPair::from_der(der)
                .or_else(|_| sig::RsaKeyPair::from_pkcs8(der))
                .map_err(|err| new_error(ErrorKind::InvalidRsaKey(err.to_string())))?;
            RingSigner::Rsa(pair, padding, alg)
        }
    };
    Ok(Box::new(signer))
}

fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> Result<Box<dyn JwtVerifier>, JwtError> {
    // A key only ever checks the family it was made for: this is what stops a public key
    // from being used as an HMAC secret.
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let alg = *algorithm;

    let check = match (alg, key.kind()) {
        (Algorithm::HS256, DecodingKeyKind::SecretOrDer(secret)) => {
            Check::Hmac(hmac::Key::new(hmac::HMAC_SHA256, secret))
        }
        (Algorithm::HS384, DecodingKeyKind::SecretOrDer(secret)) => {
            Check::Hmac(hmac::Key::new(hmac::HMAC_SHA384, secret))
        }
        (Algorithm::HS512, DecodingKeyKind::SecretOrDer(secret)) => {
            Check::Hmac(hmac::Key::new(hmac::HMAC_SHA512, secret))
        }
        (_, DecodingKeyKind::SecretOrDer(bytes)) => Check::Public(
            public_algorithm(alg).ok_or_else(unsupported)?,
            bytes.clone(),
        ),
        (_, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            let params = rsa_parameters(alg).ok_or_else(unsupported)?;
            Check::RsaComponents(params, n.clone(), e.clone())
        }
    };
    Ok(Box::new(RingVerifier {
        algorithm: alg,
        check,
    }))
}

fn unsupported() -> JwtError {
    new_error(ErrorKind::UnsupportedAlgorithm)
}

/// The ring algorithm that checks `alg` against a raw public key.
fn public_algorithm(alg: Algorithm) -> Option<&'static dyn sig::VerificationAlgorithm> {
    match alg {
        Algorithm::EdDSA => Some(&sig::ED25519),
        Algorithm::ES256 => Some(&sig::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Some(&sig::ECDSA_P384_SHA384_FIXED),
        _ => rsa_parameters(alg).map(|params| params as &dyn sig::VerificationAlgorithm),
    }
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    match alg {
        Algorithm::RS256 => Some(&sig::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Some(&sig::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Some(&sig::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Some(&sig::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Some(&sig::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Some(&sig::RSA_PSS_2048_8192_SHA512),
        _ => None,
    }
}

fn rsa_padding(alg: Algorithm) -> Option<&'static dyn sig::RsaEncoding> {
    match alg {
        Algorithm::RS256 => Some(&sig::RSA_PKCS1_SHA256),
        Algorithm::RS384 => Some(&sig::RSA_PKCS1_SHA384),
        Algorithm::RS512 => Some(&sig::RSA_PKCS1_SHA512),
        Algorithm::PS256 => Some(&sig::RSA_PSS_SHA256),
        Algorithm::PS384 => Some(&sig::RSA_PSS_SHA384),
        Algorithm::PS512 => Some(&sig::RSA_PSS_SHA512),
        _ => None,
    }
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
    let pair = sig::RsaKeyPair::from_der(der)
        .or_else(|_| sig::RsaKeyPair::from_pkcs8(der))
        .map_err(|err| new_error(ErrorKind::InvalidRsaKey(err.to_string())))?;
    let components = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((components.n, components.e))
}

fn rsa_components_from_public_key(_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
    Err(new_error(ErrorKind::Provider(
        "reading RSA public key components from DER is not supported by the ring provider"
            .to_owned(),
    )))
}

fn ec_components_from_private_key(
    der: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>), JwtError> {
    let (signing, curve, half) = match alg {
        Algorithm::ES256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
            32,
        ),
        Algorithm::ES384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
            48,
        ),
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    let pair = sig::EcdsaKeyPair::from_pkcs8(signing, der, &SystemRandom::new())
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?;

    // An uncompressed point: 0x04, then x, then y.
    let point = pair.public_key().as_ref();
    match (point.split_first(), point.len() == 1 + 2 * half) {
        (Some((0x04, xy)), true) => {
            let (x, y) = xy.split_at(half);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(new_error(ErrorKind::InvalidEcdsaKey)),
    }
}

fn ed_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, JwtError> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(new_error(ErrorKind::InvalidAlgorithm));
    }
    let pair = sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, JwtError> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(unsupported()),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed_key() -> (EncodingKey, DecodingKey) {
        let pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let public = sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        (
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            DecodingKey::from_ed_der(&public),
        )
    }

    #[test]
    fn eddsa_signs_and_verifies() {
        let (enc, dec) = ed_key();
        let signer = new_signer(&Algorithm::EdDSA, &enc).unwrap();
        let signature = signer.try_sign(b"message").unwrap();
        let verifier = new_verifier(&Algorithm::EdDSA, &dec).unwrap();
        assert!(verifier.verify(b"message", &signature).is_ok());
        assert!(verifier.verify(b"massage", &signature).is_err());
    }

    #[test]
    fn a_public_key_never_checks_another_family() {
        let (_, dec) = ed_key();
        assert!(new_verifier(&Algorithm::HS256, &dec).is_err());
        assert!(new_verifier(&Algorithm::ES256, &dec).is_err());
    }

    #[test]
    fn ecdsa_round_trip_and_components() {
        let rng = SystemRandom::new();
        let pkcs8 =
            sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let (curve, x, y) =
            ec_components_from_private_key(pkcs8.as_ref(), Algorithm::ES256).unwrap();
        assert_eq!(curve, EllipticCurve::P256);

        let mut point = vec![0x04];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let signer = new_signer(&Algorithm::ES256, &EncodingKey::from_ec_der(pkcs8.as_ref()));
        let signature = signer.unwrap().try_sign(b"m").unwrap();
        let verifier = new_verifier(&Algorithm::ES256, &DecodingKey::from_ec_der(&point));
        assert!(verifier.unwrap().verify(b"m", &signature).is_ok());
    }

    #[test]
    fn hmac_verifies_in_constant_time_and_rejects_others() {
        let enc = EncodingKey::from_secret(b"shared").unwrap();
        let dec = DecodingKey::from_secret(b"shared").unwrap();
        let signature = new_signer(&Algorithm::HS256, &enc)
            .unwrap()
            .try_sign(b"m")
            .unwrap();
        let verifier = new_verifier(&Algorithm::HS256, &dec).unwrap();
        assert!(verifier.verify(b"m", &signature).is_ok());
        assert!(verifier.verify(b"m", &vec![0; 32]).is_err());
    }

    #[test]
    fn digest_matches_a_known_value() {
        let digest = compute_digest(b"abc", ThumbprintHash::SHA256).unwrap();
        assert_eq!(
            crate::random::hex(&digest),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! Keys: [`SigningKey`] (ours, private), [`VerifyingKey`] (anyone's, public or shared),
//! and the [`KeyRing`] that rotates signing keys and publishes them as a JWKS.

mod jwk;
mod key_ring;
mod signing;

pub use jwk::{JwkSet, MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS};
pub use key_ring::KeyRing;
pub use signing::SigningKey;

use std::fmt;

use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::algorithm::SignatureAlgorithm;
use crate::error::{CredentialError, clip};

/// A key that checks signatures of exactly one algorithm, named by a key id.
///
/// Built from one of our [`SigningKey`]s, from a JSON Web Key published by an external
/// issuer ([`VerifyingKey::from_jwk`]), or from a shared secret for HS256
/// ([`VerifyingKey::hs256_shared_secret`]). The algorithm is a property of the key, so a
/// token's header can never choose it, and an RSA or EC public key can never be used as
/// an HMAC secret.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    algorithm: SignatureAlgorithm,
    decoding: DecodingKey,
    jwk: Option<Value>,
}

impl VerifyingKey {
    /// A key from one JSON Web Key (RFC 7517): `OKP`/`Ed25519` (EdDSA), `EC` `P-256`
    /// (ES256) or `P-384` (ES384), `RSA` (RS256 unless `alg` says PS256; 2048 bits or
    /// more). The JWK must carry a `kid`; `alg` and `use`, when present, must agree.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a symmetric (`oct`) key, an unknown key
    /// type or curve, wrong component lengths, or a disagreeing `alg` or `use`.
    pub fn from_jwk(jwk: &Value) -> Result<Self, CredentialError> {
        jwk::verifying_key(jwk)
    }

    /// A key checking HS256 tokens with a secret shared with their issuer (at least 32
    /// bytes). Use only for issuers that cannot sign asymmetrically.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a bad key id or a short secret.
    pub fn hs256_shared_secret(
        kid: impl Into<String>,
        secret: &[u8],
    ) -> Result<Self, CredentialError> {
        let kid = kid.into();
        check_kid(&kid)?;
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(CredentialError::InvalidConfig {
                reason: format!(
                    "an HS256 shared secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
                ),
            });
        }
        let decoding =
            DecodingKey::from_secret(secret).map_err(|source| CredentialError::Token { source })?;
        Ok(Self::new(kid, SignatureAlgorithm::HS256, decoding, None))
    }

    pub(crate) fn new(
        kid: String,
        algorithm: SignatureAlgorithm,
        decoding: DecodingKey,
        jwk: Option<Value>,
    ) -> Self {
        Self {
            kid,
            algorithm,
            decoding,
            jwk,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key checks.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The public key as a JSON Web Key; `None` for a shared secret.
    pub fn jwk(&self) -> Option<&Value> {
        self.jwk.as_ref()
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Key ids are 1 to 128 characters from the URL-safe alphabet plus `.`.
pub(crate) fn check_kid(kid: &str) -> Result<(), CredentialError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if kid.is_empty() || kid.len() > 128 || !kid.chars().all(allowed) {
        return Err(CredentialError::InvalidConfig {
            reason: format!(
                "key id `{}` must be 1 to 128 letters, digits, `-`, `_` or `.`",
                clip(kid)
            ),
        });
    }
    Ok(())
}

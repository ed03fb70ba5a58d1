//! [`SecretHasher`]: the keyed hash under which issued secrets are stored.

use std::fmt;

use ring::hmac;

use crate::error::CredentialError;
use crate::random::random_bytes;

/// The shortest deployment key accepted, in bytes.
pub const MIN_HASH_KEY_BYTES: usize = 32;

/// HMAC-SHA256 under a per-deployment key: the only form in which a secret is stored.
///
/// A leaked store alone does not let anyone check guesses offline: the deployment key
/// lives elsewhere (a secret manager). Checks compare tags in constant time.
pub struct SecretHasher {
    key: hmac::Key,
}

impl SecretHasher {
    /// A hasher under `deployment_key`, which must hold at least 32 random bytes.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a shorter key.
    pub fn new(deployment_key: &[u8]) -> Result<Self, CredentialError> {
        if deployment_key.len() < MIN_HASH_KEY_BYTES {
            return Err(CredentialError::InvalidConfig {
                reason: format!(
                    "the secret hashing key must be at least {MIN_HASH_KEY_BYTES} bytes; it \
                     has {}",
                    deployment_key.len()
                ),
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, deployment_key),
        })
    }

    /// A hasher under a fresh random key (for tests and single-process deployments:
    /// secrets hashed by it cannot be checked after a restart).
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when the system random source fails.
    pub fn generate() -> Result<Self, CredentialError> {
        Self::new(&random_bytes::<32>()?)
    }

    /// The tag stored for `secret`.
    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.key, secret.as_bytes()).as_ref().to_vec()
    }

    /// Whether `secret` hashes to `tag`, compared in constant time.
    pub fn matches(&self, secret: &str, tag: &[u8]) -> bool {
        hmac::verify(&self.key, secret.as_bytes(), tag).is_ok()
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(HMAC-SHA256, <redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_only_their_secret_and_key() {
        let hasher = SecretHasher::new(&[7; 32]).unwrap();
        let tag = hasher.hash("nhik_a_b");
        assert_eq!(tag.len(), 32);
        assert!(hasher.matches("nhik_a_b", &tag));
        assert!(!hasher.matches("nhik_a_c", &tag));
        assert!(!hasher.matches("nhik_a_b", &tag[..31]));

        let other = SecretHasher::new(&[8; 32]).unwrap();
        assert!(!other.matches("nhik_a_b", &tag));
        assert!(SecretHasher::new(&[7; 31]).is_err());
        assert_eq!(
            format!("{hasher:?}"),
            "SecretHasher(HMAC-SHA256, <redacted>)"
        );
    }
}

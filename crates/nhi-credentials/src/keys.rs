//! Signing keys and the [`KeyRing`] that rotates them and publishes them as a JWKS.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use crate::error::{CredentialError, clip};
use crate::random::random_hex;

/// An Ed25519 signing key with its key id (`kid`).
///
/// `Debug` shows the key id and algorithm only; the private key is never printed and the
/// copy held here is wiped from memory when the key is dropped.
///
/// Known limits: the PKCS#8 document ring produces in [`SigningKey::generate`] is not
/// wiped by ring when it is dropped, and each signature parses the private key again
/// (tens of microseconds); holding a parsed ring key pair behind the `jsonwebtoken`
/// signer would remove the second, at the cost of keeping two copies of the key.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Vec<u8>,
}

impl SigningKey {
    /// A fresh key from the system random source, with a random key id.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when random numbers or key generation fail.
    pub fn generate() -> Result<Self, CredentialError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| {
            CredentialError::Crypto {
                reason: "Ed25519 key generation failed",
            }
        })?;
        Self::from_pkcs8(random_hex::<8>()?, pkcs8.as_ref())
    }

    /// A key from a PKCS#8 document (v1 or v2) holding an Ed25519 private key.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when the key id is not 1 to 64 URL-safe
    /// characters or the document is not an Ed25519 private key.
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: &[u8]) -> Result<Self, CredentialError> {
        let kid = kid.into();
        check_kid(&kid)?;

        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| {
            CredentialError::InvalidConfig {
                reason: "the signing key is not a PKCS#8 Ed25519 private key".to_owned(),
            }
        })?;
        let public = pair.public_key().as_ref().to_vec();

        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding: DecodingKey::from_ed_der(&public),
            public,
        })
    }

    /// The key id written into token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The public key as a JSON Web Key (RFC 8037 `OKP`).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &"EdDSA")
            .finish_non_exhaustive()
    }
}

/// The active signing key plus previous keys still trusted for verification.
///
/// Rotation makes a new key active at once while tokens signed by the old one keep
/// verifying until it is retired, which gives holders an overlap window. Locks are held
/// only for the few instructions that copy a key handle out, never across an `.await`.
pub struct KeyRing {
    state: RwLock<RingState>,
}

struct RingState {
    active: Arc<SigningKey>,
    previous: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    /// A ring holding one fresh key.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self::with_active(SigningKey::generate()?))
    }

    /// A ring whose active key is `key`.
    pub fn with_active(key: SigningKey) -> Self {
        Self {
            state: RwLock::new(RingState {
                active: Arc::new(key),
                previous: Vec::new(),
            }),
        }
    }

    /// Makes a fresh key active; the old active key is kept for verification.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn rotate(&self) -> Result<(), CredentialError> {
        self.rotate_to(SigningKey::generate()?)
    }

    /// Makes `key` active; the old active key is kept for verification.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when a key with the same id is in the ring.
    pub fn rotate_to(&self, key: SigningKey) -> Result<(), CredentialError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.find(key.kid()).is_some() {
            return Err(CredentialError::InvalidConfig {
                reason: format!("key id `{}` is already in the key ring", key.kid()),
            });
        }
        let old = std::mem::replace(&mut state.active, Arc::new(key));
        state.previous.push(old);
        Ok(())
    }

    /// Stops trusting the previous key `kid`; tokens it signed no longer verify.
    ///
    /// # Errors
    ///
    /// [`CredentialError::KeyInUse`] for the active key, [`CredentialError::UnknownKey`]
    /// when no key has that id.
    pub fn retire(&self, kid: &str) -> Result<(), CredentialError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.active.kid() == kid {
            return Err(CredentialError::KeyInUse {
                kid: kid.to_owned(),
            });
        }
        let before = state.previous.len();
        state.previous.retain(|key| key.kid() != kid);
        if state.previous.len() == before {
            return Err(CredentialError::UnknownKey { kid: clip(kid) });
        }
        Ok(())
    }

    /// The id of the key that signs new tokens.
    pub fn active_kid(&self) -> String {
        self.active().kid().to_owned()
    }

    /// The ids of every trusted key, the active one first.
    pub fn kids(&self) -> Vec<String> {
        let state = self.read();
        std::iter::once(&state.active)
            .chain(&state.previous)
            .map(|key| key.kid().to_owned())
            .collect()
    }

    /// The public keys as a JSON Web Key Set, the active key first.
    pub fn jwks(&self) -> Value {
        let state = self.read();
        let keys: Vec<Value> = std::iter::once(&state.active)
            .chain(&state.previous)
            .map(|key| key.jwk())
            .collect();
        json!({ "keys": keys })
    }

    /// The key that signs new tokens.
    pub(crate) fn active(&self) -> Arc<SigningKey> {
        Arc::clone(&self.read().active)
    }

    /// The trusted key named `kid`, if any.
    pub(crate) fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.read().find(kid).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RingState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.kids())
            .finish()
    }
}

impl RingState {
    fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        std::iter::once(&self.active)
            .chain(&self.previous)
            .find(|key| key.kid() == kid)
    }
}

/// Key ids are 1 to 64 characters from the URL-safe alphabet plus `.`.
fn check_kid(kid: &str) -> Result<(), CredentialError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if kid.is_empty() || kid.len() > 64 || !kid.chars().all(allowed) {
        return Err(CredentialError::InvalidConfig {
            reason: format!(
                "key id `{}` must be 1 to 64 letters, digits, `-`, `_` or `.`",
                clip(kid)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_keeps_the_old_key_until_retired() {
        let ring = KeyRing::generate().unwrap();
        let first = ring.active_kid();
        ring.rotate().unwrap();
        let second = ring.active_kid();

        assert_ne!(first, second);
        assert!(ring.find(&first).is_some());
        assert!(matches!(
            ring.retire(&second),
            Err(CredentialError::KeyInUse { .. })
        ));
        ring.retire(&first).unwrap();
        assert!(ring.find(&first).is_none());
        assert!(matches!(
            ring.retire(&first),
            Err(CredentialError::UnknownKey { .. })
        ));
    }

    #[test]
    fn kid_rules_are_enforced() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        assert!(SigningKey::from_pkcs8("k-1", pkcs8.as_ref()).is_ok());
        assert!(SigningKey::from_pkcs8("", pkcs8.as_ref()).is_err());
        assert!(SigningKey::from_pkcs8("a b", pkcs8.as_ref()).is_err());
        assert!(SigningKey::from_pkcs8("k", b"not a key").is_err());
    }

    #[test]
    fn duplicate_kid_is_refused() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let ring = KeyRing::with_active(SigningKey::from_pkcs8("k1", pkcs8.as_ref()).unwrap());
        let again = SigningKey::from_pkcs8("k1", pkcs8.as_ref()).unwrap();
        assert!(ring.rotate_to(again).is_err());
        assert_eq!(ring.kids(), vec!["k1".to_owned()]);
    }
}

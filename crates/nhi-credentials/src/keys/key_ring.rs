//! [`KeyRing`]: the active signing key and the previous keys still trusted.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use nhi_core::Timestamp;
use serde_json::{Value, json};

use crate::algorithm::SignatureAlgorithm;
use crate::error::{CredentialError, clip};
use crate::keys::SigningKey;

/// The active signing key plus previous keys still trusted for verification.
///
/// Rotation makes a new key active at once while tokens signed by the old one keep
/// verifying until it is retired, which gives holders an overlap window. A previous key
/// rotated out with a time ([`KeyRing::rotate_at`]) can be retired automatically once its
/// last token has expired ([`KeyRing::retire_expired`]). Locks are held only to copy a
/// key handle out, never across an `.await`.
pub struct KeyRing {
    state: RwLock<RingState>,
}

struct RingState {
    active: Arc<SigningKey>,
    previous: Vec<Previous>,
}

struct Previous {
    key: Arc<SigningKey>,
    rotated_out_at: Option<Timestamp>,
}

impl KeyRing {
    /// A ring holding one fresh Ed25519 key.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self::with_active(SigningKey::generate()?))
    }

    /// A ring holding one fresh key for `algorithm` (`EdDSA` or `ES256`).
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for an algorithm this crate does not issue;
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn generate_for(algorithm: SignatureAlgorithm) -> Result<Self, CredentialError> {
        Ok(Self::with_active(SigningKey::generate_for(algorithm)?))
    }

    /// A ring holding only [`SigningKey::insecure_test_key`], for hosts' tests: stable
    /// key id and JWKS across runs. Never use it outside tests.
    ///
    /// # Errors
    ///
    /// None in practice; see [`SigningKey::insecure_test_key`].
    pub fn insecure_for_tests() -> Result<Self, CredentialError> {
        Ok(Self::with_active(SigningKey::insecure_test_key()?))
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

    /// Makes a fresh key of the active key's algorithm active; the old active key is
    /// kept for verification until retired.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn rotate(&self) -> Result<(), CredentialError> {
        let algorithm = self.active().algorithm();
        self.insert(SigningKey::generate_for(algorithm)?, None)
    }

    /// Makes `key` active; the old active key is kept for verification until retired.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when a key with the same id is in the ring.
    pub fn rotate_to(&self, key: SigningKey) -> Result<(), CredentialError> {
        self.insert(key, None)
    }

    /// Makes `key` active at `now`, so [`KeyRing::retire_expired`] can retire the old
    /// active key once its last token has expired.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when a key with the same id is in the ring.
    pub fn rotate_at(&self, key: SigningKey, now: Timestamp) -> Result<(), CredentialError> {
        self.insert(key, Some(now))
    }

    /// Stops trusting the previous key `kid`; tokens it signed no longer verify.
    ///
    /// # Errors
    ///
    /// [`CredentialError::KeyInUse`] for the active key, [`CredentialError::UnknownKey`]
    /// when no key has that id.
    pub fn retire(&self, kid: &str) -> Result<(), CredentialError> {
        let mut state = self.write();
        if state.active.kid() == kid {
            return Err(CredentialError::KeyInUse {
                kid: kid.to_owned(),
            });
        }
        let before = state.previous.len();
        state.previous.retain(|old| old.key.kid() != kid);
        if state.previous.len() == before {
            return Err(CredentialError::UnknownKey { kid: clip(kid) });
        }
        Ok(())
    }

    /// Retires every previous key rotated out at least `token_lifetime` before `now`
    /// (its last token has expired); returns their ids. Keys rotated out without a time
    /// are kept.
    pub fn retire_expired(&self, now: Timestamp, token_lifetime: Duration) -> Vec<String> {
        let mut state = self.write();
        let mut retired = Vec::new();
        state.previous.retain(|old| {
            let done = old
                .rotated_out_at
                .is_some_and(|at| at.saturating_add(token_lifetime) <= now);
            if done {
                retired.push(old.key.kid().to_owned());
            }
            !done
        });
        retired
    }

    /// The id of the key that signs new tokens.
    pub fn active_kid(&self) -> String {
        self.active().kid().to_owned()
    }

    /// The ids of every trusted key, the active one first.
    pub fn kids(&self) -> Vec<String> {
        let state = self.read();
        state.all().map(|key| key.kid().to_owned()).collect()
    }

    /// The public keys as a JSON Web Key Set, the active key first.
    pub fn jwks(&self) -> Value {
        let state = self.read();
        let keys: Vec<Value> = state.all().map(|key| key.jwk()).collect();
        json!({ "keys": keys })
    }

    /// The key that signs new tokens.
    pub(crate) fn active(&self) -> Arc<SigningKey> {
        Arc::clone(&self.read().active)
    }

    /// The trusted key named `kid`, if any.
    pub(crate) fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.read().all().find(|key| key.kid() == kid).cloned()
    }

    fn insert(&self, key: SigningKey, now: Option<Timestamp>) -> Result<(), CredentialError> {
        let mut state = self.write();
        if state.all().any(|old| old.kid() == key.kid()) {
            return Err(CredentialError::InvalidConfig {
                reason: format!("key id `{}` is already in the key ring", key.kid()),
            });
        }
        let old = std::mem::replace(&mut state.active, Arc::new(key));
        state.previous.push(Previous {
            key: old,
            rotated_out_at: now,
        });
        Ok(())
    }

    fn read(&self) -> RwLockReadGuard<'_, RingState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RingState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
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
    fn all(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        std::iter::once(&self.active).chain(self.previous.iter().map(|old| &old.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::Ed25519KeyPair;

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
    fn rotation_keeps_the_algorithm_and_expired_keys_retire() {
        let ring = KeyRing::generate_for(SignatureAlgorithm::ES256).unwrap();
        let first = ring.active_kid();
        let next = SigningKey::generate_for(SignatureAlgorithm::ES256).unwrap();
        ring.rotate_at(next, Timestamp::from_unix_secs(1000))
            .unwrap();
        ring.rotate().unwrap();
        assert_eq!(ring.active().algorithm(), SignatureAlgorithm::ES256);
        assert_eq!(ring.kids().len(), 3);

        let hour = Duration::from_secs(3600);
        assert!(
            ring.retire_expired(Timestamp::from_unix_secs(4599), hour)
                .is_empty()
        );
        assert_eq!(
            ring.retire_expired(Timestamp::from_unix_secs(4600), hour),
            vec![first]
        );
        // The key rotated out without a time stays until retired by hand.
        assert_eq!(ring.kids().len(), 2);
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

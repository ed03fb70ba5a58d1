//! Keeping secrets out of events: keyed hashes that stand in for a secret, and a scrubber
//! that replaces known secrets wherever a caller's text carries them.
//!
//! A value that must be mentioned but never shown (a token, an API key, a password) is
//! written as [`Redacted`]: `hmac-sha256:<hex>`, the HMAC-SHA256 of the value under the
//! deployment's [`AuditKey`]. The same value under the same key always gives the same
//! text, so an investigator who holds the key and suspects a value computes
//! [`AuditKey::redact`] of it and searches the trail for that text. Without the key the
//! hash reveals nothing, not even whether two deployments saw the same secret.
//!
//! [`Scrubber`](crate::Scrubber) covers the places a caller's free text can carry a secret by accident (a
//! resource path, an error message, a nested map in `before`/`after`, a byte array): it
//! replaces each known secret, in its raw, hex and base64 spellings, by its [`Redacted`]
//! text. [`RedactingSink`](crate::RedactingSink) applies it to every event before another sink sees it.

use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AuditError;

/// The text every redacted value starts with.
const PREFIX: &str = "hmac-sha256:";

/// The per-deployment key of the keyed hash that stands in for secrets.
///
/// Keep it as carefully as the secrets it hides: whoever holds it can confirm a guessed
/// secret. Its `Debug` form never shows the key.
#[derive(Clone)]
pub struct AuditKey {
    key: hmac::Key,
}

impl AuditKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from at least [`AuditKey::MIN_LEN`] random bytes (generate them once per
    /// deployment with a CSPRNG and keep them with the deployment's other keys).
    ///
    /// # Errors
    ///
    /// [`AuditError::WeakKey`] when fewer bytes are given.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(AuditError::WeakKey {
                bytes: bytes.len(),
                min: Self::MIN_LEN,
            });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        })
    }

    /// The keyed hash of `value`: what an event holds in its place, and what an
    /// investigator computes to search the trail for a known value.
    pub fn redact(&self, value: impl AsRef<[u8]>) -> Redacted {
        let tag = hmac::sign(&self.key, value.as_ref());
        let mut bytes = [0u8; 32];
        for (to, from) in bytes.iter_mut().zip(tag.as_ref()) {
            *to = *from;
        }
        Redacted(bytes)
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

/// A secret-bearing value as an event may hold it: only its keyed hash.
///
/// It serializes as the string `hmac-sha256:<64 hex digits>`, so it fits anywhere a
/// JSON value does, such as a `before`/`after` map:
///
/// ```
/// use nhi_audit::AuditKey;
/// let key = AuditKey::from_bytes(&[7u8; 32])?;
/// let state = serde_json::json!({ "api_key": key.redact("sk_live_abc") });
/// assert!(state["api_key"].as_str().unwrap().starts_with("hmac-sha256:"));
/// # Ok::<(), nhi_audit::AuditError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Redacted([u8; 32]);

impl Redacted {
    /// The text written in events, `hmac-sha256:<hex>`.
    pub fn as_text(&self) -> String {
        let mut text = String::with_capacity(PREFIX.len() + 64);
        text.push_str(PREFIX);
        for byte in self.0 {
            let _ = write!(text, "{byte:02x}");
        }
        text
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redacted({self})")
    }
}

impl FromStr for Redacted {
    type Err = AuditError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || AuditError::NotRedacted;
        let hex = text.strip_prefix(PREFIX).ok_or_else(bad)?;
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(index * 2..index * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

impl Serialize for Redacted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::from_bytes(&[42u8; 32]).unwrap()
    }

    #[test]
    fn the_same_value_gives_the_same_text_and_keys_differ() {
        let other = AuditKey::from_bytes(&[43u8; 32]).unwrap();
        assert_eq!(key().redact("abc"), key().redact(b"abc"));
        assert_ne!(key().redact("abc"), key().redact("abd"));
        assert_ne!(key().redact("abc"), other.redact("abc"));
        let text = key().redact("abc").to_string();
        assert_eq!(text.len(), PREFIX.len() + 64);
        assert_eq!(text.parse::<Redacted>().unwrap(), key().redact("abc"));
    }

    #[test]
    fn short_keys_and_malformed_texts_are_refused() {
        assert!(matches!(
            AuditKey::from_bytes(&[1u8; 31]),
            Err(AuditError::WeakKey { bytes: 31, .. })
        ));
        for bad in [
            "",
            "hmac-sha256:",
            "hmac-sha256:zz",
            &format!("{PREFIX}{}", "g".repeat(64)),
        ] {
            assert!(bad.parse::<Redacted>().is_err(), "{bad}");
        }
        assert!(!format!("{:?}", key()).contains("42"));
    }
}

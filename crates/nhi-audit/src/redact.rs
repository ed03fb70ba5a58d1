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
//! [`Scrubber`] covers the places a caller's free text can carry a secret by accident (a
//! resource path, an error message, a nested map in `before`/`after`, a byte array): it
//! replaces each known secret, in its raw, hex and base64 spellings, by its [`Redacted`]
//! text. [`RedactingSink`] applies it to every event before another sink sees it.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::hmac;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::sink::{AuditSink, Receipt};

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

/// Replaces known secrets, wherever they appear in an event, by their keyed hash.
///
/// Every string of the event is searched (message, result, trigger, decision reason,
/// resource path, identifiers, the keys and values of `before`/`after` at any depth) for
/// each secret's raw text, lower- and upper-case hex, and standard and URL-safe base64
/// with and without padding; a JSON array of byte values holding the secret's bytes is
/// replaced whole. A typed field (a resource, an identifier) whose scrubbed text is no
/// longer valid is left out, and the message says which field was withheld.
///
/// Scrubbing only finds secrets it was told about; a secret it never saw is kept out by
/// typing it as [`Redacted`] where it is produced.
#[derive(Debug, Clone)]
pub struct Scrubber {
    key: AuditKey,
    patterns: Vec<Pattern>,
}

/// One spelling of a known secret and the text that replaces it.
#[derive(Clone)]
struct Pattern {
    needle: Vec<u8>,
    replacement: String,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pattern(<redacted>)")
    }
}

impl Scrubber {
    /// The shortest secret the scrubber searches for; shorter ones would match ordinary
    /// text.
    pub const MIN_SECRET_LEN: usize = 6;

    /// A scrubber that knows no secret yet.
    pub fn new(key: AuditKey) -> Self {
        Self {
            key,
            patterns: Vec::new(),
        }
    }

    /// Adds a secret to search for.
    ///
    /// # Errors
    ///
    /// [`AuditError::SecretTooShort`] when it is shorter than
    /// [`Scrubber::MIN_SECRET_LEN`] bytes.
    pub fn add_secret(&mut self, secret: impl AsRef<[u8]>) -> Result<(), AuditError> {
        let secret = secret.as_ref();
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(AuditError::SecretTooShort {
                min: Self::MIN_SECRET_LEN,
            });
        }
        let replacement = self.key.redact(secret).as_text();
        let hex_lower = hex(secret);
        let spellings = [
            secret.to_vec(),
            hex_lower.clone().into_bytes(),
            hex_lower.to_ascii_uppercase().into_bytes(),
            STANDARD.encode(secret).into_bytes(),
            STANDARD_NO_PAD.encode(secret).into_bytes(),
            URL_SAFE.encode(secret).into_bytes(),
            URL_SAFE_NO_PAD.encode(secret).into_bytes(),
        ];
        for needle in spellings {
            if !self.patterns.iter().any(|p| p.needle == needle) {
                let replacement = replacement.clone();
                self.patterns.push(Pattern {
                    needle,
                    replacement,
                });
            }
        }
        // Longest first, so a padded spelling is replaced before its unpadded prefix.
        self.patterns
            .sort_by_key(|p| std::cmp::Reverse(p.needle.len()));
        Ok(())
    }

    /// `text` with every known secret replaced.
    pub fn scrub_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for pattern in &self.patterns {
            let Ok(needle) = std::str::from_utf8(&pattern.needle) else {
                continue;
            };
            if out.contains(needle) {
                out = Cow::Owned(out.replace(needle, &pattern.replacement));
            }
        }
        out
    }

    /// Scrubs a JSON value in place; says whether anything was replaced.
    pub fn scrub_value(&self, value: &mut Value) -> bool {
        match value {
            Value::String(text) => match self.scrub_text(text) {
                Cow::Owned(clean) => {
                    *text = clean;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => {
                if let Some(replacement) = self.byte_array_match(items) {
                    *value = Value::String(replacement);
                    return true;
                }
                let mut changed = false;
                for item in items {
                    changed |= self.scrub_value(item);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    changed |= self.scrub_value(&mut item);
                    let clean = self.scrub_text(&key).into_owned();
                    changed |= clean != key;
                    map.insert(clean, item);
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// `event` with every known secret replaced.
    pub fn scrub(&self, event: &AuditEvent) -> AuditEvent {
        let Ok(Value::Object(mut fields)) = serde_json::to_value(event) else {
            return withheld_all(event);
        };

        // Scrub field by field, remembering which ones changed.
        let mut changed = Vec::new();
        for (name, value) in &mut fields {
            if self.scrub_value(value) {
                changed.push(name.clone());
            }
        }
        if changed.is_empty() {
            return event.clone();
        }

        // A typed field whose scrubbed text no longer parses is withheld.
        let mut withheld = Vec::new();
        loop {
            match serde_json::from_value::<AuditEvent>(Value::Object(fields.clone())) {
                Ok(mut clean) => {
                    if !withheld.is_empty() {
                        let list = withheld.join("`, `");
                        clean.message = format!("{} (withheld: `{list}`)", clean.message);
                    }
                    return clean;
                }
                Err(_) => match changed.pop() {
                    Some(name) if name != "message" => {
                        fields.remove(&name);
                        withheld.push(name);
                    }
                    _ => return withheld_all(event),
                },
            }
        }
    }

    /// The replacement for an array of byte values that holds a secret's bytes.
    fn byte_array_match(&self, items: &[Value]) -> Option<String> {
        let bytes: Vec<u8> = items
            .iter()
            .map(|item| item.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<_>>()?;
        self.patterns
            .iter()
            .find(|p| {
                bytes
                    .windows(p.needle.len())
                    .any(|w| w == p.needle.as_slice())
            })
            .map(|p| p.replacement.clone())
    }
}

/// A sink wrapper that scrubs every event with a [`Scrubber`] before passing it on.
#[derive(Debug)]
pub struct RedactingSink<S> {
    scrubber: Scrubber,
    inner: S,
}

impl<S> RedactingSink<S> {
    /// Scrubs events with `scrubber`, then records them in `inner`.
    pub fn new(scrubber: Scrubber, inner: S) -> Self {
        Self { scrubber, inner }
    }

    /// The scrubber, to add secrets as they are issued.
    pub fn scrubber_mut(&mut self) -> &mut Scrubber {
        &mut self.scrubber
    }
}

#[async_trait::async_trait]
impl<S: AuditSink> AuditSink for RedactingSink<S> {
    async fn record(&self, event: &AuditEvent) -> Result<Receipt, AuditError> {
        let clean = self.scrubber.scrub(event);
        self.inner.record(&clean).await
    }
}

/// The last resort when an event cannot be scrubbed field by field: only its kind and
/// time remain.
fn withheld_all(event: &AuditEvent) -> AuditEvent {
    AuditEvent::new(
        event.kind,
        event.time,
        "event withheld: it held a secret that could not be removed",
    )
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
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

    #[test]
    fn text_is_scrubbed_in_every_spelling() {
        let mut scrubber = Scrubber::new(key());
        let secret = "hunter2-very-secret";
        scrubber.add_secret(secret).unwrap();
        let tag = key().redact(secret).to_string();
        for spelling in [
            secret.to_owned(),
            hex(secret.as_bytes()),
            hex(secret.as_bytes()).to_uppercase(),
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
        ] {
            let text = format!("x {spelling} y");
            assert_eq!(scrubber.scrub_text(&text), format!("x {tag} y"));
        }
        assert!(matches!(
            scrubber.scrub_text("nothing here"),
            Cow::Borrowed(_)
        ));
        assert!(scrubber.add_secret("abc").is_err());
    }
}

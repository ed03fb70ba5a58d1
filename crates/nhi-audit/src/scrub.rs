//! The scrubber: replaces known secrets, wherever a caller's text carries them, by
//! their keyed hash, and the sink wrapper that applies it to every event.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::error::AuditError;
use crate::event::AuditEvent;
use crate::redact::AuditKey;
use crate::sink::{AuditSink, Receipt};

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
/// typing it as [`Redacted`](crate::Redacted) where it is produced.
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

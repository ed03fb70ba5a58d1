//! [`CredentialSecret`]: the one type that holds a token or key as text.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A secret as presented or issued (a token, a key).
///
/// Its `Debug` prints `CredentialSecret(<redacted>)`, it has no `Display`, and its memory
/// is wiped when it is dropped. The only way to read it is [`CredentialSecret::expose_secret`].
#[derive(Clone)]
pub struct CredentialSecret(SecretString);

impl CredentialSecret {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    /// The secret text; call this only to hand the secret to its holder or to a verifier.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The secret's length in bytes (which reveals nothing worth hiding).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for CredentialSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = CredentialSecret::new("hunter2-token");
        assert_eq!(format!("{secret:?}"), "CredentialSecret(<redacted>)");
        assert_eq!(format!("{secret:#?}"), "CredentialSecret(<redacted>)");
        assert_eq!(secret.expose_secret(), "hunter2-token");
        assert_eq!(CredentialSecret::from(String::new()).len(), 0);
    }
}

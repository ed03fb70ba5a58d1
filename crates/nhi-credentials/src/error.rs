//! The error type of this crate.

use std::error::Error as StdError;

use nhi_core::{CredentialId, IdentityId, Timestamp};

/// Why a credential could not be issued or verified.
///
/// The variants fall in three groups, which callers treat differently (see
/// [`CredentialError::is_rejection`]):
/// - the presented credential was refused (hostile or simply stale input): `TooLarge`,
///   `Malformed`, `UnsupportedAlgorithm`, `UnknownKey`, `BadSignature`, `WrongIssuer`,
///   `WrongAudience`, `Expired`, `NotYetValid`, `UnknownCredential`, `BadChecksum`,
///   `WrongSecret`, `NotTrusted`, `ReuseDetected` and `Revoked`;
/// - the caller asked for something impossible: `InvalidRequest`, `InvalidConfig`,
///   `InvalidScope`, `RotationNotConfirmed`, `KeyInUse`;
/// - something underneath failed: `CryptoProviderMissing`, `Crypto`, `Token`, `Backend`.
///
/// No variant ever carries a secret; presented text is shortened before it is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The presented credential is longer than any credential this provider issues.
    #[error("credential refused: it is {len} bytes long, the most accepted is {max}")]
    TooLarge {
        /// Length of the presented credential in bytes.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// The presented credential is not well formed.
    #[error("credential refused: it is malformed ({reason})")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The token names a signature algorithm this provider does not accept.
    #[error("credential refused: algorithm `{alg}` is not accepted for this key")]
    UnsupportedAlgorithm {
        /// The algorithm named in the token header, shortened.
        alg: String,
    },
    /// The token names a key id that is not in the key ring.
    #[error("unknown key id `{kid}`: it is not (or no longer) in the key ring")]
    UnknownKey {
        /// The key id, shortened.
        kid: String,
    },
    /// The signature does not match the token's content and key.
    #[error("credential refused: the signature does not verify")]
    BadSignature,
    /// The token was issued by someone else.
    #[error("credential refused: issuer `{issuer}` is not the configured issuer")]
    WrongIssuer {
        /// The issuer named in the token, shortened.
        issuer: String,
    },
    /// The token is meant for another audience.
    #[error("credential refused: it is not meant for audience `{expected}`")]
    WrongAudience {
        /// The audience this provider serves.
        expected: String,
    },
    /// The credential has expired.
    #[error("credential refused: it expired at {expired_at}; request a new one")]
    Expired {
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The credential is not valid yet (or claims to be issued in the future).
    #[error("credential refused: it is not valid before {valid_from}")]
    NotYetValid {
        /// The earliest time it would be accepted.
        valid_from: Timestamp,
    },
    /// No credential like the presented one was ever issued here.
    #[error("credential refused: it is not known to this provider")]
    UnknownCredential,
    /// The API key's checksum does not match: a look-alike or a mistyped key, refused
    /// without a lookup.
    #[error("credential refused: its checksum does not match; check it was copied whole")]
    BadChecksum,
    /// The key id is known but the secret does not match it.
    #[error("credential refused: the secret does not match")]
    WrongSecret,
    /// The external token verified, but no trust policy binds its claims to an identity.
    #[error("credential refused: no trust policy accepts it ({reason})")]
    NotTrusted {
        /// Which binding failed.
        reason: String,
    },
    /// An older generation of a renewable credential was used after a newer one: a copy
    /// is in other hands. The host should lock the identity.
    #[error(
        "credential `{credential_id}` of `{identity}` was used after its successor \
         (generation {generation}, newest {latest}): lock the identity and investigate"
    )]
    ReuseDetected {
        /// The superseded credential's public id.
        credential_id: CredentialId,
        /// Whose credential it is.
        identity: IdentityId,
        /// Its generation.
        generation: u64,
        /// The newest generation used so far.
        latest: u64,
    },
    /// The credential was revoked; its use may be an attack and should raise an anomaly.
    #[error("credential `{credential_id}` has been revoked")]
    Revoked {
        /// The revoked credential's public id.
        credential_id: CredentialId,
    },

    /// The issue request cannot be served as asked.
    #[error("invalid credential request: {reason}")]
    InvalidRequest {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The provider configuration is not acceptable.
    #[error("invalid credential configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// None of the requested scopes may be granted to this client.
    #[error("invalid scope: {reason}")]
    InvalidScope {
        /// What was asked and what is allowed.
        reason: String,
    },
    /// A rotation was finished before its successor was confirmed; nothing was revoked.
    #[error("rotation not finished: confirm that `{credential_id}` works first")]
    RotationNotConfirmed {
        /// The successor awaiting confirmation.
        credential_id: CredentialId,
    },
    /// The key cannot be retired because it signs new credentials.
    #[error("key `{kid}` is the active signing key: rotate first, then retire it")]
    KeyInUse {
        /// The active key's id.
        kid: String,
    },

    /// No cryptography backend is installed for `jsonwebtoken`.
    #[error(
        "no cryptography provider is installed for signed tokens: call \
         `install_ring_crypto_provider()` at startup"
    )]
    CryptoProviderMissing,
    /// The cryptography library failed (random numbers, key generation, signing).
    #[error("cryptography failed: {reason}")]
    Crypto {
        /// What failed.
        reason: &'static str,
    },
    /// The token library failed while building or checking a token.
    #[error("token library failed")]
    Token {
        /// The token library's error.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// A plugged-in store (for example a shared revocation list) failed.
    #[error("credential backend failed: {what}")]
    Backend {
        /// What was being done.
        what: String,
        /// The backend's own error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl CredentialError {
    /// Whether this error means the presented credential was refused, as opposed to a
    /// misuse by the caller or a failure underneath.
    ///
    /// Refusals are answered with "unauthenticated"; the others are server-side errors.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. }
                | Self::Malformed { .. }
                | Self::UnsupportedAlgorithm { .. }
                | Self::UnknownKey { .. }
                | Self::BadSignature
                | Self::WrongIssuer { .. }
                | Self::WrongAudience { .. }
                | Self::Expired { .. }
                | Self::NotYetValid { .. }
                | Self::UnknownCredential
                | Self::BadChecksum
                | Self::WrongSecret
                | Self::NotTrusted { .. }
                | Self::ReuseDetected { .. }
                | Self::Revoked { .. }
        )
    }

    /// A `Malformed` error whose reason is shortened so hostile input stays out of logs.
    pub(crate) fn malformed(reason: impl AsRef<str>) -> Self {
        Self::Malformed {
            reason: clip(reason.as_ref()),
        }
    }
}

/// Shortens presented text kept in an error so that a hostile megabyte does not reach logs.
pub(crate) fn clip(value: &str) -> String {
    nhi_core::shorten(value, 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_shortens_on_a_char_boundary() {
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.len() <= 64 + '…'.len_utf8());
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn rejections_are_told_apart_from_failures() {
        assert!(CredentialError::BadSignature.is_rejection());
        assert!(!CredentialError::CryptoProviderMissing.is_rejection());
        assert!(!CredentialError::InvalidRequest { reason: "x".into() }.is_rejection());
    }
}

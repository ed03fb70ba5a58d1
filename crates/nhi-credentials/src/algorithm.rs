//! [`SignatureAlgorithm`]: the JWS algorithms this crate signs or verifies with.

use std::fmt;

use jsonwebtoken::Algorithm;

/// A JWS signature algorithm (RFC 7518, RFC 8037) supported by this crate.
///
/// A key is made for exactly one algorithm; a token is checked with the algorithm of
/// the key its `kid` names, and a header naming any other algorithm is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// Ed25519 (RFC 8037). Issued and verified.
    EdDSA,
    /// ECDSA on P-256 with SHA-256. Issued and verified.
    ES256,
    /// ECDSA on P-384 with SHA-384. Verified (external issuers).
    ES384,
    /// RSASSA-PKCS1-v1_5 with SHA-256. Verified (external issuers).
    RS256,
    /// RSASSA-PSS with SHA-256. Verified (external issuers).
    PS256,
    /// HMAC-SHA256 with a shared secret. Verified only for an issuer configured with
    /// one; never with a public key.
    HS256,
}

impl SignatureAlgorithm {
    /// The name written in a JWS header's `alg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::HS256 => "HS256",
        }
    }

    /// The algorithm named exactly `name` (case matters), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::EdDSA,
            Self::ES256,
            Self::ES384,
            Self::RS256,
            Self::PS256,
            Self::HS256,
        ]
        .into_iter()
        .find(|alg| alg.as_str() == name)
    }

    /// The `jsonwebtoken` algorithm.
    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
            Self::HS256 => Algorithm::HS256,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact() {
        assert_eq!(
            SignatureAlgorithm::from_name("ES256"),
            Some(SignatureAlgorithm::ES256)
        );
        for other in [
            "none", "None", "NONE", "eddsa", "es256", "HS512", "", "RS256 ",
        ] {
            assert_eq!(SignatureAlgorithm::from_name(other), None, "{other}");
        }
    }
}

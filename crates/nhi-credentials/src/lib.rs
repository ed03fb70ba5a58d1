//! Credentials for non-human identities: issue a short-lived credential, verify a
//! presented one, rotate signing keys, revoke.
//!
//! Every credential type sits behind the [`CredentialProvider`] trait: `issue` turns an
//! [`IssueRequest`] into an [`IssuedCredential`], `verify` turns a presented
//! [`CredentialSecret`] into the [`Principal`] it proves, or a [`CredentialError`] that
//! says why it was refused. A revoked credential is reported as
//! [`CredentialError::Revoked`], distinct from other refusals, because presenting one
//! may be an attack.
//!
//! - [`JwtProvider`] issues JSON Web Tokens signed by the active key of a [`KeyRing`]
//!   (EdDSA or ES256) and verifies them strictly against its own clock; the ring
//!   publishes its public keys as a JWKS and keeps previous keys for an overlap window.
//! - [`ApiKeyProvider`] issues checksummed API keys (`nhik_<id>_<secret><crc>`) for
//!   systems that accept nothing else; only a keyed hash is stored, look-alikes are
//!   refused offline, and renewed keys detect reuse of their predecessors.
//! - [`OAuthClientProvider`] registers OAuth clients and exchanges their credentials for
//!   short-lived tokens with narrowed scopes (RFC 6749 section 4.4).
//! - [`TokenExchange`] trusts external OIDC issuers through their JWKS
//!   ([`ExternalVerifier`], [`JwksSource`]) and exchanges their tokens, bound to an
//!   identity by a [`TrustPolicy`], for ours (RFC 8693, with `act` for delegation).
//! - [`RotationPolicy`], [`Rotation`] and [`GenerationCounter`] say when to rotate,
//!   revoke the old credential only once the new one is confirmed, and detect reuse.
//! - [`RevocationList`] remembers revoked credential ids until they would have expired;
//!   [`MemoryRevocationList`] keeps them in memory.
//! - [`MockProvider`] issues opaque random tokens for hosts' tests.
//!
//! Tokens are built and checked by `jsonwebtoken`, whose cryptography is pluggable: this
//! crate supplies a ring-backed provider ([`ring_crypto_provider`]) and installs it when
//! the host has not installed its own ([`install_ring_crypto_provider`]).
//!
//! No secret is ever logged, displayed or put in an error: secrets live in
//! [`CredentialSecret`], whose `Debug` is redacted, key material in [`SigningKey`] and
//! [`SecretHasher`], whose `Debug` shows no key, and stored API key records hold only a
//! keyed hash. Secrets are compared in constant time.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nhi_core::{Clock, Environment, IdentityId, ManualClock, TenantId, Timestamp};
//! use nhi_credentials::{
//!     CredentialError, CredentialProvider, IssueRequest, JwtConfig, JwtProvider, KeyRing,
//!     MemoryRevocationList, RevocationList,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_767_225_600)));
//! let revocations = Arc::new(MemoryRevocationList::new());
//! let provider = JwtProvider::new(
//!     JwtConfig::new("https://nhi.example", "payments-api"),
//!     Arc::new(KeyRing::generate()?),
//!     revocations.clone(),
//!     clock.clone(),
//! )?;
//!
//! let request = IssueRequest::new(
//!     IdentityId::new("restart-agent")?,
//!     TenantId::new("acme")?,
//!     Environment::new("production")?,
//! )
//! .with_scopes(["deployment.restart"]);
//! let issued = provider.issue(&request).await?;
//!
//! let principal = provider.verify(&issued.secret).await?;
//! assert_eq!(principal.identity.as_str(), "restart-agent");
//! assert_eq!(principal.scopes, ["deployment.restart"]);
//!
//! // Revoked: refused with a distinct error.
//! revocations.revoke(&issued.credential_id, clock.now(), issued.expires_at).await?;
//! let refused = provider.verify(&issued.secret).await.unwrap_err();
//! assert!(matches!(refused, CredentialError::Revoked { .. }));
//!
//! // Five minutes later the token has expired anyway.
//! clock.advance(Duration::from_secs(5 * 60 + 30));
//! assert!(provider.verify(&issued.secret).await.is_err());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod algorithm;
mod apikey;
mod crypto;
mod error;
mod federation;
mod jwt;
mod keys;
mod mock;
mod oauth;
mod provider;
mod random;
mod revocation;
mod rotation;
mod secret;

pub use algorithm::SignatureAlgorithm;
pub use apikey::hasher::{MIN_HASH_KEY_BYTES, SecretHasher};
pub use apikey::store::{ApiKeyRecord, ApiKeyStore, MemoryApiKeyStore};
pub use apikey::{
    API_KEY_DEFAULT_LIFETIME, API_KEY_MAX_LIFETIME, API_KEY_PREFIX, ApiKeyConfig, ApiKeyProvider,
    CLIENT_SECRET_PREFIX,
};
pub use crypto::{install_ring_crypto_provider, ring_crypto_provider};
pub use error::CredentialError;
pub use federation::{
    ExternalClaims, ExternalIssuer, ExternalVerifier, GITHUB_ACTIONS_ISSUER, JwksSource,
    TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT, TokenExchange,
    TokenExchangeRequest, TokenExchangeResponse, TrustPolicy,
};
pub use jwt::JwtProvider;
pub use jwt::config::{DEFAULT_LEEWAY, JwtConfig, MAX_LEEWAY};
pub use jwt::token::MAX_TOKEN_BYTES;
pub use keys::{JwkSet, KeyRing, MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS, SigningKey, VerifyingKey};
pub use mock::MockProvider;
pub use oauth::{ClientCredentialsRequest, OAuthClientProvider, TokenResponse};
pub use provider::{
    CredentialProvider, DEFAULT_LIFETIME, DEFAULT_MAX_LIFETIME, IssueRequest, IssuedCredential,
    Principal,
};
pub use revocation::{MemoryRevocationList, RevocationList};
pub use rotation::{GenerationCheck, GenerationCounter, Rotation, RotationPolicy, RotationStatus};
pub use secret::CredentialSecret;

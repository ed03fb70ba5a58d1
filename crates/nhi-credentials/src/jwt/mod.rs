//! [`JwtProvider`]: short-lived Ed25519-signed tokens, checked strictly.

pub(crate) mod claims;
pub(crate) mod config;

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use nhi_core::{CredentialId, CredentialKind, SharedClock, Timestamp};

use crate::crypto::{ensure_crypto_provider, install_ring_crypto_provider};
use crate::error::CredentialError;
use crate::keys::KeyRing;
use crate::provider::{CredentialProvider, IssueRequest, IssuedCredential, Principal};
use crate::random::random_hex;
use crate::revocation::RevocationList;
use crate::secret::CredentialSecret;
use claims::{Audience, Claims, MAX_TOKEN_BYTES, precheck};
use config::JwtConfig;

/// Issues and verifies EdDSA (Ed25519) JSON Web Tokens.
///
/// Tokens carry `iss`, `sub` (the identity), `aud`, `exp`, `nbf`, `iat`, `jti` (the
/// credential id, 128 random bits in hex), `scope` (space-separated), `tenant` and `env`,
/// and name their signing key in the header's `kid`.
///
/// Verification trusts nothing in the token it has not checked: the algorithm comes from
/// the key (only `EdDSA`), the key must be in the [`KeyRing`], the issuer must match
/// exactly, the audience must be named, every time claim must be present and is checked
/// against the provider's clock with the configured leeway, and finally the `jti` must not
/// be on the [`RevocationList`].
pub struct JwtProvider {
    config: JwtConfig,
    keys: Arc<KeyRing>,
    revocations: Arc<dyn RevocationList>,
    clock: SharedClock,
    validation: Validation,
}

impl JwtProvider {
    /// A provider signing with `keys`, checking `revocations`, telling time by `clock`.
    ///
    /// Installs the ring cryptography provider for `jsonwebtoken` unless the host has
    /// installed one.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when `config` does not validate;
    /// [`CredentialError::CryptoProviderMissing`] when no cryptography can be installed.
    pub fn new(
        config: JwtConfig,
        keys: Arc<KeyRing>,
        revocations: Arc<dyn RevocationList>,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        config.validate()?;
        install_ring_crypto_provider()?;
        Ok(Self {
            config,
            keys,
            revocations,
            clock,
            validation: signature_only_validation(),
        })
    }

    /// The key ring, to rotate keys or publish the JWKS.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// The revocation list consulted on every verification.
    pub fn revocations(&self) -> &Arc<dyn RevocationList> {
        &self.revocations
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The claims a request asks for, issued now.
    fn claims_for(
        &self,
        request: &IssueRequest,
        now: Timestamp,
    ) -> Result<Claims, CredentialError> {
        request.check_scopes()?;
        let audience = request.audience.as_deref().unwrap_or(&self.config.audience);
        if audience.trim().is_empty() {
            return Err(CredentialError::InvalidRequest {
                reason: "the audience must not be empty".to_owned(),
            });
        }

        // JWT times are whole seconds; a part of a second of lifetime rounds up.
        let lifetime =
            request.granted_lifetime(self.config.default_lifetime, self.config.max_lifetime)?;
        let seconds = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
        let iat = now.unix_secs();
        let exp = iat.saturating_add(seconds);

        Ok(Claims {
            iss: self.config.issuer.clone(),
            sub: request.identity.to_string(),
            aud: Audience::One(audience.to_owned()),
            exp,
            nbf: iat,
            iat,
            jti: random_hex::<16>()?,
            scope: (!request.scopes.is_empty()).then(|| request.scopes.join(" ")),
            tenant: Some(request.tenant.to_string()),
            env: Some(request.environment.to_string()),
        })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for JwtProvider {
    fn kind(&self) -> CredentialKind {
        CredentialKind::Jwt
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        ensure_crypto_provider()?;
        let claims = self.claims_for(request, self.clock.now())?;
        let credential_id =
            CredentialId::new(&claims.jti).map_err(|_| CredentialError::Crypto {
                reason: "a random credential id was not a valid id",
            })?;

        // Sign with the active key, naming it in the header.
        let key = self.keys.active();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, key.encoding_key())
            .map_err(|source| CredentialError::Token { source })?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(CredentialError::InvalidRequest {
                reason: format!(
                    "the token would exceed {MAX_TOKEN_BYTES} bytes: ask for fewer scopes"
                ),
            });
        }

        Ok(IssuedCredential {
            credential_id,
            kind: CredentialKind::Jwt,
            secret: CredentialSecret::new(token),
            issued_at: Timestamp::from_unix_secs(claims.iat),
            expires_at: Timestamp::from_unix_secs(claims.exp),
        })
    }

    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        ensure_crypto_provider()?;
        let token = presented.expose_secret();

        // Shape and header first, then the signature with the key the header names.
        let kid = precheck(token)?;
        let key = self
            .keys
            .find(&kid)
            .ok_or_else(|| CredentialError::UnknownKey {
                kid: crate::error::clip(&kid),
            })?;
        let claims = jsonwebtoken::decode::<Claims>(token, key.decoding_key(), &self.validation)
            .map_err(decode_error)?
            .claims;

        // The claims, against our clock, then the revocation list.
        let now = self.clock.now();
        let principal = claims.into_principal(&self.config, now)?;
        if self
            .revocations
            .is_revoked(&principal.credential_id, now)
            .await?
        {
            return Err(CredentialError::Revoked {
                credential_id: principal.credential_id,
            });
        }
        Ok(principal)
    }
}

impl fmt::Debug for JwtProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtProvider")
            .field("config", &self.config)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// `jsonwebtoken` checks only the signature and the algorithm; every claim is checked by
/// this crate against its own clock, because that library reads the system time.
fn signature_only_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation
}

/// Sorts a `jsonwebtoken` failure into a refusal of the token or a library failure.
fn decode_error(err: jsonwebtoken::errors::Error) -> CredentialError {
    match err.kind() {
        ErrorKind::InvalidSignature => CredentialError::BadSignature,
        ErrorKind::Json(json) => CredentialError::malformed(format!("claims: {json}")),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            CredentialError::malformed("the token is not valid base64url JSON")
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            CredentialError::UnsupportedAlgorithm {
                alg: "(not EdDSA)".to_owned(),
            }
        }
        _ => CredentialError::Token { source: err },
    }
}

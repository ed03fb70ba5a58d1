//! [`JwtProvider`]: short-lived signed tokens (EdDSA or ES256), checked strictly.

pub(crate) mod claims;
pub(crate) mod config;
pub(crate) mod strict_json;
pub(crate) mod token;

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nhi_core::{CredentialId, CredentialKind, SharedClock, Timestamp};
use serde_json::json;

use crate::crypto::{ensure_crypto_provider, install_ring_crypto_provider};
use crate::error::CredentialError;
use crate::keys::KeyRing;
use crate::provider::{CredentialProvider, IssueRequest, IssuedCredential, Principal};
use crate::random::random_hex;
use crate::revocation::{RevocationList, is_revoked};
use crate::secret::CredentialSecret;
use claims::{Actor, Audience, Claims};
use config::JwtConfig;
use token::MAX_TOKEN_BYTES;

/// Issues and verifies JSON Web Tokens signed with EdDSA (Ed25519) or ES256 (P-256),
/// whichever the active key of its [`KeyRing`] is.
///
/// Tokens carry `iss`, `sub` (the identity), `aud`, `exp`, `nbf`, `iat`, `jti` (the
/// credential id, 128 random bits in hex), `scope` (space-separated), `tenant`, `env`,
/// and `act` when obtained on someone's behalf (RFC 8693); the header names the signing
/// key in `kid`.
///
/// Verification trusts nothing in the token it has not checked: it refuses tokens over
/// 8 KiB unread, duplicate JSON keys and `crit` headers; the key must be in the
/// [`KeyRing`] and the algorithm comes from that key, never from the header (so `none`
/// or `HS256` keyed with a public key are refused); the issuer must match exactly, the
/// audience must be named, every claim must be present with its JSON type, times are
/// checked against the provider's clock with the configured leeway and `exp - iat`
/// against the maximum lifetime, and finally the `jti` must not be on the
/// [`RevocationList`].
pub struct JwtProvider {
    config: JwtConfig,
    keys: Arc<KeyRing>,
    revocations: Arc<dyn RevocationList>,
    clock: SharedClock,
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

    /// Makes a fresh key of the same algorithm active now; the old key keeps verifying
    /// until [`JwtProvider::retire_expired_keys`] finds its last token expired.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Crypto`] when key generation fails.
    pub fn rotate_keys(&self) -> Result<(), CredentialError> {
        let algorithm = self.keys.active().algorithm();
        let key = crate::keys::SigningKey::generate_for(algorithm)?;
        self.keys.rotate_at(key, self.clock.now())
    }

    /// Retires previous keys whose last token has expired (rotated out more than the
    /// maximum lifetime plus leeway ago); returns their ids.
    pub fn retire_expired_keys(&self) -> Vec<String> {
        let lifetime = self.config.max_lifetime.saturating_add(self.config.leeway);
        self.keys.retire_expired(self.clock.now(), lifetime)
    }

    /// Issues a token for `request` that names `actor` in its `act` claim (RFC 8693):
    /// the actor acts on behalf of the request's identity.
    ///
    /// # Errors
    ///
    /// As [`CredentialProvider::issue`].
    pub(crate) async fn issue_acting(
        &self,
        request: &IssueRequest,
        actor: Option<Actor>,
    ) -> Result<IssuedCredential, CredentialError> {
        crate::crypto::ensure_crypto_provider()?;
        let mut claims = self.claims_for(request, self.clock.now())?;
        claims.act = actor;
        let credential_id =
            CredentialId::new(&claims.jti).map_err(|_| CredentialError::Crypto {
                reason: "a random credential id was not a valid id",
            })?;
        let token = self.sign(&claims)?;
        Ok(IssuedCredential {
            credential_id,
            kind: CredentialKind::Jwt,
            secret: CredentialSecret::new(token),
            issued_at: Timestamp::from_unix_secs(claims.iat),
            expires_at: Timestamp::from_unix_secs(claims.exp),
        })
    }

    /// Signs `claims` with the active key, naming it in the header.
    fn sign(&self, claims: &Claims) -> Result<String, CredentialError> {
        let key = self.keys.active();
        let header = json!({"alg": key.algorithm().as_str(), "typ": "JWT", "kid": key.kid()});
        let mut token = format!("{}.{}", base64_json(&header)?, base64_json(claims)?);
        let signature = key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));

        if token.len() > MAX_TOKEN_BYTES {
            return Err(CredentialError::InvalidRequest {
                reason: format!(
                    "the token would exceed {MAX_TOKEN_BYTES} bytes: ask for fewer scopes"
                ),
            });
        }
        Ok(token)
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
            act: None,
        })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for JwtProvider {
    fn kind(&self) -> CredentialKind {
        CredentialKind::Jwt
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        self.issue_acting(request, None).await
    }

    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        ensure_crypto_provider()?;
        let token = presented.expose_secret();

        // Shape and header first, then the signature with the key the header names.
        let compact = token::split(token)?;
        let kid = compact
            .kid
            .as_deref()
            .ok_or_else(|| CredentialError::malformed("the header names no key id"))?;
        let key = self
            .keys
            .find(kid)
            .ok_or_else(|| CredentialError::UnknownKey {
                kid: crate::error::clip(kid),
            })?;
        token::check_signature(&compact, key.verifying_key())?;
        let claims: Claims = serde_json::from_value(token::payload_json(&compact)?)
            .map_err(|err| CredentialError::malformed(format!("claims: {err}")))?;

        // The claims, against our clock, then the revocation list.
        let now = self.clock.now();
        let principal = claims.into_principal(&self.config, now)?;
        if is_revoked(self.revocations.as_ref(), &principal.credential_id, now).await? {
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

/// `value` as JSON, base64url without padding.
fn base64_json<T: serde::Serialize>(value: &T) -> Result<String, CredentialError> {
    let json = serde_json::to_vec(value).map_err(|_| CredentialError::Crypto {
        reason: "claims could not be written as JSON",
    })?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

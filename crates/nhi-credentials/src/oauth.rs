//! [`OAuthClientProvider`]: OAuth 2.0 client credentials (RFC 6749 section 4.4), without
//! the transport: a client id and a hashed client secret, exchanged for a short-lived
//! token whose scopes are narrowed to what the client may have.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{CredentialKind, SharedClock};

use crate::apikey::hasher::SecretHasher;
use crate::apikey::store::ApiKeyStore;
use crate::apikey::{ApiKeyConfig, ApiKeyProvider};
use crate::error::{CredentialError, clip};
use crate::jwt::JwtProvider;
use crate::provider::{CredentialProvider, IssueRequest, IssuedCredential, Principal};
use crate::revocation::RevocationList;
use crate::secret::CredentialSecret;

/// A `grant_type=client_credentials` token request, as read from the token endpoint.
#[derive(Debug, Clone)]
pub struct ClientCredentialsRequest {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (from the body or HTTP Basic authentication).
    pub client_secret: CredentialSecret,
    /// `scope`: space-separated; `None` asks for every scope the client may have.
    pub scope: Option<String>,
    /// The audience the token is for; `None` takes the token provider's default.
    pub audience: Option<String>,
    /// A shorter lifetime than the token provider's default, if wanted.
    pub lifetime: Option<Duration>,
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The access token and its public id and times.
    pub access_token: IssuedCredential,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The scopes granted, space-separated; may be narrower than asked.
    pub scope: String,
}

/// Registers OAuth clients and exchanges their credentials for short-lived tokens.
///
/// A client secret reads `nhic_<client id>_<secret><checksum>` and is handled exactly
/// like an API key: shown once, stored as a keyed hash, checked in constant time,
/// renewable with reuse detection. The scopes of the registration are the most the
/// client may ask for.
pub struct OAuthClientProvider {
    clients: ApiKeyProvider,
    tokens: Arc<JwtProvider>,
}

impl OAuthClientProvider {
    /// A provider keeping clients in `store` and issuing access tokens with `tokens`.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for bad settings.
    pub fn new(
        config: ApiKeyConfig,
        hasher: SecretHasher,
        store: Arc<dyn ApiKeyStore>,
        revocations: Arc<dyn RevocationList>,
        tokens: Arc<JwtProvider>,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        let clients = ApiKeyProvider::new(config, hasher, store, revocations, clock)?
            .with_kind(CredentialKind::OauthClient);
        Ok(Self { clients, tokens })
    }

    /// Exchanges client credentials for an access token.
    ///
    /// # Errors
    ///
    /// A refusal when the client cannot be authenticated (a client id that does not
    /// match its secret is [`CredentialError::WrongSecret`]);
    /// [`CredentialError::InvalidScope`] when none of the requested scopes is allowed.
    pub async fn exchange(
        &self,
        request: &ClientCredentialsRequest,
    ) -> Result<TokenResponse, CredentialError> {
        let client = self.clients.verify(&request.client_secret).await?;
        if client.credential_id.as_str() != request.client_id {
            return Err(CredentialError::WrongSecret);
        }
        let scopes = narrow(request.scope.as_deref(), &client.scopes)?;

        let token_request = IssueRequest {
            identity: client.identity,
            tenant: tenant_of(client.tenant)?,
            environment: client
                .environment
                .ok_or_else(|| CredentialError::InvalidRequest {
                    reason: "the client has no environment".to_owned(),
                })?,
            scopes,
            lifetime: request.lifetime,
            audience: request.audience.clone(),
        };
        let issued = self.tokens.issue(&token_request).await?;
        Ok(TokenResponse {
            token_type: "Bearer",
            expires_in: issued.expires_at.duration_since(issued.issued_at).as_secs(),
            scope: token_request.scopes.join(" "),
            access_token: issued,
        })
    }

    /// Issues a new secret for the client holding `presented`; see
    /// [`ApiKeyProvider::renew`].
    ///
    /// # Errors
    ///
    /// Any refusal of the presented secret, or a store failure.
    pub async fn renew_secret(
        &self,
        presented: &CredentialSecret,
    ) -> Result<IssuedCredential, CredentialError> {
        self.clients.renew(presented).await
    }
}

#[async_trait::async_trait]
impl CredentialProvider for OAuthClientProvider {
    fn kind(&self) -> CredentialKind {
        CredentialKind::OauthClient
    }

    /// Registers a client allowed `request.scopes`; the credential id is the client id.
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        self.clients.issue(request).await
    }

    /// Authenticates a client secret; the principal's scopes are the allowed ones.
    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        self.clients.verify(presented).await
    }
}

impl fmt::Debug for OAuthClientProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientProvider")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// The requested scopes the client may have, in the order asked, without repeats;
/// every allowed scope when none is asked.
pub(crate) fn narrow(
    requested: Option<&str>,
    allowed: &[String],
) -> Result<Vec<String>, CredentialError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|scope| !scope.is_empty()) {
        if allowed.iter().any(|one| one == scope) && !granted.iter().any(|one| one == scope) {
            granted.push(scope.to_owned());
        }
    }
    if granted.is_empty() {
        return Err(CredentialError::InvalidScope {
            reason: format!("none of `{}` is allowed for this client", clip(requested)),
        });
    }
    Ok(granted)
}

fn tenant_of(tenant: Option<nhi_core::TenantId>) -> Result<nhi_core::TenantId, CredentialError> {
    tenant.ok_or_else(|| CredentialError::InvalidRequest {
        reason: "the client has no tenant".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn scopes_narrow_to_the_intersection() {
        assert_eq!(narrow(None, &allowed()).unwrap(), allowed());
        assert_eq!(narrow(Some("c a x"), &allowed()).unwrap(), ["c", "a"]);
        assert_eq!(narrow(Some("b  b"), &allowed()).unwrap(), ["b"]);
        assert!(matches!(
            narrow(Some("x y"), &allowed()),
            Err(CredentialError::InvalidScope { .. })
        ));
        assert!(narrow(Some(""), &allowed()).is_err());
    }
}

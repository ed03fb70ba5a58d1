//! The [`CredentialProvider`] contract: issue a credential, verify a presented one.

use std::time::Duration;

use nhi_core::{CredentialId, CredentialKind, Environment, IdentityId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::CredentialError;
use crate::secret::CredentialSecret;

/// How long a credential lives when the request does not say.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The longest a credential may live unless a provider is configured otherwise.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// What to issue a credential for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// The identity the credential proves.
    pub identity: IdentityId,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// The environment it is bound to.
    pub environment: Environment,
    /// The scopes granted; each a single word without spaces.
    pub scopes: Vec<String>,
    /// How long it should live; `None` takes the provider's default (5 minutes). Always
    /// capped at the provider's hard maximum.
    pub lifetime: Option<Duration>,
    /// Who it is meant for; `None` takes the provider's default audience.
    pub audience: Option<String>,
}

impl IssueRequest {
    /// A request with no scopes, the default lifetime and the default audience.
    pub fn new(identity: IdentityId, tenant: TenantId, environment: Environment) -> Self {
        Self {
            identity,
            tenant,
            environment,
            scopes: Vec::new(),
            lifetime: None,
            audience: None,
        }
    }

    /// The same request granting `scopes`.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The same request asking for `lifetime`.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The same request for `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The lifetime to grant: the requested or `default` one, capped at `max`.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] for a zero lifetime.
    pub(crate) fn granted_lifetime(
        &self,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, CredentialError> {
        let asked = self.lifetime.unwrap_or(default);
        if asked.is_zero() {
            return Err(CredentialError::InvalidRequest {
                reason: "a credential lifetime must be longer than zero".to_owned(),
            });
        }
        Ok(asked.min(max))
    }

    /// Checks that every scope is a single non-empty word.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] naming the first bad scope.
    pub(crate) fn check_scopes(&self) -> Result<(), CredentialError> {
        let bad = self.scopes.iter().find(|scope| {
            scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control())
        });
        match bad {
            Some(scope) => Err(CredentialError::InvalidRequest {
                reason: format!(
                    "scope `{}` must be one non-empty word without spaces",
                    crate::error::clip(scope)
                ),
            }),
            None => Ok(()),
        }
    }
}

/// A freshly issued credential; the secret goes to the identity, the rest may be logged.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    /// The credential's public id (a token's `jti`).
    pub credential_id: CredentialId,
    /// What kind of credential it is.
    pub kind: CredentialKind,
    /// The secret to hand over; its `Debug` is redacted.
    pub secret: CredentialSecret,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What a verified credential proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The identity the credential was issued to.
    pub identity: IdentityId,
    /// The credential's public id.
    pub credential_id: CredentialId,
    /// What kind of credential it is.
    pub kind: CredentialKind,
    /// When it was issued (checked against the identity's revocation epoch).
    pub issued_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// The tenant it was issued for, when the credential says.
    pub tenant: Option<TenantId>,
    /// The environment it was issued for, when the credential says.
    pub environment: Option<Environment>,
    /// Who is acting with it on the identity's behalf (a token's `act.sub`, RFC 8693),
    /// when it was obtained by delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Issues and verifies one kind of credential.
///
/// Implementations take time from a [`nhi_core::Clock`], never from the system, and never
/// log or return a secret except inside [`IssuedCredential::secret`].
#[async_trait::async_trait]
pub trait CredentialProvider: Send + Sync {
    /// The kind of credential this provider handles.
    fn kind(&self) -> CredentialKind;

    /// Issues a credential for `request`.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] when the request cannot be served; a
    /// provider failure otherwise.
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError>;

    /// Verifies a presented credential and says what it proves.
    ///
    /// # Errors
    ///
    /// A refusal ([`CredentialError::is_rejection`]) when the credential is not
    /// acceptable, [`CredentialError::Revoked`] for a revoked one; a provider failure
    /// otherwise.
    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> IssueRequest {
        IssueRequest::new(
            IdentityId::new("bot").unwrap(),
            TenantId::new("acme").unwrap(),
            Environment::new("prod").unwrap(),
        )
    }

    #[test]
    fn lifetime_defaults_caps_and_refuses_zero() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            request().granted_lifetime(DEFAULT_LIFETIME, hour).unwrap(),
            DEFAULT_LIFETIME
        );
        let long = request().with_lifetime(hour * 5);
        assert_eq!(long.granted_lifetime(DEFAULT_LIFETIME, hour).unwrap(), hour);
        let zero = request().with_lifetime(Duration::ZERO);
        assert!(zero.granted_lifetime(DEFAULT_LIFETIME, hour).is_err());
    }

    #[test]
    fn scopes_must_be_single_words() {
        assert!(
            request()
                .with_scopes(["read", "k8s:write"])
                .check_scopes()
                .is_ok()
        );
        assert!(
            request()
                .with_scopes(["read write"])
                .check_scopes()
                .is_err()
        );
        assert!(request().with_scopes([""]).check_scopes().is_err());
        assert!(request().with_scopes(["a\u{0}b"]).check_scopes().is_err());
    }
}

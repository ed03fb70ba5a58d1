//! [`MockProvider`]: opaque random tokens checked by lookup, for hosts' tests.

use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;
use nhi_core::{CredentialId, CredentialKind, SharedClock};
use ring::digest;

use crate::error::CredentialError;
use crate::provider::{
    CredentialProvider, DEFAULT_LIFETIME, DEFAULT_MAX_LIFETIME, IssueRequest, IssuedCredential,
    Principal,
};
use crate::random::random_hex;
use crate::revocation::{MemoryRevocationList, RevocationList};
use crate::secret::CredentialSecret;

/// The prefix of every mock token, so one is never mistaken for a real credential.
const PREFIX: &str = "nhi_mock_";

/// A provider for tests: it issues opaque random tokens and verifies them by lookup.
///
/// It honours expiry through its clock and revocation through its list, like the real
/// providers. Tokens are stored only as SHA-256 digests, so a lookup never compares a
/// secret byte by byte. It forgets nothing: it is not meant for long-running processes.
pub struct MockProvider {
    clock: SharedClock,
    revocations: Arc<dyn RevocationList>,
    kind: CredentialKind,
    issued: DashMap<Vec<u8>, Principal>,
}

impl MockProvider {
    /// A mock provider with its own in-memory revocation list, posing as a JWT provider.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            revocations: Arc::new(MemoryRevocationList::new()),
            kind: CredentialKind::Jwt,
            issued: DashMap::new(),
        }
    }

    /// The same provider consulting `revocations`.
    pub fn with_revocations(mut self, revocations: Arc<dyn RevocationList>) -> Self {
        self.revocations = revocations;
        self
    }

    /// The same provider reporting credentials of `kind`.
    pub fn with_kind(mut self, kind: CredentialKind) -> Self {
        self.kind = kind;
        self
    }

    /// The revocation list it consults.
    pub fn revocations(&self) -> &Arc<dyn RevocationList> {
        &self.revocations
    }

    /// How many credentials it has issued.
    pub fn issued_count(&self) -> usize {
        self.issued.len()
    }
}

#[async_trait::async_trait]
impl CredentialProvider for MockProvider {
    fn kind(&self) -> CredentialKind {
        self.kind
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        request.check_scopes()?;
        let lifetime = request.granted_lifetime(DEFAULT_LIFETIME, DEFAULT_MAX_LIFETIME)?;
        let issued_at = self.clock.now();
        let expires_at = issued_at.saturating_add(lifetime);

        let credential_id =
            CredentialId::new(format!("mock-{}", random_hex::<16>()?)).map_err(|_| {
                CredentialError::Crypto {
                    reason: "a random credential id was not a valid id",
                }
            })?;
        let secret = CredentialSecret::new(format!("{PREFIX}{}", random_hex::<32>()?));

        let principal = Principal {
            identity: request.identity.clone(),
            credential_id: credential_id.clone(),
            kind: self.kind,
            issued_at,
            expires_at,
            scopes: request.scopes.clone(),
            tenant: Some(request.tenant.clone()),
            environment: Some(request.environment.clone()),
            actor: None,
        };
        self.issued.insert(fingerprint(&secret), principal);

        Ok(IssuedCredential {
            credential_id,
            kind: self.kind,
            secret,
            issued_at,
            expires_at,
        })
    }

    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        if !presented.expose_secret().starts_with(PREFIX) {
            return Err(CredentialError::malformed("not a mock credential"));
        }
        let principal = self
            .issued
            .get(&fingerprint(presented))
            .map(|entry| entry.value().clone())
            .ok_or(CredentialError::UnknownCredential)?;

        let now = self.clock.now();
        if now >= principal.expires_at {
            return Err(CredentialError::Expired {
                expired_at: principal.expires_at,
            });
        }
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

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("kind", &self.kind)
            .field("issued", &self.issued.len())
            .finish_non_exhaustive()
    }
}

/// The SHA-256 digest a token is stored under.
fn fingerprint(secret: &CredentialSecret) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.expose_secret().as_bytes())
        .as_ref()
        .to_vec()
}

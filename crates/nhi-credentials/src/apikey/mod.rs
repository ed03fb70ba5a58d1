//! [`ApiKeyProvider`]: checksummed API keys for systems that accept nothing else.

pub(crate) mod format;
pub(crate) mod hasher;
pub(crate) mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{CredentialId, CredentialKind, SharedClock};

use crate::error::CredentialError;
use crate::provider::{CredentialProvider, IssueRequest, IssuedCredential, Principal};
use crate::revocation::{RevocationList, is_revoked};
use crate::rotation::GenerationCheck;
use crate::secret::CredentialSecret;
use hasher::SecretHasher;
use store::{ApiKeyRecord, ApiKeyStore};

/// The prefix of API keys unless configured otherwise.
pub const API_KEY_PREFIX: &str = "nhik";

/// The prefix of OAuth client secrets unless configured otherwise.
pub const CLIENT_SECRET_PREFIX: &str = "nhic";

/// How long an API key lives when the request does not say: 30 days.
pub const API_KEY_DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest an API key may live: 90 days.
pub const API_KEY_MAX_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// Settings of an [`ApiKeyProvider`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// The typed prefix of every key (`nhik`), so scanners can recognise a leak.
    pub prefix: String,
    /// Lifetime when the request does not ask for one.
    pub default_lifetime: Duration,
    /// Hard maximum lifetime; longer requests are capped.
    pub max_lifetime: Duration,
}

impl ApiKeyConfig {
    /// The settings for OAuth client secrets: prefix `nhic`, the same lifetimes.
    pub fn oauth_clients() -> Self {
        Self {
            prefix: CLIENT_SECRET_PREFIX.to_owned(),
            ..Self::default()
        }
    }
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        Self {
            prefix: API_KEY_PREFIX.to_owned(),
            default_lifetime: API_KEY_DEFAULT_LIFETIME,
            max_lifetime: API_KEY_MAX_LIFETIME,
        }
    }
}

/// Issues and checks API keys: `nhik_<key id>_<secret><checksum>`.
///
/// The key is shown once, in [`IssuedCredential::secret`]; the store keeps only its
/// HMAC-SHA256 under the deployment key ([`SecretHasher`]) and the public key id. A
/// check refuses a look-alike by its checksum before any lookup, compares the hash in
/// constant time, then checks expiry, revocation and the renewal chain: once a renewed
/// key has been used, its predecessor is refused with [`CredentialError::ReuseDetected`].
pub struct ApiKeyProvider {
    config: ApiKeyConfig,
    kind: CredentialKind,
    hasher: SecretHasher,
    store: Arc<dyn ApiKeyStore>,
    revocations: Arc<dyn RevocationList>,
    clock: SharedClock,
}

impl ApiKeyProvider {
    /// A provider storing keys in `store`, hashed by `hasher`.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a bad prefix or lifetimes.
    pub fn new(
        config: ApiKeyConfig,
        hasher: SecretHasher,
        store: Arc<dyn ApiKeyStore>,
        revocations: Arc<dyn RevocationList>,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        format::check_prefix(&config.prefix)?;
        if config.default_lifetime.is_zero() || config.default_lifetime > config.max_lifetime {
            return Err(CredentialError::InvalidConfig {
                reason: "the default key lifetime must be above zero and at most the maximum"
                    .to_owned(),
            });
        }
        Ok(Self {
            config,
            kind: CredentialKind::ApiKey,
            hasher,
            store,
            revocations,
            clock,
        })
    }

    /// The same provider reporting credentials of `kind` (OAuth client secrets).
    pub(crate) fn with_kind(mut self, kind: CredentialKind) -> Self {
        self.kind = kind;
        self
    }

    /// The revocation list consulted on every check.
    pub fn revocations(&self) -> &Arc<dyn RevocationList> {
        &self.revocations
    }

    /// The store of key records.
    pub fn store(&self) -> &Arc<dyn ApiKeyStore> {
        &self.store
    }

    /// Issues the successor of a presented, valid key: same identity, scopes and
    /// lifetime, next generation. Both work until the successor is first used; from
    /// then on the old key is refused as reuse.
    ///
    /// # Errors
    ///
    /// Any refusal of the presented key, or a store failure.
    pub async fn renew(
        &self,
        presented: &CredentialSecret,
    ) -> Result<IssuedCredential, CredentialError> {
        let record = self.authenticate(presented).await?;
        let lifetime = record.expires_at.duration_since(record.issued_at);
        let request = IssueRequest::new(
            record.identity.clone(),
            record.tenant.clone(),
            record.environment.clone(),
        )
        .with_scopes(record.scopes.iter().cloned())
        .with_lifetime(lifetime);
        let next = record.generation.saturating_add(1);
        self.issue_in_chain(&request, Some((record.lineage.clone(), next)))
            .await
    }

    /// Checks a presented key exactly as [`CredentialProvider::verify`] does, and returns
    /// its shared record instead of building a [`Principal`]: the cheaper call for hot
    /// paths that only need the identity and scopes.
    ///
    /// # Errors
    ///
    /// As [`CredentialProvider::verify`].
    pub async fn authenticate(
        &self,
        presented: &CredentialSecret,
    ) -> Result<Arc<ApiKeyRecord>, CredentialError> {
        let text = presented.expose_secret();

        // Offline: shape, prefix and checksum.
        let parsed = format::parse(text)?;
        if parsed.prefix != self.config.prefix {
            return Err(CredentialError::malformed(format!(
                "the key prefix is not `{}`",
                self.config.prefix
            )));
        }

        // One lookup by public id, then the hash compared in constant time.
        let found = match self.store.find_immediate(parsed.key_id) {
            Some(found) => found?,
            None => self.store.find(parsed.key_id).await?,
        };
        let record = found.ok_or(CredentialError::UnknownCredential)?;
        if !self.hasher.matches(text, &record.secret_hash) {
            return Err(CredentialError::WrongSecret);
        }

        // Time, revocation, then the renewal chain.
        let now = self.clock.now();
        if now >= record.expires_at {
            return Err(CredentialError::Expired {
                expired_at: record.expires_at,
            });
        }
        if is_revoked(self.revocations.as_ref(), &record.key_id, now).await? {
            return Err(CredentialError::Revoked {
                credential_id: record.key_id.clone(),
            });
        }
        let (lineage, generation) = (&record.lineage, record.generation);
        let check = match self.store.observe_generation_immediate(lineage, generation) {
            Some(check) => check?,
            None => self.store.observe_generation(lineage, generation).await?,
        };
        if let GenerationCheck::Superseded { latest } = check {
            return Err(CredentialError::ReuseDetected {
                credential_id: record.key_id.clone(),
                identity: record.identity.clone(),
                generation: record.generation,
                latest,
            });
        }
        Ok(record)
    }

    /// Issues a key, first of a new chain (`None`) or the next of one.
    async fn issue_in_chain(
        &self,
        request: &IssueRequest,
        chain: Option<(CredentialId, u64)>,
    ) -> Result<IssuedCredential, CredentialError> {
        request.check_scopes()?;
        let lifetime =
            request.granted_lifetime(self.config.default_lifetime, self.config.max_lifetime)?;
        let issued_at = self.clock.now();
        let expires_at = issued_at.saturating_add(lifetime);

        let (key_id, text) = format::generate(&self.config.prefix)?;
        let key_id = CredentialId::new(key_id).map_err(|_| CredentialError::Crypto {
            reason: "a random key id was not a valid id",
        })?;
        let (lineage, generation) = chain.unwrap_or_else(|| (key_id.clone(), 0));

        self.store
            .insert(ApiKeyRecord {
                key_id: key_id.clone(),
                secret_hash: self.hasher.hash(&text),
                identity: request.identity.clone(),
                tenant: request.tenant.clone(),
                environment: request.environment.clone(),
                scopes: request.scopes.clone(),
                issued_at,
                expires_at,
                lineage,
                generation,
            })
            .await?;

        Ok(IssuedCredential {
            credential_id: key_id,
            kind: self.kind,
            secret: CredentialSecret::new(text),
            issued_at,
            expires_at,
        })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ApiKeyProvider {
    fn kind(&self) -> CredentialKind {
        self.kind
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        self.issue_in_chain(request, None).await
    }

    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        let record = self.authenticate(presented).await?;
        Ok(Principal {
            identity: record.identity.clone(),
            credential_id: record.key_id.clone(),
            kind: self.kind,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            scopes: record.scopes.clone(),
            tenant: Some(record.tenant.clone()),
            environment: Some(record.environment.clone()),
            actor: None,
        })
    }
}

impl fmt::Debug for ApiKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyProvider")
            .field("config", &self.config)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

//! Verifying tokens of an external issuer against its JWKS, fetched through a
//! [`JwksSource`] and cached.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use nhi_core::{SharedClock, Timestamp};
use serde_json::{Map, Value};

use crate::error::{CredentialError, clip};
use crate::jwt::claims::Times;
use crate::jwt::config::MAX_LEEWAY;
use crate::jwt::token;
use crate::keys::{JwkSet, VerifyingKey};
use crate::secret::CredentialSecret;

/// Where an external issuer's JWKS comes from (its `jwks_uri`, a file, a test).
///
/// This crate has no HTTP client: the host fetches the document, with its own TLS and
/// timeouts, and hands back the bytes.
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync {
    /// The current JWKS document.
    ///
    /// # Errors
    ///
    /// [`CredentialError::Backend`] when it cannot be fetched.
    async fn fetch(&self) -> Result<Vec<u8>, CredentialError>;
}

/// What to trust about one external issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIssuer {
    /// The exact `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` its tokens must name: the audience it was told to mint for us.
    pub audience: String,
    /// The longest `exp - iat` accepted; longer tokens are refused (1 hour).
    pub max_lifetime: Duration,
    /// Clock-skew allowance, at most 30 seconds (10 seconds).
    pub leeway: Duration,
    /// The least time between two JWKS fetches caused by an unknown key id (5 minutes).
    pub refresh_interval: Duration,
}

impl ExternalIssuer {
    /// An issuer with a 1 hour lifetime cap, 10 seconds of leeway and a 5 minute
    /// refresh interval.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            max_lifetime: Duration::from_secs(3600),
            leeway: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(300),
        }
    }

    /// The same issuer with `exp - iat` capped at `max_lifetime`.
    pub fn with_max_lifetime(mut self, max_lifetime: Duration) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    fn validate(&self) -> Result<(), CredentialError> {
        let fail = |reason: &str| {
            Err(CredentialError::InvalidConfig {
                reason: format!("external issuer `{}`: {reason}", clip(&self.issuer)),
            })
        };
        if self.issuer.trim().is_empty() || self.audience.trim().is_empty() {
            return fail("the issuer and the audience must not be empty");
        }
        if self.max_lifetime < Duration::from_secs(1) || self.leeway > MAX_LEEWAY {
            return fail("the lifetime cap must be at least 1 second, the leeway at most 30");
        }
        Ok(())
    }
}

/// The verified claims of an external token.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalClaims {
    /// `iss`, equal to the configured issuer.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud`, as one or more strings.
    pub audience: Vec<String>,
    /// `iat`.
    pub issued_at: Timestamp,
    /// `exp`.
    pub expires_at: Timestamp,
    /// `jti`, when present.
    pub jwt_id: Option<String>,
    /// Every claim, as sent.
    pub claims: Map<String, Value>,
}

impl ExternalClaims {
    /// The claim `name`, as sent.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

/// Verifies one external issuer's tokens with its cached JWKS.
///
/// An unknown key id triggers a refetch, at most once per refresh interval as told by
/// the clock, so a flood of made-up key ids cannot hammer the issuer.
pub struct ExternalVerifier {
    config: ExternalIssuer,
    source: Option<Arc<dyn JwksSource>>,
    clock: SharedClock,
    cache: RwLock<Cache>,
}

struct Cache {
    keys: Arc<JwkSet>,
    last_fetch: Option<Timestamp>,
}

impl ExternalVerifier {
    /// A verifier fetching keys from `source` on first use and on unknown key ids.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a bad configuration.
    pub fn new(
        config: ExternalIssuer,
        source: Arc<dyn JwksSource>,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        Self::build(config, Some(source), JwkSet::default(), clock)
    }

    /// A verifier with a fixed key set: for an HS256 shared secret
    /// ([`VerifyingKey::hs256_shared_secret`]) or keys configured by hand.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] for a bad configuration.
    pub fn with_keys(
        config: ExternalIssuer,
        keys: JwkSet,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        Self::build(config, None, keys, clock)
    }

    fn build(
        config: ExternalIssuer,
        source: Option<Arc<dyn JwksSource>>,
        keys: JwkSet,
        clock: SharedClock,
    ) -> Result<Self, CredentialError> {
        config.validate()?;
        crate::crypto::install_ring_crypto_provider()?;
        Ok(Self {
            config,
            source,
            clock,
            cache: RwLock::new(Cache {
                keys: Arc::new(keys),
                last_fetch: None,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ExternalIssuer {
        &self.config
    }

    /// Verifies `token` strictly and returns its claims.
    ///
    /// # Errors
    ///
    /// A refusal as for our own tokens; [`CredentialError::Backend`] when the JWKS had
    /// to be fetched and could not be.
    pub async fn verify(
        &self,
        token: &CredentialSecret,
    ) -> Result<ExternalClaims, CredentialError> {
        crate::crypto::ensure_crypto_provider()?;
        let compact = token::split(token.expose_secret())?;
        let kid = compact
            .kid
            .as_deref()
            .ok_or_else(|| CredentialError::malformed("the header names no key id"))?;
        let key = self.key(kid).await?;
        token::check_signature(&compact, &key)?;
        let payload = token::payload_json(&compact)?;
        self.check_claims(payload)
    }

    /// Fetches the JWKS now, whatever the interval says.
    ///
    /// # Errors
    ///
    /// The source's error, or [`CredentialError::InvalidConfig`] for a bad document.
    pub async fn refresh(&self) -> Result<(), CredentialError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        self.write().last_fetch = Some(self.clock.now());
        let keys = JwkSet::parse(&source.fetch().await?)?;
        self.write().keys = Arc::new(keys);
        Ok(())
    }

    /// The key named `kid`, refetching once per interval when it is unknown.
    async fn key(&self, kid: &str) -> Result<VerifyingKey, CredentialError> {
        if let Some(key) = self.read_keys().find(kid) {
            return Ok(key.clone());
        }
        if self.claim_refresh() {
            self.refresh().await?;
            if let Some(key) = self.read_keys().find(kid) {
                return Ok(key.clone());
            }
        }
        Err(CredentialError::UnknownKey { kid: clip(kid) })
    }

    /// Whether this caller may refetch now; if so, the slot is taken at once so that
    /// concurrent callers do not refetch too.
    fn claim_refresh(&self) -> bool {
        if self.source.is_none() {
            return false;
        }
        let now = self.clock.now();
        let mut cache = self.write();
        let due = cache
            .last_fetch
            .is_none_or(|last| now >= last.saturating_add(self.config.refresh_interval));
        if due {
            cache.last_fetch = Some(now);
        }
        due
    }

    fn check_claims(&self, payload: Value) -> Result<ExternalClaims, CredentialError> {
        let Value::Object(claims) = payload else {
            return Err(CredentialError::malformed(
                "the claims are not a JSON object",
            ));
        };
        let issuer = string_claim(&claims, "iss")?;
        if issuer != self.config.issuer {
            return Err(CredentialError::WrongIssuer {
                issuer: clip(&issuer),
            });
        }
        let audience = audience_claim(&claims)?;
        if !audience.contains(&self.config.audience) {
            return Err(CredentialError::WrongAudience {
                expected: self.config.audience.clone(),
            });
        }
        let subject = string_claim(&claims, "sub")?;
        if subject.is_empty() {
            return Err(CredentialError::malformed("`sub` is empty"));
        }
        let times = Times {
            iat: time_claim(&claims, "iat")?
                .ok_or_else(|| CredentialError::malformed("`iat` is missing"))?,
            nbf: time_claim(&claims, "nbf")?,
            exp: time_claim(&claims, "exp")?
                .ok_or_else(|| CredentialError::malformed("`exp` is missing"))?,
        };
        let now = self.clock.now();
        let (issued_at, expires_at) =
            times.check(self.config.max_lifetime, self.config.leeway, now)?;
        let jwt_id = match claims.get("jti") {
            None => None,
            Some(Value::String(jti)) => Some(jti.clone()),
            Some(_) => return Err(CredentialError::malformed("`jti` is not a string")),
        };

        Ok(ExternalClaims {
            issuer,
            subject,
            audience,
            issued_at,
            expires_at,
            jwt_id,
            claims,
        })
    }

    fn read_keys(&self) -> Arc<JwkSet> {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&cache.keys)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ExternalVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalVerifier")
            .field("config", &self.config)
            .field("keys", &self.read_keys().len())
            .finish_non_exhaustive()
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<String, CredentialError> {
    match claims.get(name) {
        Some(Value::String(value)) => Ok(value.clone()),
        Some(_) => Err(CredentialError::malformed(format!(
            "`{name}` is not a string"
        ))),
        None => Err(CredentialError::malformed(format!("`{name}` is missing"))),
    }
}

/// A NumericDate: a non-negative whole number of seconds.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, CredentialError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            CredentialError::malformed(format!("`{name}` is not a whole number of seconds"))
        }),
    }
}

fn audience_claim(claims: &Map<String, Value>) -> Result<Vec<String>, CredentialError> {
    let wrong = || CredentialError::malformed("`aud` is not a string or a list of strings");
    match claims.get("aud") {
        Some(Value::String(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(many)) if !many.is_empty() => many
            .iter()
            .map(|one| one.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect(),
        Some(_) => Err(wrong()),
        None => Err(CredentialError::malformed("`aud` is missing")),
    }
}

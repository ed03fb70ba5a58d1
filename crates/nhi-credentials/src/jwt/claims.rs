//! The token header and claims as written on the wire, and the checks they must pass.

use std::time::Duration;

use nhi_core::{CredentialId, CredentialKind, Environment, IdentityId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{CredentialError, clip};
use crate::jwt::config::JwtConfig;
use crate::provider::Principal;

/// The claims of a token this crate issues.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: Audience,
    pub(crate) exp: u64,
    pub(crate) nbf: u64,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) act: Option<Actor>,
}

/// The `act` claim (RFC 8693 section 4.1): who acts, and for whom they act in turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Actor {
    pub(crate) sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) act: Option<Box<Actor>>,
}

/// `aud` is either one string or a list of strings (RFC 7519 section 4.1.3).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

impl Claims {
    /// Checks a signature-verified token's claims at `now` and says what it proves.
    ///
    /// Revocation is checked afterwards by the caller.
    pub(crate) fn into_principal(
        self,
        config: &JwtConfig,
        now: Timestamp,
    ) -> Result<Principal, CredentialError> {
        if self.iss != config.issuer {
            return Err(CredentialError::WrongIssuer {
                issuer: clip(&self.iss),
            });
        }
        if !self.aud.contains(&config.audience) {
            return Err(CredentialError::WrongAudience {
                expected: config.audience.clone(),
            });
        }
        let times = Times {
            iat: self.iat,
            nbf: Some(self.nbf),
            exp: self.exp,
        };
        let (issued_at, expires_at) = times.check(config.max_lifetime, config.leeway, now)?;

        let identity = IdentityId::new(&self.sub)
            .map_err(|err| CredentialError::malformed(format!("sub: {err}")))?;
        let credential_id = CredentialId::new(&self.jti)
            .map_err(|err| CredentialError::malformed(format!("jti: {err}")))?;
        let tenant = self.tenant.map(TenantId::new).transpose();
        let tenant = tenant.map_err(|err| CredentialError::malformed(format!("tenant: {err}")))?;
        let environment = self.env.map(Environment::new).transpose();
        let environment =
            environment.map_err(|err| CredentialError::malformed(format!("env: {err}")))?;
        let scopes = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();

        Ok(Principal {
            identity,
            credential_id,
            kind: CredentialKind::Jwt,
            issued_at,
            expires_at,
            scopes,
            tenant,
            environment,
            actor: self.act.map(|act| act.sub),
        })
    }
}

/// The time claims of a signature-verified token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times {
    pub(crate) iat: u64,
    pub(crate) nbf: Option<u64>,
    pub(crate) exp: u64,
}

impl Times {
    /// Checks `exp`, `nbf` and `iat` against `now` with `leeway`, and `exp - iat`
    /// against `max_lifetime`; returns the issue and expiry times.
    pub(crate) fn check(
        self,
        max_lifetime: Duration,
        leeway: Duration,
        now: Timestamp,
    ) -> Result<(Timestamp, Timestamp), CredentialError> {
        let issued_at = Timestamp::from_unix_secs(self.iat);
        let expires_at = Timestamp::from_unix_secs(self.exp);
        let not_before = Timestamp::from_unix_secs(self.nbf.unwrap_or(self.iat));

        let lifetime = self.exp.checked_sub(self.iat).map(Duration::from_secs);
        match lifetime {
            None => {
                return Err(CredentialError::malformed(
                    "it expires before it was issued",
                ));
            }
            Some(lifetime) if lifetime > max_lifetime => {
                return Err(CredentialError::malformed(
                    "its lifetime is longer than the allowed maximum",
                ));
            }
            Some(_) => {}
        }

        if now >= expires_at.saturating_add(leeway) {
            return Err(CredentialError::Expired {
                expired_at: expires_at,
            });
        }
        let latest_start = now.saturating_add(leeway);
        if not_before > latest_start || issued_at > latest_start {
            return Err(CredentialError::NotYetValid {
                valid_from: not_before.max(issued_at),
            });
        }
        Ok((issued_at, expires_at))
    }
}

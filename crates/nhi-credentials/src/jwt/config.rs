//! [`JwtConfig`]: who issues tokens, for whom, and for how long.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::CredentialError;
use crate::provider::{DEFAULT_LIFETIME, DEFAULT_MAX_LIFETIME};

/// The largest clock-skew allowance accepted.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// The leeway [`JwtConfig::new`] sets.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(10);

/// The settings of a [`crate::JwtProvider`].
///
/// In configuration files durations are written as text (`5m`, `1h`, `10s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The `iss` written into tokens and required, exactly, when verifying.
    pub issuer: String,
    /// The default `aud` of issued tokens; verified tokens must name it.
    pub audience: String,
    /// Lifetime of a token whose request does not ask for one (5 minutes).
    #[serde(with = "nhi_core::duration_text", default = "default_lifetime")]
    pub default_lifetime: Duration,
    /// Hard maximum lifetime; longer requests are capped, longer tokens refused (1 hour).
    #[serde(with = "nhi_core::duration_text", default = "max_lifetime")]
    pub max_lifetime: Duration,
    /// Allowance for clock skew when checking `exp`, `nbf` and `iat`; at most 30 seconds.
    #[serde(with = "nhi_core::duration_text", default = "leeway")]
    pub leeway: Duration,
}

impl JwtConfig {
    /// A configuration with a 5 minute default lifetime, a 1 hour maximum and 10 seconds
    /// of leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            default_lifetime: DEFAULT_LIFETIME,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Checks that the settings make sense together.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] naming the first problem found.
    pub fn validate(&self) -> Result<(), CredentialError> {
        let fail = |reason: &str| {
            Err(CredentialError::InvalidConfig {
                reason: reason.to_owned(),
            })
        };
        if self.issuer.trim().is_empty() {
            return fail("the issuer must not be empty");
        }
        if self.audience.trim().is_empty() {
            return fail("the audience must not be empty");
        }
        if self.max_lifetime < Duration::from_secs(1) {
            return fail("the maximum lifetime must be at least one second");
        }
        if self.default_lifetime.is_zero() || self.default_lifetime > self.max_lifetime {
            return fail("the default lifetime must be above zero and at most the maximum");
        }
        if self.leeway > MAX_LEEWAY {
            return fail("the leeway must be at most 30 seconds");
        }
        Ok(())
    }
}

fn default_lifetime() -> Duration {
    DEFAULT_LIFETIME
}

fn max_lifetime() -> Duration {
    DEFAULT_MAX_LIFETIME
}

fn leeway() -> Duration {
    DEFAULT_LEEWAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = JwtConfig::new("https://nhi.example", "nhi");
        config.validate().unwrap();
        assert_eq!(config.default_lifetime, Duration::from_secs(300));
        assert_eq!(config.max_lifetime, Duration::from_secs(3600));
    }

    #[test]
    fn bad_settings_are_refused() {
        let good = JwtConfig::new("iss", "aud");
        let cases = [
            JwtConfig {
                issuer: " ".into(),
                ..good.clone()
            },
            JwtConfig {
                audience: String::new(),
                ..good.clone()
            },
            JwtConfig {
                leeway: Duration::from_secs(31),
                ..good.clone()
            },
            JwtConfig {
                default_lifetime: Duration::from_secs(7200),
                ..good.clone()
            },
            JwtConfig {
                default_lifetime: Duration::ZERO,
                ..good.clone()
            },
        ];
        for config in cases {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }

    #[test]
    fn reads_durations_as_text() {
        let config: JwtConfig = serde_json::from_str(
            r#"{"issuer":"i","audience":"a","max_lifetime":"30m","leeway":"5s"}"#,
        )
        .unwrap();
        assert_eq!(config.max_lifetime, Duration::from_secs(1800));
        assert_eq!(config.default_lifetime, Duration::from_secs(300));
        assert_eq!(config.leeway, Duration::from_secs(5));
    }
}

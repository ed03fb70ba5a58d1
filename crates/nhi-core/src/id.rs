//! Validated names: identity, tenant, team, environment, credential and correlation ids.
//!
//! Every name is 1 to 128 ASCII characters, starts with a letter or digit, and uses only
//! letters, digits, `-`, `_`, `.` and `:`. Names that choose who someone is (identities,
//! tenants, teams, environments) must be lowercase, so that `Deploy-Bot` can never pose
//! as `deploy-bot`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{CoreError, clip};

const MAX_LEN: usize = 128;

/// Checks the shared name rules; `lowercase` additionally refuses upper-case letters.
fn validate(what: &'static str, value: &str, lowercase: bool) -> Result<(), CoreError> {
    let fail = |reason| CoreError::InvalidName {
        what,
        value: clip(value),
        reason,
    };

    let Some(first) = value.chars().next() else {
        return Err(fail("it is empty"));
    };
    if value.len() > MAX_LEN {
        return Err(fail("it is longer than 128 characters"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(fail("it must start with a letter or a digit"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if !value.chars().all(allowed) {
        return Err(fail(
            "only ASCII letters, digits, `-`, `_`, `.` and `:` are allowed",
        ));
    }
    if lowercase && value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(fail("it must be lowercase"));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$meta:meta])* $name:ident, $what:literal, lowercase = $lower:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `value` and wraps it.
            ///
            /// # Errors
            ///
            /// [`CoreError::InvalidName`] when the value breaks the naming rules of this
            /// module.
            pub fn new(value: impl Into<String>) -> Result<Self, CoreError> {
                let value = value.into();
                validate($what, &value, $lower)?;
                Ok(Self(value))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// The stable, never-reused name of one non-human identity, such as `restart-agent`.
    IdentityId, "identity id", lowercase = true
);
name_type!(
    /// The tenant (customer, business unit) an identity acts for.
    TenantId, "tenant id", lowercase = true
);
name_type!(
    /// The team that owns an identity and answers for it.
    TeamName, "team name", lowercase = true
);
name_type!(
    /// The deployment environment an identity is bound to, such as `production`.
    Environment, "environment", lowercase = true
);
name_type!(
    /// The public id of one issued credential (a token's `jti`, an API key's key id).
    ///
    /// It is safe to log and to store in the audit trail; it is never the secret.
    CredentialId, "credential id", lowercase = false
);
name_type!(
    /// Ties together every event caused by one request or one chain of agent calls.
    CorrelationId, "correlation id", lowercase = false
);
name_type!(
    /// The incident an action is taken for, such as `INC-4821`.
    IncidentId, "incident id", lowercase = false
);
name_type!(
    /// The workflow or run an action belongs to.
    WorkflowId, "workflow id", lowercase = false
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        assert!(IdentityId::new("restart-agent").is_ok());
        assert!(IdentityId::new("ci.runner_01:eu").is_ok());
        assert!(IncidentId::new("INC-4821").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_odd_names() {
        assert!(IdentityId::new("").is_err());
        assert!(IdentityId::new("-leading-dash").is_err());
        assert!(IdentityId::new("has space").is_err());
        assert!(IdentityId::new("slash/inside").is_err());
        assert!(IdentityId::new("ünicode").is_err());
        assert!(IdentityId::new("a".repeat(129)).is_err());
        assert!(IdentityId::new("a".repeat(128)).is_ok());
    }

    #[test]
    fn identity_like_names_must_be_lowercase() {
        let err = IdentityId::new("Deploy-Bot").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
        assert!(TenantId::new("ACME").is_err());
        assert!(CredentialId::new("Tok3nId").is_ok());
    }

    #[test]
    fn deserializing_validates() {
        let ok: IdentityId = serde_json::from_str("\"deploy-bot\"").unwrap();
        assert_eq!(ok.as_str(), "deploy-bot");
        assert!(serde_json::from_str::<IdentityId>("\"bad name\"").is_err());
    }

    #[test]
    fn error_clips_hostile_input() {
        let err = IdentityId::new("x ".repeat(10_000)).unwrap_err();
        assert!(err.to_string().len() < 300);
    }
}

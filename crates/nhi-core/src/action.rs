//! What an identity does: an [`Action`] of some [`Severity`] on a [`Resource`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{CoreError, clip};

/// An operation name such as `deployment.restart` or `health.read`.
///
/// Action names are compared case-insensitively: they are stored lowercase, so
/// `Deployment.Restart` and `deployment.restart` are the same action.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Action(String);

impl Action {
    /// Validates and lowercases an action name.
    ///
    /// # Errors
    ///
    /// [`CoreError::InvalidName`] when the name is empty, longer than 128 characters, or
    /// uses anything but ASCII letters, digits, `.`, `_`, `-` and `:`.
    pub fn new(value: impl AsRef<str>) -> Result<Self, CoreError> {
        let value = value.as_ref();
        let fail = |reason| CoreError::InvalidName {
            what: "action",
            value: clip(value),
            reason,
        };

        if value.is_empty() {
            return Err(fail("it is empty"));
        }
        if value.len() > 128 {
            return Err(fail("it is longer than 128 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
        if !value.chars().all(allowed) {
            return Err(fail(
                "only ASCII letters, digits, `.`, `_`, `-` and `:` are allowed",
            ));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// The lowercase action name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({:?})", self.0)
    }
}

impl FromStr for Action {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

/// A target of an action, written `system:path`, such as `k8s:prod/payments/api`.
///
/// The system names which platform owns the resource (it is what an identity's allowed
/// systems list); the path names the object inside it. Resources are compared
/// case-sensitively, byte for byte.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    text: String,
    split: usize,
}

impl Resource {
    /// Builds a resource from its system and path.
    ///
    /// # Errors
    ///
    /// [`CoreError::InvalidName`] when the system is not a lowercase name, or the path is
    /// empty, longer than 1024 bytes, or holds white space or control characters.
    pub fn new(system: &str, path: &str) -> Result<Self, CoreError> {
        let fail = |reason| CoreError::InvalidName {
            what: "resource",
            value: clip(&format!("{system}:{path}")),
            reason,
        };

        let system_ok = !system.is_empty()
            && system.len() <= 64
            && system
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !system_ok {
            return Err(fail(
                "the system must be 1-64 lowercase letters, digits or `-`",
            ));
        }
        if path.is_empty() {
            return Err(fail("the path after `system:` is empty"));
        }
        if path.len() > 1024 {
            return Err(fail("the path is longer than 1024 bytes"));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("the path holds white space or control characters"));
        }
        Ok(Self {
            text: format!("{system}:{path}"),
            split: system.len(),
        })
    }

    /// The owning system, such as `k8s`.
    pub fn system(&self) -> &str {
        self.text.get(..self.split).unwrap_or_default()
    }

    /// The object inside the system, such as `prod/payments/api`.
    pub fn path(&self) -> &str {
        self.text.get(self.split + 1..).unwrap_or_default()
    }

    /// The whole `system:path` text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resource({:?})", self.text)
    }
}

impl FromStr for Resource {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((system, path)) => Self::new(system, path),
            None => Err(CoreError::InvalidName {
                what: "resource",
                value: clip(s),
                reason: "write it as `system:path`, for example `k8s:prod/payments/api`",
            }),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

/// How much harm an action can do, which sets its cost in the limiter and how strict
/// policy is about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reads state and changes nothing.
    Read,
    /// Changes state in a way that can be undone.
    Write,
    /// Restarts, deletes or otherwise changes state in a way that hurts if wrong.
    Destructive,
}

impl Severity {
    /// The lowercase name: `read`, `write` or `destructive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Destructive => "destructive",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "destructive" => Ok(Self::Destructive),
            _ => Err(CoreError::UnknownKeyword {
                what: "severity",
                value: clip(s),
                expected: "`read`, `write`, `destructive`",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_case_insensitive() {
        assert_eq!(
            Action::new("Health.READ").unwrap(),
            Action::new("health.read").unwrap()
        );
        assert!(Action::new("health read").is_err());
        assert!(Action::new("").is_err());
    }

    #[test]
    fn resources_split_system_and_path() {
        let r: Resource = "k8s:prod/payments/api".parse().unwrap();
        assert_eq!(r.system(), "k8s");
        assert_eq!(r.path(), "prod/payments/api");
        assert_eq!(r.to_string(), "k8s:prod/payments/api");
    }

    #[test]
    fn resources_are_case_sensitive_and_strict() {
        let a: Resource = "db:Orders".parse().unwrap();
        let b: Resource = "db:orders".parse().unwrap();
        assert_ne!(a, b);
        assert!("no-system".parse::<Resource>().is_err());
        assert!("K8S:prod".parse::<Resource>().is_err());
        assert!("k8s:".parse::<Resource>().is_err());
        assert!("k8s:a b".parse::<Resource>().is_err());
    }

    #[test]
    fn severity_orders_by_harm() {
        assert!(Severity::Read < Severity::Write && Severity::Write < Severity::Destructive);
        assert_eq!(
            "destructive".parse::<Severity>().unwrap(),
            Severity::Destructive
        );
        assert!("DELETE".parse::<Severity>().is_err());
    }
}

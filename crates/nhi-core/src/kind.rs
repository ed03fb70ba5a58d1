//! Closed sets of keywords: the kind of an identity, its risk tier, its credential type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, clip};

macro_rules! keyword_enum {
    (
        $(#[$meta:meta])* $name:ident, $what:literal,
        { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The keyword as written in configuration files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = CoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(CoreError::UnknownKeyword {
                        what: $what,
                        value: clip(s),
                        expected: concat!($("`", $text, "` "),+),
                    }),
                }
            }
        }
    };
}

keyword_enum!(
    /// What sort of non-human identity this is.
    IdentityKind, "identity kind", {
        /// An autonomous or semi-autonomous AI agent.
        AiAgent => "ai-agent",
        /// A chat or automation bot.
        Bot => "bot",
        /// A continuous-integration or deployment runner.
        CiRunner => "ci-runner",
        /// A scheduled job.
        Cron => "cron",
        /// A multi-step workflow engine run.
        Workflow => "workflow",
        /// A third-party integration acting into our systems.
        Integration => "integration",
    }
);

keyword_enum!(
    /// How much damage the identity could do if misused; set at creation.
    ///
    /// Ordered from least to most risky, so `tier >= RiskTier::High` reads naturally.
    RiskTier, "risk tier", {
        /// Read-only access to non-sensitive systems.
        Low => "low",
        /// Limited writes.
        Medium => "medium",
        /// Production writes or sensitive data; needs owner and security approval.
        High => "high",
        /// Can cause outages or data loss at scale; needs owner and security approval.
        Critical => "critical",
    }
);

impl RiskTier {
    /// Whether provisioning needs two distinct approvers (owner and security).
    pub fn requires_dual_approval(self) -> bool {
        self >= Self::High
    }
}

keyword_enum!(
    /// The kind of credential an identity authenticates with.
    CredentialKind, "credential kind", {
        /// A short-lived signed token (JWT).
        Jwt => "jwt",
        /// A long-lived API key, stored only as a keyed hash.
        ApiKey => "api-key",
        /// OAuth 2.0 client credentials exchanged for short-lived tokens.
        OauthClient => "oauth-client",
        /// A token from a trusted external issuer, exchanged for one of ours.
        Federated => "federated",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for kind in IdentityKind::ALL {
            assert_eq!(kind.as_str().parse::<IdentityKind>().unwrap(), *kind);
        }
        for tier in RiskTier::ALL {
            assert_eq!(tier.to_string().parse::<RiskTier>().unwrap(), *tier);
        }
        let json = serde_json::to_string(&CredentialKind::ApiKey).unwrap();
        assert_eq!(json, "\"api-key\"");
    }

    #[test]
    fn unknown_keyword_lists_the_choices() {
        let err = "robot".parse::<IdentityKind>().unwrap_err().to_string();
        assert!(err.contains("`ai-agent`"), "{err}");
    }

    #[test]
    fn high_tiers_need_two_approvals() {
        assert!(!RiskTier::Medium.requires_dual_approval());
        assert!(RiskTier::High.requires_dual_approval());
        assert!(RiskTier::Critical.requires_dual_approval());
    }
}

//! The lifecycle state machine of a non-human identity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an identity stands in its life.
///
/// ```text
/// requested -> active <-> suspended
/// active | suspended -> quarantined -> active (released after review)
/// requested | active | suspended | quarantined -> disabled (tokens dead)
/// disabled -> deprovisioned (permissions removed) -> archived (evidence sealed)
///          -> tombstoned (id never reused)
/// ```
///
/// States are ordered along that path, so `state >= LifecycleState::Disabled` means the
/// identity is being or has been decommissioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleState {
    /// Waiting for approval; it cannot act yet.
    Requested,
    /// In service: the only state in which it may act.
    Active,
    /// Paused by an operator or the kill switch; it can be resumed.
    Suspended,
    /// Isolated for review after a finding; only a review can release it.
    Quarantined,
    /// Its credentials are dead; the first step of decommissioning.
    Disabled,
    /// Its permissions are removed.
    Deprovisioned,
    /// Its evidence is sealed for retention.
    Archived,
    /// Only its id remains, so that the id is never used again.
    Tombstoned,
}

impl LifecycleState {
    /// Every state, in lifecycle order.
    pub const ALL: &'static [Self] = &[
        Self::Requested,
        Self::Active,
        Self::Suspended,
        Self::Quarantined,
        Self::Disabled,
        Self::Deprovisioned,
        Self::Archived,
        Self::Tombstoned,
    ];

    /// Whether the lifecycle allows moving from this state to `next`.
    ///
    /// Staying in the same state is not a transition and is refused.
    pub fn can_transition_to(self, next: Self) -> bool {
        use LifecycleState::{
            Active, Archived, Deprovisioned, Disabled, Quarantined, Requested, Suspended,
            Tombstoned,
        };
        matches!(
            (self, next),
            (Requested, Active)
                | (Active, Suspended)
                | (Suspended, Active)
                | (Active | Suspended, Quarantined)
                | (Quarantined, Active)
                | (Requested | Active | Suspended | Quarantined, Disabled)
                | (Disabled, Deprovisioned)
                | (Deprovisioned, Archived)
                | (Archived, Tombstoned)
        )
    }

    /// Whether an identity in this state may act; only [`LifecycleState::Active`] may.
    pub fn is_usable(self) -> bool {
        self == Self::Active
    }

    /// Whether the identity has entered the decommission path (disabled or later).
    pub fn is_decommissioned(self) -> bool {
        self >= Self::Disabled
    }

    /// The state as written in records and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Quarantined => "quarantined",
            Self::Disabled => "disabled",
            Self::Deprovisioned => "deprovisioned",
            Self::Archived => "archived",
            Self::Tombstoned => "tombstoned",
        }
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown lifecycle state `{0}`: expected one of requested, active, suspended, quarantined, disabled, deprovisioned, archived, tombstoned"
)]
pub struct UnknownState(String);

impl FromStr for LifecycleState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(crate::error::clip(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::LifecycleState::*;
    use super::*;

    #[test]
    fn the_documented_path_is_allowed() {
        let path = [
            (Requested, Active),
            (Active, Suspended),
            (Suspended, Active),
            (Active, Quarantined),
            (Suspended, Quarantined),
            (Quarantined, Active),
            (Quarantined, Disabled),
            (Requested, Disabled),
            (Disabled, Deprovisioned),
            (Deprovisioned, Archived),
            (Archived, Tombstoned),
        ];
        for (from, to) in path {
            assert!(from.can_transition_to(to), "{from} -> {to}");
        }
    }

    #[test]
    fn shortcuts_backsteps_and_standing_still_are_refused() {
        let refused = [
            (Requested, Suspended),
            (Requested, Quarantined),
            (Quarantined, Suspended),
            (Active, Deprovisioned),
            (Disabled, Active),
            (Deprovisioned, Disabled),
            (Archived, Deprovisioned),
            (Tombstoned, Active),
            (Tombstoned, Requested),
        ];
        for (from, to) in refused {
            assert!(!from.can_transition_to(to), "{from} -> {to}");
        }
        for state in LifecycleState::ALL {
            assert!(!state.can_transition_to(*state), "{state} -> {state}");
        }
    }

    #[test]
    fn tombstoned_is_final() {
        for next in LifecycleState::ALL {
            assert!(!Tombstoned.can_transition_to(*next));
        }
    }

    #[test]
    fn only_active_is_usable() {
        let usable: Vec<_> = LifecycleState::ALL
            .iter()
            .filter(|s| s.is_usable())
            .collect();
        assert_eq!(usable, [&Active]);
    }

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for state in LifecycleState::ALL {
            assert_eq!(state.as_str().parse::<LifecycleState>().unwrap(), *state);
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        assert!("Active".parse::<LifecycleState>().is_err());
        assert!(
            "x".repeat(10_000)
                .parse::<LifecycleState>()
                .unwrap_err()
                .to_string()
                .len()
                < 300
        );
    }
}

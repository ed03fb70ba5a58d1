//! Program metrics: how healthy the estate of identities is, at a glance.

use std::collections::BTreeMap;
use std::time::Duration;

use nhi_core::{IdentityKind, RiskTier, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::registry::Registry;
use crate::state::LifecycleState;

/// A snapshot of the estate, for dashboards and reviews.
///
/// Shares, compliance and ages are computed over the identities not yet decommissioned
/// (requested, active, suspended, quarantined); shares are `0.0` when there are none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryMetrics {
    /// When the snapshot was taken.
    pub at: Timestamp,
    /// Every record in the store, tombstones included.
    pub total: usize,
    /// Records per lifecycle state (all states).
    pub by_state: BTreeMap<LifecycleState, usize>,
    /// Active identities per kind.
    pub active_by_kind: BTreeMap<IdentityKind, usize>,
    /// Active identities per risk tier.
    pub active_by_tier: BTreeMap<RiskTier, usize>,
    /// The share (0 to 1) with an owner.
    pub share_with_owner: f64,
    /// The share (0 to 1) with an expiry date.
    pub share_with_expiry: f64,
    /// The share (0 to 1) whose credential was renewed within its rotation interval.
    pub rotation_compliance: f64,
    /// The mean time since credentials were last renewed, in whole seconds.
    #[serde(with = "nhi_core::duration_text")]
    pub mean_credential_age: Duration,
    /// The longest time since a credential was last renewed, in whole seconds.
    #[serde(with = "nhi_core::duration_text")]
    pub max_credential_age: Duration,
    /// How many identities reached their planned decommission date (the trigger).
    pub decommissions_due: usize,
    /// How many of those still have live credentials (not yet disabled).
    pub decommissions_overdue: usize,
    /// The mean time from the planned decommission date to the credentials being dead
    /// (disabling), in whole seconds; overdue identities count with their delay so far.
    #[serde(with = "nhi_core::duration_text")]
    pub mean_decommission_lag: Duration,
    /// The longest such time.
    #[serde(with = "nhi_core::duration_text")]
    pub max_decommission_lag: Duration,
}

impl Registry {
    /// Computes the program metrics over every record.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn metrics(&self) -> Result<RegistryMetrics, RegistryError> {
        let at = self.now();
        let records = self.list_all().await?;
        Ok(compute(&records, at))
    }
}

/// The metrics of `records` at `now`.
fn compute(records: &[IdentityRecord], now: Timestamp) -> RegistryMetrics {
    let mut by_state = BTreeMap::new();
    let mut active_by_kind = BTreeMap::new();
    let mut active_by_tier = BTreeMap::new();
    for record in records {
        *by_state.entry(record.state).or_default() += 1;
        if record.state == LifecycleState::Active {
            *active_by_kind.entry(record.kind).or_default() += 1;
            *active_by_tier.entry(record.risk_tier).or_default() += 1;
        }
    }

    let live: Vec<&IdentityRecord> = records
        .iter()
        .filter(|r| !r.state.is_decommissioned())
        .collect();
    let ages: Vec<u64> = live
        .iter()
        .map(|r| now.duration_since(r.credential_renewed_at()).as_secs())
        .collect();
    let lags: Vec<(u64, bool)> = records
        .iter()
        .filter_map(|r| decommission_lag(r, now))
        .collect();
    let lag_secs: Vec<u64> = lags.iter().map(|(lag, _)| *lag).collect();

    RegistryMetrics {
        at: now,
        total: records.len(),
        by_state,
        active_by_kind,
        active_by_tier,
        share_with_owner: share(&live, |r| r.owner.is_some()),
        share_with_expiry: share(&live, |r| r.expires_at.is_some()),
        rotation_compliance: share(&live, |r| {
            now.duration_since(r.credential_renewed_at()) <= r.rotation_interval
        }),
        mean_credential_age: Duration::from_secs(mean(&ages)),
        max_credential_age: Duration::from_secs(ages.iter().copied().max().unwrap_or(0)),
        decommissions_due: lags.len(),
        decommissions_overdue: lags.iter().filter(|(_, overdue)| *overdue).count(),
        mean_decommission_lag: Duration::from_secs(mean(&lag_secs)),
        max_decommission_lag: Duration::from_secs(lag_secs.iter().copied().max().unwrap_or(0)),
    }
}

/// For an identity whose planned decommission date has come: the seconds from that date
/// to its disabling (or to `now` when it is still not disabled), and whether it is
/// still not disabled. Disabled ahead of the date counts as no delay.
fn decommission_lag(record: &IdentityRecord, now: Timestamp) -> Option<(u64, bool)> {
    let due = record.decommission_at.filter(|due| *due <= now)?;
    let killed = record.disabled_at.or_else(|| {
        record
            .state
            .is_decommissioned()
            .then_some(record.state_changed_at)
    });
    let lag = match killed {
        Some(at) => (at.duration_since(due).as_secs(), false),
        None => (now.duration_since(due).as_secs(), true),
    };
    Some(lag)
}

/// The mean of `values`, 0 when there are none.
fn mean(values: &[u64]) -> u64 {
    let total: u128 = values.iter().map(|&v| u128::from(v)).sum();
    total
        .checked_div(values.len() as u128)
        .map_or(0, |mean| u64::try_from(mean).unwrap_or(u64::MAX))
}

/// The share of `records` matching `test`; `0.0` when there are none.
fn share(records: &[&IdentityRecord], test: impl Fn(&IdentityRecord) -> bool) -> f64 {
    if records.is_empty() {
        return 0.0;
    }
    let matching = records.iter().filter(|r| test(r)).count();
    matching as f64 / records.len() as f64
}

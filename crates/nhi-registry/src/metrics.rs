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
    /// Computes the program metrics over every record, in one walk of the store.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn metrics(&self) -> Result<RegistryMetrics, RegistryError> {
        let now = self.now();
        let mut tally = Tally::default();
        self.store()
            .scan(&mut |record| tally.add(record, now))
            .await?;
        Ok(tally.finish(now))
    }
}

/// Running sums over the records seen so far.
#[derive(Default)]
struct Tally {
    total: usize,
    by_state: BTreeMap<LifecycleState, usize>,
    active_by_kind: BTreeMap<IdentityKind, usize>,
    active_by_tier: BTreeMap<RiskTier, usize>,
    live: usize,
    with_owner: usize,
    with_expiry: usize,
    rotated_in_time: usize,
    age_sum: u128,
    age_max: u64,
    lag_count: usize,
    lag_overdue: usize,
    lag_sum: u128,
    lag_max: u64,
}

impl Tally {
    fn add(&mut self, record: &IdentityRecord, now: Timestamp) {
        self.total += 1;
        *self.by_state.entry(record.state).or_default() += 1;
        if record.state == LifecycleState::Active {
            *self.active_by_kind.entry(record.kind).or_default() += 1;
            *self.active_by_tier.entry(record.risk_tier).or_default() += 1;
        }
        if let Some((lag, overdue)) = decommission_lag(record, now) {
            self.lag_count += 1;
            self.lag_overdue += usize::from(overdue);
            self.lag_sum += u128::from(lag);
            self.lag_max = self.lag_max.max(lag);
        }
        if record.state.is_decommissioned() {
            return;
        }

        // Shares, compliance and ages cover the identities not yet decommissioned.
        let age = now.duration_since(record.credential_renewed_at());
        self.live += 1;
        self.with_owner += usize::from(record.owner.is_some());
        self.with_expiry += usize::from(record.expires_at.is_some());
        self.rotated_in_time += usize::from(age <= record.rotation_interval);
        self.age_sum += u128::from(age.as_secs());
        self.age_max = self.age_max.max(age.as_secs());
    }

    fn finish(self, now: Timestamp) -> RegistryMetrics {
        RegistryMetrics {
            at: now,
            total: self.total,
            by_state: self.by_state,
            active_by_kind: self.active_by_kind,
            active_by_tier: self.active_by_tier,
            share_with_owner: share(self.with_owner, self.live),
            share_with_expiry: share(self.with_expiry, self.live),
            rotation_compliance: share(self.rotated_in_time, self.live),
            mean_credential_age: Duration::from_secs(mean(self.age_sum, self.live)),
            max_credential_age: Duration::from_secs(self.age_max),
            decommissions_due: self.lag_count,
            decommissions_overdue: self.lag_overdue,
            mean_decommission_lag: Duration::from_secs(mean(self.lag_sum, self.lag_count)),
            max_decommission_lag: Duration::from_secs(self.lag_max),
        }
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

/// `sum / count` in whole units, 0 when there is nothing to average.
fn mean(sum: u128, count: usize) -> u64 {
    sum.checked_div(count as u128)
        .map_or(0, |mean| u64::try_from(mean).unwrap_or(u64::MAX))
}

/// `part / whole` as a share from 0 to 1; `0.0` when `whole` is 0.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    part as f64 / whole as f64
}

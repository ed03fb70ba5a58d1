//! The program metrics a platform team reports on: inventory health from the registry
//! and enforcement counters from the control plane.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nhi_core::format_duration_rounded;
use nhi_registry::RegistryMetrics;
use serde::Serialize;

use crate::error::Error;
use crate::plane::ControlPlane;

/// Running totals kept by the control plane.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) granted: AtomicU64,
    pub(crate) policy_denials: AtomicU64,
    pub(crate) approvals_required: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) authentication_failures: AtomicU64,
    pub(crate) state_denials: AtomicU64,
    pub(crate) kill_switch_trips: AtomicU64,
    pub(crate) credentials_issued: AtomicU64,
    pub(crate) credentials_revoked: AtomicU64,
    pub(crate) audit_lost: AtomicU64,
    revoke_count: AtomicU64,
    revoke_total_nanos: AtomicU64,
    revoke_max_nanos: AtomicU64,
}

impl Counters {
    /// Records how long it took from a trigger (kill switch, decommission) to the
    /// identity's tokens being dead.
    pub(crate) fn record_time_to_revoke(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.revoke_count.fetch_add(1, Ordering::Relaxed);
        self.revoke_total_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.revoke_max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// A snapshot of the program metrics.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramMetrics {
    /// Inventory health: counts by state, kind and tier, ownership, expiry, rotation.
    pub registry: RegistryMetrics,
    /// Requests granted.
    pub granted: u64,
    /// Requests denied by policy (explicit or default deny).
    pub policy_denials: u64,
    /// Requests held for a human approval that was not (or no longer) there.
    pub approvals_required: u64,
    /// Requests rejected by the limiter.
    pub rate_limited: u64,
    /// Credentials that failed verification (expired, tampered, revoked, unknown).
    pub authentication_failures: u64,
    /// Valid credentials refused because of the identity's state (suspended, expired...).
    pub state_denials: u64,
    /// Times the kill switch suspended an identity.
    pub kill_switch_trips: u64,
    /// Credentials issued.
    pub credentials_issued: u64,
    /// Credentials revoked before their expiry.
    pub credentials_revoked: u64,
    /// Audit events lost in fail-open mode (always zero when failing closed).
    pub audit_events_lost: u64,
    /// How many kill switches and decommissions were timed.
    pub revocations_timed: u64,
    /// Mean time from a trigger to the identity's tokens being dead.
    pub mean_time_to_revoke: Duration,
    /// Longest time from a trigger to the identity's tokens being dead.
    pub max_time_to_revoke: Duration,
}

impl ControlPlane {
    /// A snapshot of the program metrics.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the store cannot be read.
    pub async fn metrics(&self) -> Result<ProgramMetrics, Error> {
        let registry = self.inner.registry.metrics().await?;
        let c = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);

        let timed = load(&c.revoke_count);
        let mean_nanos = load(&c.revoke_total_nanos).checked_div(timed).unwrap_or(0);
        Ok(ProgramMetrics {
            registry,
            granted: load(&c.granted),
            policy_denials: load(&c.policy_denials),
            approvals_required: load(&c.approvals_required),
            rate_limited: load(&c.rate_limited),
            authentication_failures: load(&c.authentication_failures),
            state_denials: load(&c.state_denials),
            kill_switch_trips: load(&c.kill_switch_trips),
            credentials_issued: load(&c.credentials_issued),
            credentials_revoked: load(&c.credentials_revoked),
            audit_events_lost: load(&c.audit_lost),
            revocations_timed: timed,
            mean_time_to_revoke: Duration::from_nanos(mean_nanos),
            max_time_to_revoke: Duration::from_nanos(load(&c.revoke_max_nanos)),
        })
    }
}

impl fmt::Display for ProgramMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.registry;
        let pct = |share: f64| format!("{:.0}%", share * 100.0);
        let active = r.active_by_tier.values().sum::<usize>();
        let revoke = format!(
            "mean {}, max {} over {}",
            format_duration_rounded(self.mean_time_to_revoke),
            format_duration_rounded(self.max_time_to_revoke),
            self.revocations_timed
        );
        let rows: [(&str, String); 15] = [
            ("identities in registry", r.total.to_string()),
            ("active identities", active.to_string()),
            ("share with an owner", pct(r.share_with_owner)),
            ("share with an expiry", pct(r.share_with_expiry)),
            ("rotation compliance", pct(r.rotation_compliance)),
            (
                "mean credential age",
                format_duration_rounded(r.mean_credential_age),
            ),
            ("requests granted", self.granted.to_string()),
            (
                "refused: bad credential",
                self.authentication_failures.to_string(),
            ),
            ("refused: identity state", self.state_denials.to_string()),
            ("refused: policy", self.policy_denials.to_string()),
            ("held for approval", self.approvals_required.to_string()),
            ("rate limited", self.rate_limited.to_string()),
            ("kill switch trips", self.kill_switch_trips.to_string()),
            (
                "credentials issued / revoked",
                format!("{} / {}", self.credentials_issued, self.credentials_revoked),
            ),
            ("time to revoke (kill, retire)", revoke),
        ];
        for (name, value) in rows {
            writeln!(f, "  {name:<30} {value}")?;
        }
        let states: Vec<String> = r.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(f, "  {:<30} {}", "by state", states.join(", "))
    }
}

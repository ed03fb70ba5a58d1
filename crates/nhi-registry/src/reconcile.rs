//! Reconciliation: finding identities nobody answers for, nobody uses, or that outlived
//! their dates, and quarantining them.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use nhi_core::{IdentityId, TeamName, Timestamp, format_duration};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::record::IdentityRecord;
use crate::registry::{Edit, Registry, enter_state};
use crate::state::LifecycleState;

/// What reconciliation looks for and what it does about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcilePolicy {
    /// An identity not used for longer than this is a finding.
    #[serde(with = "nhi_core::duration_text")]
    pub unused_for: Duration,
    /// Whether findings are quarantined or only reported.
    pub mode: ReconcileMode,
    /// When given, an owner team outside this set is a finding.
    #[serde(default)]
    pub known_teams: Option<BTreeSet<TeamName>>,
}

/// What reconciliation does with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReconcileMode {
    /// Move every identity with a finding to [`LifecycleState::Quarantined`].
    Quarantine,
    /// Change nothing; only report.
    ReportOnly,
}

/// The outcome of one reconciliation run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    /// When the run happened.
    pub at: Timestamp,
    /// How many active or suspended identities were examined.
    pub examined: usize,
    /// The identities with at least one finding, in id order.
    pub findings: Vec<Finding>,
}

/// What is wrong with one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The identity.
    pub id: IdentityId,
    /// Its state when examined.
    pub state_before: LifecycleState,
    /// Everything found wrong with it.
    pub reasons: Vec<FindingReason>,
    /// Whether this run quarantined it.
    pub quarantined: bool,
}

/// One thing found wrong with an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum FindingReason {
    /// Nobody answers for it.
    NoOwner,
    /// Nobody wrote down what it is for.
    NoPurpose,
    /// It has not acted for longer than the policy allows; `since` is its last use, or
    /// `None` when it never acted.
    Unused {
        /// Its last use, if it ever acted.
        since: Option<Timestamp>,
    },
    /// Its expiry has passed.
    Expired {
        /// The expiry.
        at: Timestamp,
    },
    /// Its planned decommission date has passed.
    PastDecommission {
        /// The planned date.
        at: Timestamp,
    },
    /// Its owning team is not a known team.
    UnknownTeam {
        /// The unknown team.
        team: TeamName,
    },
}

impl Registry {
    /// Examines every active or suspended identity against `policy` and, in
    /// [`ReconcileMode::Quarantine`], quarantines each one with a finding.
    ///
    /// An identity that changed state between the listing and the quarantine is
    /// reported with `quarantined: false`.
    ///
    /// # Errors
    ///
    /// Store errors; the run stops at the first one.
    pub async fn reconcile(
        &self,
        policy: &ReconcilePolicy,
    ) -> Result<ReconcileReport, RegistryError> {
        let at = self.now();
        let mut examined = 0;
        let mut flagged = Vec::new();
        self.store()
            .scan(&mut |record| {
                if !matches!(
                    record.state,
                    LifecycleState::Active | LifecycleState::Suspended
                ) {
                    return;
                }
                examined += 1;
                let reasons = examine(record, policy, at);
                if !reasons.is_empty() {
                    flagged.push((record.id.clone(), record.state, reasons));
                }
            })
            .await?;
        flagged.sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let mut findings = Vec::with_capacity(flagged.len());
        for (id, state_before, reasons) in flagged {
            let quarantined = match policy.mode {
                ReconcileMode::Quarantine => self.quarantine(&id).await?,
                ReconcileMode::ReportOnly => false,
            };
            findings.push(Finding {
                id,
                state_before,
                reasons,
                quarantined,
            });
        }

        Ok(ReconcileReport {
            at,
            examined,
            findings,
        })
    }

    /// Quarantines `id` if it is still active or suspended; reports whether it did.
    async fn quarantine(&self, id: &IdentityId) -> Result<bool, RegistryError> {
        let (before, after) = self
            .modify(id, |record, now| {
                if !matches!(
                    record.state,
                    LifecycleState::Active | LifecycleState::Suspended
                ) {
                    return Ok(Edit::Unchanged);
                }
                enter_state(record, LifecycleState::Quarantined, now)?;
                Ok(Edit::Write)
            })
            .await?;
        Ok(before.state != after.state)
    }
}

/// Everything `policy` finds wrong with `record` at `now`.
fn examine(
    record: &IdentityRecord,
    policy: &ReconcilePolicy,
    now: Timestamp,
) -> Vec<FindingReason> {
    let mut reasons = Vec::new();
    match &record.owner {
        None => reasons.push(FindingReason::NoOwner),
        Some(owner) => {
            let unknown = policy
                .known_teams
                .as_ref()
                .is_some_and(|known| !known.contains(&owner.team));
            if unknown {
                reasons.push(FindingReason::UnknownTeam {
                    team: owner.team.clone(),
                });
            }
        }
    }
    if !record.has_purpose() {
        reasons.push(FindingReason::NoPurpose);
    }

    // Never used counts from creation.
    let idle_since = record.last_used_at.unwrap_or(record.created_at);
    if now.duration_since(idle_since) > policy.unused_for {
        reasons.push(FindingReason::Unused {
            since: record.last_used_at,
        });
    }

    if let Some(at) = record.expires_at.filter(|at| *at <= now) {
        reasons.push(FindingReason::Expired { at });
    }
    if let Some(at) = record.decommission_at.filter(|at| *at <= now) {
        reasons.push(FindingReason::PastDecommission { at });
    }
    reasons
}

impl fmt::Display for FindingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOwner => f.write_str("no owner"),
            Self::NoPurpose => f.write_str("no purpose"),
            Self::Unused { since: Some(at) } => write!(f, "unused since {at:#}"),
            Self::Unused { since: None } => f.write_str("never used"),
            Self::Expired { at } => write!(f, "expired at {at:#}"),
            Self::PastDecommission { at } => write!(f, "past decommission date {at:#}"),
            Self::UnknownTeam { team } => write!(f, "unknown team `{team}`"),
        }
    }
}

impl fmt::Display for ReconcileReport {
    /// A table for people: one line per finding, reasons joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "reconciliation at {:#}: {} examined, {} with findings",
            self.at,
            self.examined,
            self.findings.len()
        )?;
        if self.findings.is_empty() {
            return Ok(());
        }

        let width = |values: &mut dyn Iterator<Item = usize>, header: &str| {
            values.max().unwrap_or(0).max(header.len())
        };
        let id_w = width(
            &mut self.findings.iter().map(|x| x.id.as_str().len()),
            "IDENTITY",
        );
        let state_w = width(
            &mut self.findings.iter().map(|x| x.state_before.as_str().len()),
            "WAS",
        );
        writeln!(
            f,
            "{:id_w$}  {:state_w$}  {:11}  REASONS",
            "IDENTITY", "WAS", "QUARANTINED"
        )?;
        for finding in &self.findings {
            let reasons: Vec<String> = finding.reasons.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "{:id_w$}  {:state_w$}  {:11}  {}",
                finding.id.as_str(),
                finding.state_before.as_str(),
                if finding.quarantined { "yes" } else { "no" },
                reasons.join("; ")
            )?;
        }
        Ok(())
    }
}

impl ReconcilePolicy {
    /// A report-only policy flagging identities unused for `unused_for`, with no team
    /// check.
    pub fn report_only(unused_for: Duration) -> Self {
        Self {
            unused_for,
            mode: ReconcileMode::ReportOnly,
            known_teams: None,
        }
    }
}

impl fmt::Display for ReconcilePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            ReconcileMode::Quarantine => "quarantine",
            ReconcileMode::ReportOnly => "report only",
        };
        write!(f, "{mode}, unused for {}", format_duration(self.unused_for))
    }
}

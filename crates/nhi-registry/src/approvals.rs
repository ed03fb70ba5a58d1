//! Approvals of high-risk identities: who may approve, in which role, for how long.

use std::time::Duration;

use nhi_core::{IdentityId, Timestamp};

use crate::error::{RegistryError, clip};
use crate::record::{Approval, ApproverRole, IdentityRecord};
use crate::registry::{Edit, Registry, enter_state};
use crate::state::LifecycleState;

/// The longest approver name accepted.
const MAX_APPROVER_LEN: usize = 128;

impl Registry {
    /// Records `approver`'s approval of a requested identity in `role`; when the tier's
    /// approvals are complete, the identity becomes active.
    ///
    /// High and critical tiers need one owner and one security approval from two
    /// different people; lower tiers are activated by one approval. Approvals expire
    /// ([`Registry::with_approval_validity`]): an expired one stays in the record as
    /// history but no longer counts, so its role (and its approver) may approve again.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotAwaitingApproval`] when the identity is not requested,
    /// [`RegistryError::SelfApproval`], [`RegistryError::DuplicateApprover`],
    /// [`RegistryError::RoleAlreadyApproved`], [`RegistryError::InvalidApprover`], and
    /// the errors of [`Registry::get`].
    pub async fn approve(
        &self,
        id: &IdentityId,
        approver: &str,
        role: ApproverRole,
    ) -> Result<IdentityRecord, RegistryError> {
        check_approver_name(approver)?;
        let validity = self.approval_validity();
        let (_, after) = self
            .modify(id, |record, now| {
                add_approval(record, approver, role, now, validity)?;
                if approvals_complete(record, now, validity) {
                    enter_state(record, LifecycleState::Active, now)?;
                }
                Ok(Edit::Write)
            })
            .await?;
        Ok(after)
    }
}

impl Approval {
    /// Whether this approval still counts at `now`, given approvals last `validity`.
    pub fn is_valid_at(&self, now: Timestamp, validity: Duration) -> bool {
        now.duration_since(self.at) <= validity
    }
}

/// Whether the record holds the unexpired approvals its tier needs to become active.
pub(crate) fn approvals_complete(
    record: &IdentityRecord,
    now: Timestamp,
    validity: Duration,
) -> bool {
    if !record.risk_tier.requires_dual_approval() {
        return true;
    }
    let has = |role| {
        record
            .approvals
            .iter()
            .any(|a| a.role == role && a.is_valid_at(now, validity))
    };
    has(ApproverRole::Owner) && has(ApproverRole::Security)
}

/// Adds an approval to a requested record, refusing self, repeated and redundant ones;
/// only unexpired approvals are compared with.
fn add_approval(
    record: &mut IdentityRecord,
    approver: &str,
    role: ApproverRole,
    now: Timestamp,
    validity: Duration,
) -> Result<(), RegistryError> {
    let id = &record.id;
    if record.state != LifecycleState::Requested {
        return Err(RegistryError::NotAwaitingApproval {
            id: id.clone(),
            state: record.state,
        });
    }
    if approver.eq_ignore_ascii_case(id.as_str()) {
        return Err(RegistryError::SelfApproval { id: id.clone() });
    }
    let mut valid = record
        .approvals
        .iter()
        .filter(|a| a.is_valid_at(now, validity));
    if valid
        .clone()
        .any(|a| a.approver.eq_ignore_ascii_case(approver))
    {
        return Err(RegistryError::DuplicateApprover {
            id: id.clone(),
            approver: clip(approver),
        });
    }
    if valid.any(|a| a.role == role) {
        return Err(RegistryError::RoleAlreadyApproved {
            id: id.clone(),
            role,
        });
    }
    record.approvals.push(Approval {
        approver: approver.to_owned(),
        role,
        at: now,
    });
    Ok(())
}

/// Refuses approver names that are blank, too long or carry control characters.
fn check_approver_name(approver: &str) -> Result<(), RegistryError> {
    let reason = if approver.trim().is_empty() {
        "it is empty"
    } else if approver.len() > MAX_APPROVER_LEN {
        "it is longer than 128 bytes"
    } else if approver.chars().any(char::is_control) {
        "it contains control characters"
    } else if approver.trim() != approver {
        "it has leading or trailing spaces"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidApprover {
        approver: clip(approver),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_counts_until_its_validity_runs_out() {
        let at = Timestamp::from_unix_secs(1_000);
        let approval = Approval {
            approver: "alice".into(),
            role: ApproverRole::Owner,
            at,
        };
        let day = Duration::from_secs(86_400);
        assert!(approval.is_valid_at(at.saturating_add(day), day));
        assert!(!approval.is_valid_at(at.saturating_add(day + Duration::from_secs(1)), day));
    }
}

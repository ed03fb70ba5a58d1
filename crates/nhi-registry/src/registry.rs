//! The registry service: lifecycle operations over an [`IdentityStore`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nhi_core::{IdentityId, SharedClock, Timestamp};

use crate::error::{RegistryError, clip};
use crate::limits::TierLimits;
use crate::record::{Approval, ApproverRole, IdentityRecord};
use crate::state::LifecycleState;
use crate::store::{IdentityStore, Page};

/// How many times a write is tried when it keeps losing version races before the
/// conflict is returned. Every lost race means another writer won, so the store always
/// makes progress; the bound only stops one writer from trying forever.
const MAX_ATTEMPTS: usize = 1_000;

/// The most times a writer yields to the executor between two attempts.
const MAX_YIELDS: usize = 16;

/// How many records [`Registry::list_all`] asks the store for at a time.
const LIST_PAGE: usize = 256;

/// The longest approver name accepted.
const MAX_APPROVER_LEN: usize = 128;

/// The lifecycle service: provisions, approves, moves, revokes and reconciles identities.
///
/// Every change is a read-modify-write of one record under optimistic concurrency: when
/// another writer got there first, the change is re-applied to the fresh record (up to
/// 1,000 times), so no update is lost. Cloning a registry is cheap and shares its store.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn IdentityStore>,
    clock: SharedClock,
    limits: TierLimits,
}

/// The record before and after a lifecycle transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The record as it was.
    pub before: IdentityRecord,
    /// The record as stored after the transition.
    pub after: IdentityRecord,
}

/// Whether an edit of a record needs writing back.
pub(crate) enum Edit {
    /// The record changed; store it.
    Write,
    /// Nothing changed; skip the write.
    Unchanged,
}

impl Registry {
    /// A registry over `store`, reading time from `clock`, with the default tier limits.
    pub fn new(store: Arc<dyn IdentityStore>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            limits: TierLimits::default(),
        }
    }

    /// This registry with other limits on credential lifetime and rotation per tier.
    #[must_use]
    pub fn with_tier_limits(mut self, limits: TierLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// The limits provisioning enforces.
    pub fn tier_limits(&self) -> &TierLimits {
        &self.limits
    }

    /// The current time from the registry's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The record of `id`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] when there is none; store errors as they come.
    pub async fn get(&self, id: &IdentityId) -> Result<IdentityRecord, RegistryError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound { id: id.clone() })
    }

    /// Every record, in id order, read page by page.
    ///
    /// # Errors
    ///
    /// Store errors, and a backend error when the store lists out of order.
    pub async fn list_all(&self) -> Result<Vec<IdentityRecord>, RegistryError> {
        let mut all = Vec::new();
        let mut page = Page::first(LIST_PAGE);
        loop {
            let batch = self.store.list(&page).await?;
            let full = batch.len() >= page.limit;
            let Some(last) = batch.last().map(|record| record.id.clone()) else {
                return Ok(all);
            };
            if !page.admits(&last) {
                return Err(RegistryError::backend(
                    "listing identities",
                    "the store returned ids out of order",
                ));
            }
            all.extend(batch);
            if !full {
                return Ok(all);
            }
            page.after = Some(last);
        }
    }

    /// Moves `id` to the state `to`.
    ///
    /// Entering [`LifecycleState::Disabled`] sets the revocation epoch to now, so every
    /// credential issued so far is dead; entering [`LifecycleState::Deprovisioned`]
    /// clears scopes and allowed systems. Activating a requested identity whose tier
    /// needs dual approval requires both approvals.
    ///
    /// # Errors
    ///
    /// [`RegistryError::IllegalTransition`] when the lifecycle forbids the move,
    /// [`RegistryError::ApprovalRequired`] when approvals are missing, and the errors of
    /// [`Registry::get`].
    pub async fn transition(
        &self,
        id: &IdentityId,
        to: LifecycleState,
    ) -> Result<Transition, RegistryError> {
        let (before, after) = self
            .modify(id, |record, now| {
                if record.state == LifecycleState::Requested
                    && to == LifecycleState::Active
                    && !approvals_complete(record)
                {
                    return Err(RegistryError::ApprovalRequired { id: id.clone() });
                }
                enter_state(record, to, now)?;
                Ok(Edit::Write)
            })
            .await?;
        Ok(Transition { before, after })
    }

    /// Records `approver`'s approval of a requested identity in `role`; when the tier's
    /// approvals are complete, the identity becomes active.
    ///
    /// High and critical tiers need one owner and one security approval from two
    /// different people; lower tiers are activated by one approval.
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
        let (_, after) = self
            .modify(id, |record, now| {
                add_approval(record, approver, role, now)?;
                if approvals_complete(record) {
                    enter_state(record, LifecycleState::Active, now)?;
                }
                Ok(Edit::Write)
            })
            .await?;
        Ok(after)
    }

    /// Kills every credential of `id` issued before `epoch`.
    ///
    /// The epoch only moves forward: an epoch earlier than the recorded one changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`RegistryError::RevocationEpochInFuture`] when `epoch` is after now, and the
    /// errors of [`Registry::get`].
    pub async fn revoke_credentials_before(
        &self,
        id: &IdentityId,
        epoch: Timestamp,
    ) -> Result<IdentityRecord, RegistryError> {
        let (_, after) = self
            .modify(id, |record, now| {
                if epoch > now {
                    return Err(RegistryError::RevocationEpochInFuture {
                        id: id.clone(),
                        epoch,
                        now,
                    });
                }
                Ok(advance(&mut record.revoked_before, epoch))
            })
            .await?;
        Ok(after)
    }

    /// Notes that `id` acted at `at`; an older time than the recorded one is ignored.
    ///
    /// # Errors
    ///
    /// The errors of [`Registry::get`] and of the store.
    pub async fn record_use(&self, id: &IdentityId, at: Timestamp) -> Result<(), RegistryError> {
        self.modify(id, |record, _| Ok(advance(&mut record.last_used_at, at)))
            .await?;
        Ok(())
    }

    /// Notes that the credential of `id` was rotated at `at`; an older time than the
    /// recorded one is ignored.
    ///
    /// # Errors
    ///
    /// The errors of [`Registry::get`] and of the store.
    pub async fn record_rotation(
        &self,
        id: &IdentityId,
        at: Timestamp,
    ) -> Result<IdentityRecord, RegistryError> {
        let (_, after) = self
            .modify(id, |record, _| Ok(advance(&mut record.last_rotated_at, at)))
            .await?;
        Ok(after)
    }

    /// The one read-modify-write path every change takes.
    ///
    /// Reads the record, applies `edit` to a copy with the current time, and stores it
    /// under the version it was read at. When another writer won the race, the edit is
    /// applied again to the fresh record; after [`MAX_ATTEMPTS`] lost races the
    /// conflict is returned. Returns the record before and after the edit.
    pub(crate) async fn modify<F>(
        &self,
        id: &IdentityId,
        mut edit: F,
    ) -> Result<(IdentityRecord, IdentityRecord), RegistryError>
    where
        F: FnMut(&mut IdentityRecord, Timestamp) -> Result<Edit, RegistryError> + Send,
    {
        let mut attempt = 1;
        loop {
            let before = self.get(id).await?;
            let mut after = before.clone();
            if let Edit::Unchanged = edit(&mut after, self.clock.now())? {
                return Ok((before.clone(), before));
            }

            // The edit may not touch what makes the write safe.
            after.id = before.id.clone();
            after.version = before.version;

            match self.store.update(&after).await {
                Ok(stored) => return Ok((before, stored)),
                Err(RegistryError::VersionConflict { .. }) if attempt < MAX_ATTEMPTS => {
                    // Back off a little more after each loss, so the winners finish.
                    for _ in 0..attempt.min(MAX_YIELDS) {
                        YieldOnce::default().await;
                    }
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Moves `record` into `to` at `now`, with the side effects of entering that state.
pub(crate) fn enter_state(
    record: &mut IdentityRecord,
    to: LifecycleState,
    now: Timestamp,
) -> Result<(), RegistryError> {
    if !record.state.can_transition_to(to) {
        return Err(RegistryError::IllegalTransition {
            id: record.id.clone(),
            from: record.state,
            to,
        });
    }
    match to {
        LifecycleState::Disabled => {
            advance(&mut record.revoked_before, now);
        }
        LifecycleState::Deprovisioned => {
            record.scopes.clear();
            record.allowed_systems.clear();
        }
        _ => {}
    }
    record.state = to;
    record.state_changed_at = now;
    Ok(())
}

/// Whether the record holds the approvals its tier needs to become active.
fn approvals_complete(record: &IdentityRecord) -> bool {
    if !record.risk_tier.requires_dual_approval() {
        return true;
    }
    let has = |role| record.approvals.iter().any(|a| a.role == role);
    has(ApproverRole::Owner) && has(ApproverRole::Security)
}

/// Adds an approval to a requested record, refusing self, repeated and redundant ones.
fn add_approval(
    record: &mut IdentityRecord,
    approver: &str,
    role: ApproverRole,
    now: Timestamp,
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
    if record
        .approvals
        .iter()
        .any(|a| a.approver.eq_ignore_ascii_case(approver))
    {
        return Err(RegistryError::DuplicateApprover {
            id: id.clone(),
            approver: clip(approver),
        });
    }
    if record.approvals.iter().any(|a| a.role == role) {
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

/// Moves an optional time forward to `to`; never backwards.
fn advance(slot: &mut Option<Timestamp>, to: Timestamp) -> Edit {
    if slot.is_some_and(|current| current >= to) {
        return Edit::Unchanged;
    }
    *slot = Some(to);
    Edit::Write
}

/// A future that yields to the executor once, so a writer that lost a race lets the
/// winner finish before trying again.
#[derive(Default)]
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

//! The registry service: lifecycle operations over an [`IdentityStore`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use nhi_core::{IdentityId, RiskTier, SharedClock, Timestamp};

use crate::approvals::approvals_complete;
use crate::error::RegistryError;
use crate::limits::TierLimits;
use crate::record::IdentityRecord;
use crate::state::LifecycleState;
use crate::store::{IdentityStore, Page};

/// How many times a write is tried when it keeps losing version races before the
/// conflict is returned. Every lost race means another writer won, so the store always
/// makes progress; the bound only stops one writer from trying forever.
const MAX_ATTEMPTS: usize = 1_000;

/// The most times a writer yields to the executor between two attempts.
const MAX_YIELDS: usize = 16;

/// How long an approval counts by default: seven days.
const DEFAULT_APPROVAL_VALIDITY: Duration = Duration::from_secs(7 * 86_400);

/// How many records [`Registry::list_all`] asks the store for at a time.
const LIST_PAGE: usize = 1_024;

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
    approval_validity: Duration,
    person_required_from: Option<RiskTier>,
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
            approval_validity: DEFAULT_APPROVAL_VALIDITY,
            person_required_from: Some(RiskTier::High),
        }
    }

    /// This registry with other limits on credential lifetime and rotation per tier.
    #[must_use]
    pub fn with_tier_limits(mut self, limits: TierLimits) -> Self {
        self.limits = limits;
        self
    }

    /// This registry with approvals valid for `validity` after they were given (7 days
    /// by default): an older approval no longer counts and must be given again.
    #[must_use]
    pub fn with_approval_validity(mut self, validity: Duration) -> Self {
        self.approval_validity = validity;
        self
    }

    /// This registry requiring a named accountable person in the owner of every
    /// identity provisioned at `tier` or above (`None`: never). By default high and
    /// critical identities need one.
    #[must_use]
    pub fn with_person_required_from(mut self, tier: Option<RiskTier>) -> Self {
        self.person_required_from = tier;
        self
    }

    /// How long an approval stays valid.
    pub fn approval_validity(&self) -> Duration {
        self.approval_validity
    }

    /// The lowest tier whose identities need a named accountable person, if any.
    pub fn person_required_from(&self) -> Option<RiskTier> {
        self.person_required_from
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
        self.for_each_page(|batch| all.extend(batch)).await?;
        Ok(all)
    }

    /// Reads every record page by page, in id order, handing each page to `visit`, so
    /// that a walk over a large estate never holds all of it at once.
    pub(crate) async fn for_each_page(
        &self,
        mut visit: impl FnMut(Vec<IdentityRecord>) + Send,
    ) -> Result<(), RegistryError> {
        let mut page = Page::first(LIST_PAGE);
        loop {
            let batch = self.store.list(&page).await?;
            let full = batch.len() >= page.limit;
            let Some(last) = batch.last().map(|record| record.id.clone()) else {
                return Ok(());
            };
            if !page.admits(&last) {
                return Err(RegistryError::backend(
                    "listing identities",
                    "the store returned ids out of order",
                ));
            }
            visit(batch);
            if !full {
                return Ok(());
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
                    && !approvals_complete(record, now, self.approval_validity)
                {
                    return Err(RegistryError::ApprovalRequired { id: id.clone() });
                }
                enter_state(record, to, now)?;
                Ok(Edit::Write)
            })
            .await?;
        Ok(Transition { before, after })
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
            record.disabled_at = Some(now);
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

/// Moves an optional time forward to `to`; never backwards.
pub(crate) fn advance(slot: &mut Option<Timestamp>, to: Timestamp) -> Edit {
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

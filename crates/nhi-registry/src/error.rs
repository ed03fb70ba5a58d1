//! The error type of the registry and of every identity store.

use std::error::Error as StdError;
use std::time::Duration;

use nhi_core::{Environment, IdentityId, RiskTier, TenantId, Timestamp, format_duration};

use crate::record::ApproverRole;
use crate::state::LifecycleState;

/// A boxed error from a storage backend, kept as the source of a [`RegistryError`].
pub type BackendError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a registry operation or a store call failed.
///
/// The variants fall in three groups: the request breaks a rule of the lifecycle (a
/// guard, an illegal transition, an approval mistake), the record is not where the
/// caller expected it (not found, already there, changed concurrently), or the storage
/// backend failed (its error is kept as the source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No identity with this id is registered.
    #[error("no identity `{id}` is registered")]
    NotFound {
        /// The id that was looked up.
        id: IdentityId,
    },
    /// The id is already registered; ids are never shared between identities.
    #[error("identity `{id}` already exists: choose another id")]
    AlreadyExists {
        /// The id that is taken.
        id: IdentityId,
    },
    /// The id belonged to an identity that was tombstoned; it can never be used again.
    #[error("identity id `{id}` was tombstoned and can never be reused: choose another id")]
    IdReused {
        /// The tombstoned id.
        id: IdentityId,
    },
    /// The record changed since it was read (optimistic concurrency); read it again.
    #[error(
        "identity `{id}` changed concurrently (expected version {expected}, found {found}): \
         read it again and retry"
    )]
    VersionConflict {
        /// The identity.
        id: IdentityId,
        /// The version the writer read.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// The record's version counter cannot grow any further.
    #[error("identity `{id}` has reached the largest version number and cannot be updated")]
    VersionExhausted {
        /// The identity.
        id: IdentityId,
    },
    /// The lifecycle does not allow this move.
    #[error("identity `{id}` cannot move from `{from}` to `{to}`")]
    IllegalTransition {
        /// The identity.
        id: IdentityId,
        /// Its current state.
        from: LifecycleState,
        /// The requested state.
        to: LifecycleState,
    },
    /// Provisioning needs an owning team.
    #[error("identity `{id}` has no owner: name the owning team")]
    MissingOwner {
        /// The identity.
        id: IdentityId,
    },
    /// The identity's tier needs a named person who answers for it.
    #[error("identity `{id}` is `{tier}` risk and names no accountable person: set `owner.person`")]
    MissingAccountablePerson {
        /// The identity.
        id: IdentityId,
        /// Its risk tier.
        tier: RiskTier,
    },
    /// The named accountable person is not acceptable.
    #[error("the accountable person `{person}` of identity `{id}` is not acceptable: {reason}")]
    InvalidAccountablePerson {
        /// The identity.
        id: IdentityId,
        /// The name given (shortened when long).
        person: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The id belongs to an identity in another tenant or environment; an identity is
    /// never shared across those boundaries.
    #[error(
        "identity `{id}` belongs to tenant `{existing_tenant}` in `{existing_environment}` and \
         cannot be used in tenant `{tenant}` in `{environment}`: register a separate identity"
    )]
    CrossBoundaryReuse {
        /// The identity.
        id: IdentityId,
        /// The tenant it belongs to.
        existing_tenant: TenantId,
        /// The environment it belongs to.
        existing_environment: Environment,
        /// The tenant asked for.
        tenant: TenantId,
        /// The environment asked for.
        environment: Environment,
    },
    /// Provisioning needs a purpose.
    #[error("identity `{id}` has no purpose: say in one sentence what it is for")]
    MissingPurpose {
        /// The identity.
        id: IdentityId,
    },
    /// The purpose is present but not acceptable.
    #[error("the purpose of identity `{id}` is not acceptable: {reason}")]
    InvalidPurpose {
        /// The identity.
        id: IdentityId,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Provisioning needs an expiry date.
    #[error("identity `{id}` has no expiry: set `expires_at`")]
    MissingExpiry {
        /// The identity.
        id: IdentityId,
    },
    /// The expiry date has already passed.
    #[error("identity `{id}` expires at `{expires_at}`, which is not after now (`{now}`)")]
    ExpiryNotInFuture {
        /// The identity.
        id: IdentityId,
        /// The requested expiry.
        expires_at: Timestamp,
        /// The time of the request.
        now: Timestamp,
    },
    /// The credential would live longer than the risk tier allows.
    #[error(
        "identity `{id}` asks for credentials living {}, but the `{tier}` tier allows at most {}",
        format_duration(*.requested), format_duration(*.max)
    )]
    CredentialLifetimeTooLong {
        /// The identity.
        id: IdentityId,
        /// Its risk tier.
        tier: RiskTier,
        /// The requested lifetime.
        requested: Duration,
        /// The tier's maximum.
        max: Duration,
    },
    /// Rotation would happen less often than the risk tier requires.
    #[error(
        "identity `{id}` asks to rotate every {}, but the `{tier}` tier requires at least every {}",
        format_duration(*.requested), format_duration(*.max)
    )]
    RotationIntervalTooLong {
        /// The identity.
        id: IdentityId,
        /// Its risk tier.
        tier: RiskTier,
        /// The requested interval.
        requested: Duration,
        /// The tier's maximum.
        max: Duration,
    },
    /// A scope is not written `system:permission`.
    #[error("scope `{scope}` of identity `{id}` is malformed: write it `system:permission`")]
    MalformedScope {
        /// The identity.
        id: IdentityId,
        /// The rejected scope (shortened when long).
        scope: String,
    },
    /// A scope names a system the identity is not allowed to reach.
    #[error(
        "scope `{scope}` of identity `{id}` is for system `{system}`, which is not in its \
         allowed systems: add the system or drop the scope"
    )]
    ScopeOutsideAllowedSystems {
        /// The identity.
        id: IdentityId,
        /// The rejected scope (shortened when long).
        scope: String,
        /// The system the scope names.
        system: String,
    },
    /// Approval was asked for an identity that is not waiting for it.
    #[error("identity `{id}` is `{state}`, not `requested`: there is nothing to approve")]
    NotAwaitingApproval {
        /// The identity.
        id: IdentityId,
        /// Its current state.
        state: LifecycleState,
    },
    /// Activation was asked before the required approvals were given.
    #[error("identity `{id}` needs an owner and a security approval before it can be activated")]
    ApprovalRequired {
        /// The identity.
        id: IdentityId,
    },
    /// An identity tried to approve itself.
    #[error("identity `{id}` cannot approve itself")]
    SelfApproval {
        /// The identity.
        id: IdentityId,
    },
    /// The approver has already approved this identity.
    #[error("`{approver}` has already approved identity `{id}`: a second, different person must")]
    DuplicateApprover {
        /// The identity.
        id: IdentityId,
        /// The approver (shortened when long).
        approver: String,
    },
    /// An approval in this role is already recorded.
    #[error(
        "identity `{id}` already has an approval in the `{role}` role: the other role must approve"
    )]
    RoleAlreadyApproved {
        /// The identity.
        id: IdentityId,
        /// The role already covered.
        role: ApproverRole,
    },
    /// The approver's name is not acceptable.
    #[error("approver `{approver}` is not acceptable: {reason}")]
    InvalidApprover {
        /// The approver (shortened when long).
        approver: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A revocation epoch may not lie in the future.
    #[error(
        "revocation epoch `{epoch}` for identity `{id}` is after now (`{now}`): it would kill \
         credentials not yet issued"
    )]
    RevocationEpochInFuture {
        /// The identity.
        id: IdentityId,
        /// The requested epoch.
        epoch: Timestamp,
        /// The time of the request.
        now: Timestamp,
    },
    /// The identity is already superseded by another one.
    #[error("identity `{id}` is already superseded by `{by}`")]
    AlreadySuperseded {
        /// The identity.
        id: IdentityId,
        /// Its successor.
        by: IdentityId,
    },
    /// The identity is disabled or further along the decommission path.
    #[error("identity `{id}` is `{state}`: a decommissioned identity cannot be superseded")]
    Decommissioned {
        /// The identity.
        id: IdentityId,
        /// Its current state.
        state: LifecycleState,
    },
    /// The store was written by a newer release with a schema this one does not know.
    #[error(
        "the identity store was created by a newer version (schema {found}, this release \
         knows up to {supported}): upgrade before opening it"
    )]
    SchemaTooNew {
        /// The schema version found in the store.
        found: u32,
        /// The newest schema version this release understands.
        supported: u32,
    },
    /// The stored data cannot be read: the file is damaged or is not an identity store.
    #[error("the identity store is unreadable: {context}")]
    Corrupt {
        /// What was being read.
        context: String,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
    /// The storage backend failed.
    #[error("the identity store failed: {context}")]
    Backend {
        /// What was being done.
        context: String,
        /// The backend's error.
        #[source]
        source: BackendError,
    },
}

impl RegistryError {
    /// A [`RegistryError::Backend`] with `context` wrapping `source`.
    pub fn backend(context: impl Into<String>, source: impl Into<BackendError>) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A [`RegistryError::Corrupt`] with `context` wrapping `source`.
    pub fn corrupt(context: impl Into<String>, source: impl Into<BackendError>) -> Self {
        Self::Corrupt {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Shortens user input kept in an error so that a hostile megabyte does not end up in logs.
pub(crate) fn clip(value: &str) -> String {
    nhi_core::shorten(value, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_keep_their_source() {
        let err = RegistryError::backend("writing identity `a`", "disk full");
        assert_eq!(
            err.to_string(),
            "the identity store failed: writing identity `a`"
        );
        assert_eq!(err.source().unwrap().to_string(), "disk full");
    }

    #[test]
    fn clip_shortens_on_a_char_boundary() {
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.len() < 90);
        assert!(clipped.ends_with('…'));
    }
}

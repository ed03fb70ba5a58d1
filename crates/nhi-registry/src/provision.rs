//! Bringing identities in: provisioning with guards, importing found ones, superseding.

use std::time::Duration;

use nhi_core::{IdentityId, RiskTier, Timestamp};

use crate::error::{RegistryError, clip};
use crate::limits::TierLimits;
use crate::record::{IdentityRecord, NewIdentity};
use crate::registry::{Edit, Registry};
use crate::state::LifecycleState;

/// The longest purpose accepted, in characters.
const MAX_PURPOSE_CHARS: usize = 200;

/// The longest accountable person's name accepted, in bytes.
const MAX_PERSON_LEN: usize = 128;

impl Registry {
    /// Registers a new identity after checking it against the provisioning guards.
    ///
    /// Low and medium tiers start active; high and critical tiers start requested and
    /// wait for an owner and a security approval ([`Registry::approve`]). Usage and
    /// rotation times in the request are ignored: a new identity has neither.
    ///
    /// # Errors
    ///
    /// One distinct variant per broken guard: [`RegistryError::MissingOwner`],
    /// [`RegistryError::MissingPurpose`], [`RegistryError::InvalidPurpose`],
    /// [`RegistryError::MissingExpiry`], [`RegistryError::ExpiryNotInFuture`],
    /// [`RegistryError::CredentialLifetimeTooLong`],
    /// [`RegistryError::RotationIntervalTooLong`], [`RegistryError::MalformedScope`],
    /// [`RegistryError::ScopeOutsideAllowedSystems`], [`RegistryError::AlreadyExists`]
    /// [`RegistryError::IdReused`], [`RegistryError::CrossBoundaryReuse`],
    /// [`RegistryError::MissingAccountablePerson`] and
    /// [`RegistryError::InvalidAccountablePerson`]; store errors as they come.
    pub async fn provision(&self, new: NewIdentity) -> Result<IdentityRecord, RegistryError> {
        let record = self.provisioned_record(new)?;
        self.insert_fresh(&record).await?;
        Ok(record)
    }

    /// Provisions many identities at once, for onboarding an estate: every request is
    /// checked against the guards first, then all are stored with one
    /// [`IdentityStore::insert_many`] call.
    ///
    /// Nothing is stored when a request breaks a guard. When an id is taken, stores
    /// that write batches atomically (SQLite, PostgreSQL) store nothing either.
    ///
    /// # Errors
    ///
    /// The first broken guard, in request order, and the errors of
    /// [`Registry::provision`] for a taken id.
    ///
    /// [`IdentityStore::insert_many`]: crate::IdentityStore::insert_many
    pub async fn provision_many(
        &self,
        requests: Vec<NewIdentity>,
    ) -> Result<Vec<IdentityRecord>, RegistryError> {
        let records = requests
            .into_iter()
            .map(|new| self.provisioned_record(new))
            .collect::<Result<Vec<_>, _>>()?;
        match self.store().insert_many(&records).await {
            Err(RegistryError::AlreadyExists { id }) => {
                let requested = records.iter().find(|r| r.id == id);
                match (self.store().get(&id).await?, requested) {
                    (Some(existing), Some(requested)) => Err(taken(existing, requested)),
                    _ => Err(RegistryError::AlreadyExists { id }),
                }
            }
            other => other.map(|()| records),
        }
    }

    /// Registers an identity that already exists in the estate, found by inventory.
    ///
    /// It starts active, keeps the usage and rotation times given, and skips the owner,
    /// purpose and expiry guards so that reconciliation can report what is missing. The
    /// tier limits and scope rules still apply.
    ///
    /// # Errors
    ///
    /// The limit and scope errors of [`Registry::provision`],
    /// [`RegistryError::AlreadyExists`] and [`RegistryError::IdReused`].
    pub async fn import(&self, new: NewIdentity) -> Result<IdentityRecord, RegistryError> {
        check_limits(&new, self.tier_limits())?;
        check_scopes(&new)?;
        let record = IdentityRecord::from_new(new, LifecycleState::Active, self.now());
        self.insert_fresh(&record).await?;
        Ok(record)
    }

    /// Replaces `old` with a newly provisioned identity.
    ///
    /// The new identity passes the provisioning guards and records that it supersedes
    /// `old`; `old` records its successor and is scheduled for decommission `overlap`
    /// from now (or earlier, if it already was), so both work side by side meanwhile.
    /// Returns `(old, new)` as stored.
    ///
    /// If another supersede of `old` wins a race after the new identity was inserted,
    /// the new identity stays registered (pointing at `old`) and the error is returned.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] for `old`, [`RegistryError::Decommissioned`] when it is
    /// disabled or further, [`RegistryError::AlreadySuperseded`],
    /// [`RegistryError::CrossBoundaryReuse`] when the successor is in another tenant or
    /// environment, and the errors of [`Registry::provision`].
    pub async fn supersede(
        &self,
        old: &IdentityId,
        new: NewIdentity,
        overlap: Duration,
    ) -> Result<(IdentityRecord, IdentityRecord), RegistryError> {
        let mut successor = self.provisioned_record(new)?;
        let predecessor = self.get(old).await?;
        check_supersedable(&predecessor)?;
        check_same_boundary(&predecessor, &successor)?;

        successor.supersedes = Some(old.clone());
        self.insert_fresh(&successor).await?;

        let next = successor.id.clone();
        let (_, old_after) = self
            .modify(old, |record, now| {
                check_supersedable(record)?;
                record.superseded_by = Some(next.clone());
                let due = now.saturating_add(overlap);
                record.decommission_at = Some(record.decommission_at.map_or(due, |d| d.min(due)));
                Ok(Edit::Write)
            })
            .await?;
        Ok((old_after, successor))
    }

    /// Checks a request against every provisioning guard and builds its record.
    fn provisioned_record(&self, mut new: NewIdentity) -> Result<IdentityRecord, RegistryError> {
        let now = self.now();
        check_owner(&new, self.person_required_from())?;
        check_purpose(&new)?;
        check_expiry(&new, now)?;
        check_limits(&new, self.tier_limits())?;
        check_scopes(&new)?;

        new.last_used_at = None;
        new.last_rotated_at = None;
        let state = if new.risk_tier.requires_dual_approval() {
            LifecycleState::Requested
        } else {
            LifecycleState::Active
        };
        Ok(IdentityRecord::from_new(new, state, now))
    }

    /// Inserts a record whose id has never been used, telling tombstoned ids apart.
    async fn insert_fresh(&self, record: &IdentityRecord) -> Result<(), RegistryError> {
        if let Some(existing) = self.store().get(&record.id).await? {
            return Err(taken(existing, record));
        }
        match self.store().insert(record).await {
            Err(RegistryError::AlreadyExists { id }) => match self.store().get(&id).await? {
                Some(existing) => Err(taken(existing, record)),
                None => Err(RegistryError::AlreadyExists { id }),
            },
            other => other,
        }
    }
}

/// The error for `requested`, whose id is already held by `existing`: a tombstone, an
/// identity across a tenant or environment boundary, or simply a taken id.
fn taken(existing: IdentityRecord, requested: &IdentityRecord) -> RegistryError {
    if existing.state == LifecycleState::Tombstoned {
        return RegistryError::IdReused { id: existing.id };
    }
    match check_same_boundary(&existing, requested) {
        Err(crossing) => crossing,
        Ok(()) => RegistryError::AlreadyExists { id: existing.id },
    }
}

/// Refuses `requested` when it sits in another tenant or environment than `existing`.
fn check_same_boundary(
    existing: &IdentityRecord,
    requested: &IdentityRecord,
) -> Result<(), RegistryError> {
    if existing.tenant == requested.tenant && existing.environment == requested.environment {
        return Ok(());
    }
    Err(RegistryError::CrossBoundaryReuse {
        id: requested.id.clone(),
        existing_tenant: existing.tenant.clone(),
        existing_environment: existing.environment.clone(),
        tenant: requested.tenant.clone(),
        environment: requested.environment.clone(),
    })
}

/// Refuses to supersede an identity that is decommissioned or already superseded.
fn check_supersedable(record: &IdentityRecord) -> Result<(), RegistryError> {
    if record.state.is_decommissioned() {
        return Err(RegistryError::Decommissioned {
            id: record.id.clone(),
            state: record.state,
        });
    }
    if let Some(by) = &record.superseded_by {
        return Err(RegistryError::AlreadySuperseded {
            id: record.id.clone(),
            by: by.clone(),
        });
    }
    Ok(())
}

/// An owner team is required; so is a named person from `person_required_from` up,
/// and a named person must be a plausible name.
fn check_owner(
    new: &NewIdentity,
    person_required_from: Option<RiskTier>,
) -> Result<(), RegistryError> {
    let id = new.id.clone();
    let Some(owner) = &new.owner else {
        return Err(RegistryError::MissingOwner { id });
    };
    let person = owner.person.as_deref().filter(|p| !p.trim().is_empty());
    let Some(person) = person else {
        let tier = new.risk_tier;
        if person_required_from.is_some_and(|from| tier >= from) {
            return Err(RegistryError::MissingAccountablePerson { id, tier });
        }
        return Ok(());
    };
    let reason = if person.len() > MAX_PERSON_LEN {
        "it is longer than 128 bytes"
    } else if person.chars().any(char::is_control) {
        "it contains control characters"
    } else if person.trim() != person {
        "it has leading or trailing spaces"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidAccountablePerson {
        id,
        person: clip(person),
        reason,
    })
}

/// A purpose is required, non-blank, one sentence on one line, at most 200 characters.
fn check_purpose(new: &NewIdentity) -> Result<(), RegistryError> {
    let id = new.id.clone();
    let Some(purpose) = new.purpose.as_deref().filter(|p| !p.trim().is_empty()) else {
        return Err(RegistryError::MissingPurpose { id });
    };
    let reason = if purpose.chars().count() > MAX_PURPOSE_CHARS {
        "it is longer than 200 characters: keep it to one sentence"
    } else if purpose.contains(['\n', '\r']) {
        "it spans several lines: keep it to one sentence"
    } else if purpose.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(RegistryError::InvalidPurpose { id, reason })
}

fn check_expiry(new: &NewIdentity, now: Timestamp) -> Result<(), RegistryError> {
    let id = new.id.clone();
    match new.expires_at {
        None => Err(RegistryError::MissingExpiry { id }),
        Some(expires_at) if expires_at <= now => Err(RegistryError::ExpiryNotInFuture {
            id,
            expires_at,
            now,
        }),
        Some(_) => Ok(()),
    }
}

/// The credential lifetime and rotation interval must fit the tier.
fn check_limits(new: &NewIdentity, limits: &TierLimits) -> Result<(), RegistryError> {
    let tier = new.risk_tier;
    let limit = limits.for_tier(tier);
    if new.credential.lifetime > limit.max_credential_lifetime {
        return Err(RegistryError::CredentialLifetimeTooLong {
            id: new.id.clone(),
            tier,
            requested: new.credential.lifetime,
            max: limit.max_credential_lifetime,
        });
    }
    if new.rotation_interval > limit.max_rotation_interval {
        return Err(RegistryError::RotationIntervalTooLong {
            id: new.id.clone(),
            tier,
            requested: new.rotation_interval,
            max: limit.max_rotation_interval,
        });
    }
    Ok(())
}

/// Every scope is `system:permission` and names an allowed system.
fn check_scopes(new: &NewIdentity) -> Result<(), RegistryError> {
    for scope in &new.scopes {
        let parts = scope.split_once(':');
        let Some((system, _)) = parts.filter(|(s, p)| !s.trim().is_empty() && !p.trim().is_empty())
        else {
            return Err(RegistryError::MalformedScope {
                id: new.id.clone(),
                scope: clip(scope),
            });
        };
        if !new.allowed_systems.contains(system) {
            return Err(RegistryError::ScopeOutsideAllowedSystems {
                id: new.id.clone(),
                scope: clip(scope),
                system: clip(system),
            });
        }
    }
    Ok(())
}

//! Rotation helpers: when a credential is due for rotation, confirming the successor
//! before the old one is revoked, and reuse detection across a renewal chain.

use std::time::Duration;

use dashmap::DashMap;
use nhi_core::{CredentialId, Timestamp};

use crate::apikey::format::crc32;
use crate::error::CredentialError;
use crate::provider::{IssuedCredential, Principal};
use crate::revocation::RevocationList;

/// When credentials should be rotated: at half their lifetime, a little earlier with
/// jitter so a fleet issued together does not rotate together, and overdue past a later
/// point (75 % of the lifetime by default), which hosts count in their metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    jitter_percent: u8,
    overdue_percent: u8,
}

/// Where a credential stands in its rotation schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RotationStatus {
    /// Not yet due.
    Fresh,
    /// Due: its holder should obtain a successor now.
    Due,
    /// Past the overdue point: rotation is late, something is not renewing.
    Overdue,
    /// Already expired.
    Expired,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RotationPolicy {
    /// Due at exactly half the lifetime, overdue at 75 %.
    pub fn new() -> Self {
        Self {
            jitter_percent: 0,
            overdue_percent: 75,
        }
    }

    /// The same policy bringing the due time forward by up to `percent` of the lifetime
    /// (at most 25), by an amount fixed per credential id.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] above 25.
    pub fn with_jitter_percent(mut self, percent: u8) -> Result<Self, CredentialError> {
        if percent > 25 {
            return Err(CredentialError::InvalidConfig {
                reason: format!("rotation jitter must be at most 25 percent, not {percent}"),
            });
        }
        self.jitter_percent = percent;
        Ok(self)
    }

    /// The same policy calling a rotation overdue at `percent` of the lifetime (51-100).
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] outside 51 to 100.
    pub fn with_overdue_percent(mut self, percent: u8) -> Result<Self, CredentialError> {
        if !(51..=100).contains(&percent) {
            return Err(CredentialError::InvalidConfig {
                reason: format!("the overdue point must be 51 to 100 percent, not {percent}"),
            });
        }
        self.overdue_percent = percent;
        Ok(self)
    }

    /// When the credential `id`, living from `issued_at` to `expires_at`, is due.
    pub fn due_at(
        &self,
        id: &CredentialId,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> Timestamp {
        let lifetime = expires_at.duration_since(issued_at);
        let half = lifetime / 2;

        // A fixed fraction (0..=1) per id, so every caller computes the same due time.
        let spread = f64::from(crc32(id.as_str().as_bytes())) / f64::from(u32::MAX);
        let jitter = lifetime.mul_f64(f64::from(self.jitter_percent) / 100.0 * spread);
        issued_at.saturating_add(half.saturating_sub(jitter))
    }

    /// When rotation of a credential living from `issued_at` to `expires_at` is late.
    pub fn overdue_at(&self, issued_at: Timestamp, expires_at: Timestamp) -> Timestamp {
        let lifetime = expires_at.duration_since(issued_at);
        issued_at.saturating_add(percent_of(lifetime, self.overdue_percent))
    }

    /// Where the credential stands at `now`.
    pub fn status(
        &self,
        id: &CredentialId,
        issued_at: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> RotationStatus {
        if now >= expires_at {
            RotationStatus::Expired
        } else if now >= self.overdue_at(issued_at, expires_at) {
            RotationStatus::Overdue
        } else if now >= self.due_at(id, issued_at, expires_at) {
            RotationStatus::Due
        } else {
            RotationStatus::Fresh
        }
    }

    /// Where an issued credential stands at `now`.
    pub fn status_of(&self, credential: &IssuedCredential, now: Timestamp) -> RotationStatus {
        let IssuedCredential {
            credential_id,
            issued_at,
            expires_at,
            ..
        } = credential;
        self.status(credential_id, *issued_at, *expires_at, now)
    }
}

fn percent_of(duration: Duration, percent: u8) -> Duration {
    duration.mul_f64(f64::from(percent) / 100.0)
}

/// A rotation in progress: the successor is issued and both work; the old credential is
/// revoked only once the caller has confirmed the successor works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    old: CredentialId,
    old_expires_at: Timestamp,
    new: CredentialId,
    confirmed: bool,
}

impl Rotation {
    /// Starts rotating `old` to its successor `new`; both stay valid.
    pub fn new(old: &IssuedCredential, new: &IssuedCredential) -> Self {
        Self {
            old: old.credential_id.clone(),
            old_expires_at: old.expires_at,
            new: new.credential_id.clone(),
            confirmed: false,
        }
    }

    /// Confirms the successor with what verifying it proved.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] when `verified` is another credential.
    pub fn confirm(&mut self, verified: &Principal) -> Result<(), CredentialError> {
        if verified.credential_id != self.new {
            return Err(CredentialError::InvalidRequest {
                reason: format!(
                    "credential `{}` is not the successor `{}` of this rotation",
                    verified.credential_id, self.new
                ),
            });
        }
        self.confirmed = true;
        Ok(())
    }

    /// Whether the successor has been confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    /// The credential being replaced.
    pub fn old(&self) -> &CredentialId {
        &self.old
    }

    /// The successor.
    pub fn new_credential(&self) -> &CredentialId {
        &self.new
    }

    /// Revokes the old credential from `now` on; only after confirmation.
    ///
    /// # Errors
    ///
    /// [`CredentialError::RotationNotConfirmed`] before confirmation (nothing is
    /// revoked); the revocation list's error otherwise.
    pub async fn finish(
        &self,
        revocations: &dyn RevocationList,
        now: Timestamp,
    ) -> Result<(), CredentialError> {
        if !self.confirmed {
            return Err(CredentialError::RotationNotConfirmed {
                credential_id: self.new.clone(),
            });
        }
        revocations
            .revoke(&self.old, now, self.old_expires_at)
            .await
    }
}

/// What using one generation of a renewal chain says about the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationCheck {
    /// It is the newest generation used so far.
    Current,
    /// It is newer than any used before: its predecessors are now superseded.
    Advanced {
        /// The newest generation used before it (0 when none was recorded).
        previous: u64,
    },
    /// A newer generation was used before: this is a copy in someone else's hands, or
    /// a holder that failed to switch. Either way the identity should be locked.
    Superseded {
        /// The newest generation used so far.
        latest: u64,
    },
}

/// The newest generation used per renewal chain, in memory.
///
/// A renewable credential carries a chain id and a generation; its renewal carries the
/// same chain id and the next generation. Once a successor has been used, any use of an
/// older generation is reuse.
#[derive(Debug, Default)]
pub struct GenerationCounter {
    newest: DashMap<CredentialId, u64, foldhash::fast::RandomState>,
}

impl GenerationCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a use of `generation` in chain `lineage` and says what it means.
    pub fn observe(&self, lineage: &CredentialId, generation: u64) -> GenerationCheck {
        // Fast path under a read lock: the common case is the current generation in use.
        match self.newest.get(lineage).map(|newest| *newest) {
            Some(newest) if newest == generation => return GenerationCheck::Current,
            Some(newest) if newest > generation => {
                return GenerationCheck::Superseded { latest: newest };
            }
            // Nothing used yet and this is the first generation: nothing to record, as
            // no use of a later generation has happened that it could contradict.
            None if generation == 0 => return GenerationCheck::Current,
            _ => {}
        }

        // Generation 0 counts as used when nothing was recorded for the chain.
        let mut newest = self.newest.entry(lineage.clone()).or_insert(0);
        let seen = *newest;
        if generation > seen {
            *newest = generation;
            GenerationCheck::Advanced { previous: seen }
        } else if generation < seen {
            GenerationCheck::Superseded { latest: seen }
        } else {
            GenerationCheck::Current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    fn id(text: &str) -> CredentialId {
        CredentialId::new(text).unwrap()
    }

    #[test]
    fn due_at_half_overdue_at_three_quarters() {
        let policy = RotationPolicy::new();
        let key = id("k1");
        assert_eq!(policy.due_at(&key, at(1000), at(2000)), at(1500));
        assert_eq!(
            policy.status(&key, at(1000), at(2000), at(1499)),
            RotationStatus::Fresh
        );
        assert_eq!(
            policy.status(&key, at(1000), at(2000), at(1500)),
            RotationStatus::Due
        );
        assert_eq!(
            policy.status(&key, at(1000), at(2000), at(1750)),
            RotationStatus::Overdue
        );
        assert_eq!(
            policy.status(&key, at(1000), at(2000), at(2000)),
            RotationStatus::Expired
        );
    }

    #[test]
    fn jitter_only_brings_the_due_time_forward_and_is_stable() {
        let policy = RotationPolicy::new().with_jitter_percent(20).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..50 {
            let key = id(&format!("key-{n}"));
            let due = policy.due_at(&key, at(0), at(1000));
            assert!(due <= at(500) && due >= at(300), "{due}");
            assert_eq!(due, policy.due_at(&key, at(0), at(1000)));
            seen.insert(due);
        }
        assert!(seen.len() > 10, "jitter should spread due times");
        assert!(RotationPolicy::new().with_jitter_percent(26).is_err());
        assert!(RotationPolicy::new().with_overdue_percent(50).is_err());
    }

    #[test]
    fn generations_detect_use_after_a_successor() {
        let counter = GenerationCounter::new();
        let chain = id("chain");
        assert_eq!(counter.observe(&chain, 0), GenerationCheck::Current);
        assert_eq!(counter.observe(&chain, 0), GenerationCheck::Current);
        assert_eq!(
            counter.observe(&chain, 1),
            GenerationCheck::Advanced { previous: 0 }
        );
        assert_eq!(
            counter.observe(&chain, 0),
            GenerationCheck::Superseded { latest: 1 }
        );
        assert_eq!(counter.observe(&id("other"), 0), GenerationCheck::Current);
    }
}

//! What the control plane issued: which credential belongs to which identity, until
//! when, and whether it was revoked and why.

use dashmap::DashMap;
use nhi_core::{CredentialId, CredentialKind, IdentityId, Timestamp};

/// Why a credential stopped working before its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RevocationCause {
    /// Replaced by a newer credential at the end of a rotation overlap.
    Rotated,
    /// Revoked because the identity was suspended, quarantined or decommissioned, or by
    /// an operator: a later use is suspicious.
    ForCause,
}

/// One issued credential, never its secret.
#[derive(Debug, Clone)]
pub(crate) struct IssuedEntry {
    pub(crate) identity: IdentityId,
    pub(crate) kind: CredentialKind,
    pub(crate) issued_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) revoked: Option<(Timestamp, RevocationCause)>,
}

/// Issued credentials by id; entries are dropped once expired.
#[derive(Debug, Default)]
pub(crate) struct CredentialLedger {
    entries: DashMap<CredentialId, IssuedEntry>,
}

impl CredentialLedger {
    pub(crate) fn record(&self, id: CredentialId, entry: IssuedEntry) {
        self.entries.insert(id, entry);
    }

    pub(crate) fn get(&self, id: &CredentialId) -> Option<IssuedEntry> {
        self.entries.get(id).map(|entry| entry.clone())
    }

    /// Credentials of `identity` that are unexpired at `now` and not yet revoked.
    pub(crate) fn live_for(
        &self,
        identity: &IdentityId,
        now: Timestamp,
    ) -> Vec<(CredentialId, IssuedEntry)> {
        self.entries
            .iter()
            .filter(|e| &e.identity == identity && e.expires_at > now && e.revoked.is_none())
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }

    /// Marks a credential revoked from `effective_at`.
    pub(crate) fn mark_revoked(
        &self,
        id: &CredentialId,
        effective_at: Timestamp,
        cause: RevocationCause,
    ) {
        if let Some(mut entry) = self.entries.get_mut(id) {
            entry.revoked = Some((effective_at, cause));
        }
    }

    /// Forgets credentials that expired before `now`; returns how many.
    pub(crate) fn purge(&self, now: Timestamp) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, entry| entry.expires_at > now);
        before.saturating_sub(self.entries.len())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

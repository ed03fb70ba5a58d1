//! What an audit event is about ([`EventKind`]) and the abuse signals it can carry
//! ([`Anomaly`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What happened, written in events as a dotted name such as `access.decided`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A new identity was created in the registry (`identity.provisioned`).
    #[serde(rename = "identity.provisioned")]
    IdentityProvisioned,
    /// An identity that already existed elsewhere was brought under management
    /// (`identity.imported`).
    #[serde(rename = "identity.imported")]
    IdentityImported,
    /// A requested identity received an approval it needed (`identity.approved`).
    #[serde(rename = "identity.approved")]
    IdentityApproved,
    /// An identity moved between lifecycle states (`identity.state-changed`).
    #[serde(rename = "identity.state-changed")]
    IdentityStateChanged,
    /// A credential was issued to an identity (`credential.issued`).
    #[serde(rename = "credential.issued")]
    CredentialIssued,
    /// A credential was replaced by a new one (`credential.rotated`).
    #[serde(rename = "credential.rotated")]
    CredentialRotated,
    /// A credential was revoked (`credential.revoked`).
    #[serde(rename = "credential.revoked")]
    CredentialRevoked,
    /// The enforcement path allowed, denied or held a request (`access.decided`).
    #[serde(rename = "access.decided")]
    AccessDecided,
    /// The outcome of a permitted action, reported through its permit
    /// (`action.completed`).
    #[serde(rename = "action.completed")]
    ActionCompleted,
    /// A person or identity granted an approval (`approval.granted`).
    #[serde(rename = "approval.granted")]
    ApprovalGranted,
    /// An approval was used up by the action it allowed (`approval.consumed`).
    #[serde(rename = "approval.consumed")]
    ApprovalConsumed,
    /// An abuse signal was raised (`anomaly.detected`); see [`Anomaly`].
    #[serde(rename = "anomaly.detected")]
    AnomalyDetected,
    /// Reconciliation found a difference between the registry and a platform
    /// (`reconcile.finding`).
    #[serde(rename = "reconcile.finding")]
    ReconcileFinding,
    /// The audit log was reopened; after a crash it also says how many bytes of a torn
    /// last record were cut (`audit.restarted`).
    #[serde(rename = "audit.restarted")]
    AuditRestarted,
    /// A fail-open buffer dropped events and says exactly how many, signed
    /// (`audit.gap`).
    #[serde(rename = "audit.gap")]
    AuditGap,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 15] = [
        Self::IdentityProvisioned,
        Self::IdentityImported,
        Self::IdentityApproved,
        Self::IdentityStateChanged,
        Self::CredentialIssued,
        Self::CredentialRotated,
        Self::CredentialRevoked,
        Self::AccessDecided,
        Self::ActionCompleted,
        Self::ApprovalGranted,
        Self::ApprovalConsumed,
        Self::AnomalyDetected,
        Self::ReconcileFinding,
        Self::AuditRestarted,
        Self::AuditGap,
    ];

    /// The dotted name written in events, such as `access.decided`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityProvisioned => "identity.provisioned",
            Self::IdentityImported => "identity.imported",
            Self::IdentityApproved => "identity.approved",
            Self::IdentityStateChanged => "identity.state-changed",
            Self::CredentialIssued => "credential.issued",
            Self::CredentialRotated => "credential.rotated",
            Self::CredentialRevoked => "credential.revoked",
            Self::AccessDecided => "access.decided",
            Self::ActionCompleted => "action.completed",
            Self::ApprovalGranted => "approval.granted",
            Self::ApprovalConsumed => "approval.consumed",
            Self::AnomalyDetected => "anomaly.detected",
            Self::ReconcileFinding => "reconcile.finding",
            Self::AuditRestarted => "audit.restarted",
            Self::AuditGap => "audit.gap",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An abuse signal, written in events in kebab case such as `limit-breach`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Anomaly {
    /// The request named a target the identity has never been allowed to touch.
    UnknownTarget,
    /// A rate or quota limit was exceeded.
    LimitBreach,
    /// A credential that had been revoked was presented.
    RevokedCredentialUsed,
    /// The identity was denied several times in a short window.
    RepeatedDenials,
    /// The kill switch suspended the identity.
    KillSwitchTripped,
    /// The target lies outside what the identity's policy covers.
    OutOfPolicyTarget,
    /// A credential failed verification (bad signature, wrong audience, malformed).
    InvalidCredential,
    /// A burst of requests far above the identity's usual rate.
    Burst,
}

impl Anomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: [Self; 8] = [
        Self::UnknownTarget,
        Self::LimitBreach,
        Self::RevokedCredentialUsed,
        Self::RepeatedDenials,
        Self::KillSwitchTripped,
        Self::OutOfPolicyTarget,
        Self::InvalidCredential,
        Self::Burst,
    ];

    /// The kebab-case name written in events, such as `limit-breach`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownTarget => "unknown-target",
            Self::LimitBreach => "limit-breach",
            Self::RevokedCredentialUsed => "revoked-credential-used",
            Self::RepeatedDenials => "repeated-denials",
            Self::KillSwitchTripped => "kill-switch-tripped",
            Self::OutOfPolicyTarget => "out-of-policy-target",
            Self::InvalidCredential => "invalid-credential",
            Self::Burst => "burst",
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_serde() {
        for kind in EventKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
        assert_eq!(EventKind::AccessDecided.to_string(), "access.decided");
        assert_eq!(EventKind::ActionCompleted.to_string(), "action.completed");
        assert!(serde_json::from_str::<EventKind>("\"access.Decided\"").is_err());
    }

    #[test]
    fn anomaly_names_match_serde() {
        for anomaly in Anomaly::ALL {
            let json = serde_json::to_string(&anomaly).unwrap();
            assert_eq!(json, format!("\"{anomaly}\""));
            assert_eq!(serde_json::from_str::<Anomaly>(&json).unwrap(), anomaly);
        }
        assert_eq!(
            Anomaly::RevokedCredentialUsed.as_str(),
            "revoked-credential-used"
        );
    }
}

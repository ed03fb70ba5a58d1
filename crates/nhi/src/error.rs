//! The error type of the control plane.

use nhi_core::{CredentialKind, IdentityId};
use nhi_registry::LifecycleState;

/// Why a control-plane operation could not be carried out.
///
/// A refused request is not an error: [`authorize`](crate::ControlPlane::authorize)
/// returns denials as [`AccessOutcome::Denied`](crate::AccessOutcome::Denied). `Error`
/// means the operation can never succeed as asked, or a plugged-in backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The identity registry refused the change or its store failed.
    #[error(transparent)]
    Registry(#[from] nhi_registry::RegistryError),

    /// A credential provider or the revocation list failed.
    #[error(transparent)]
    Credential(#[from] nhi_credentials::CredentialError),

    /// The limiter was misconfigured for this request.
    #[error(transparent)]
    Limit(#[from] nhi_limiter::LimitError),

    /// No audit sink recorded the event, so the operation was refused (fail closed).
    #[error(
        "the audit trail could not record this {what}, so it was refused; fix the audit sink and retry"
    )]
    AuditUnavailable {
        /// What was being recorded.
        what: &'static str,
        /// The sink's error.
        #[source]
        source: nhi_audit::AuditError,
    },

    /// No provider for this kind of credential was given to the control plane.
    #[error(
        "no credential provider handles `{kind}` credentials; register one with `ControlPlaneBuilder::provider`"
    )]
    NoProvider {
        /// The credential kind asked for.
        kind: CredentialKind,
    },

    /// The identity is in a state that does not allow the operation.
    #[error(
        "identity `{id}` is {state}, so it cannot {operation}; reinstate or re-provision it first"
    )]
    NotUsable {
        /// The identity.
        id: IdentityId,
        /// Its current state.
        state: LifecycleState,
        /// What was attempted.
        operation: &'static str,
    },

    /// The identity has passed its expiry date.
    #[error("identity `{id}` expired; extend its expiry through review or supersede it")]
    Expired {
        /// The identity.
        id: IdentityId,
    },

    /// The identity is already at the end of its decommission.
    #[error("identity `{id}` is already tombstoned; there is no further decommission stage")]
    DecommissionComplete {
        /// The identity.
        id: IdentityId,
    },

    /// The control plane was built without a required part.
    #[error("the control plane needs {part}; set it on the builder before `build`")]
    MissingPart {
        /// The missing part.
        part: &'static str,
    },
}

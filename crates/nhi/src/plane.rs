//! The control plane: the parts it composes and how it is built.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nhi_audit::{AuditEvent, AuditSink};
use nhi_core::{Clock, CorrelationId, CredentialKind, SharedClock};
use nhi_credentials::{CredentialProvider, RevocationList};
use nhi_limiter::RateLimiter;
use nhi_policy::PolicyEngine;
use nhi_registry::Registry;

use crate::abuse::DenialTracker;
use crate::approvals::ApprovalLedger;
use crate::error::Error;
use crate::ledger::CredentialLedger;
use crate::metrics::Counters;

/// What the control plane does when the audit trail cannot record an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuditFailureMode {
    /// Refuse the operation (the default): nothing happens that is not on record.
    #[default]
    FailClosed,
    /// Carry on and count the loss. Only for deployments that accept unrecorded actions.
    DangerFailOpen,
}

/// When abuse signals trip the kill switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbusePolicy {
    /// How many denials of one identity within `denial_window` trip the kill switch.
    pub max_denials: u32,
    /// The window over which denials are counted.
    pub denial_window: Duration,
    /// Whether a credential revoked for cause, presented again, trips the kill switch.
    pub suspend_on_revoked_use: bool,
    /// Whether a target outside the identity's allowed systems trips the kill switch.
    pub suspend_on_out_of_policy_target: bool,
}

impl Default for AbusePolicy {
    fn default() -> Self {
        Self {
            max_denials: 10,
            denial_window: Duration::from_secs(60),
            suspend_on_revoked_use: true,
            suspend_on_out_of_policy_target: true,
        }
    }
}

/// Composes registry, credentials, policy, limiter and audit into one enforcement path
/// and the lifecycle operations around it.
///
/// Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct ControlPlane {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) clock: SharedClock,
    pub(crate) registry: Registry,
    pub(crate) providers: BTreeMap<CredentialKind, Arc<dyn CredentialProvider>>,
    pub(crate) revocations: Arc<dyn RevocationList>,
    pub(crate) policy: Arc<dyn PolicyEngine>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) audit_mode: AuditFailureMode,
    pub(crate) abuse: AbusePolicy,
    pub(crate) ledger: CredentialLedger,
    pub(crate) approvals: ApprovalLedger,
    pub(crate) denials: DenialTracker,
    pub(crate) counters: Counters,
    correlation_seq: AtomicU64,
}

impl ControlPlane {
    /// Starts building a control plane that reads time from `clock`.
    pub fn builder(clock: SharedClock) -> ControlPlaneBuilder {
        ControlPlaneBuilder {
            clock,
            registry: None,
            providers: BTreeMap::new(),
            revocations: None,
            policy: None,
            limiter: None,
            audit: None,
            audit_mode: AuditFailureMode::default(),
            abuse: AbusePolicy::default(),
        }
    }

    /// The identity registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The clock every decision is made against.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field(
                "providers",
                &self.inner.providers.keys().collect::<Vec<_>>(),
            )
            .field("audit_mode", &self.inner.audit_mode)
            .field("abuse", &self.inner.abuse)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Records an event, applying the audit failure mode.
    pub(crate) async fn audit(&self, event: AuditEvent, what: &'static str) -> Result<(), Error> {
        match self.audit.record(&event).await {
            Ok(_) => Ok(()),
            Err(source) => match self.audit_mode {
                AuditFailureMode::FailClosed => Err(Error::AuditUnavailable { what, source }),
                AuditFailureMode::DangerFailOpen => {
                    self.counters.audit_lost.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %source, what, "audit event lost (fail-open mode)");
                    Ok(())
                }
            },
        }
    }

    /// A fresh correlation id for a request that did not bring one.
    #[expect(
        clippy::expect_used,
        reason = "lowercase hex digits and `-` always form a valid id"
    )]
    pub(crate) fn new_correlation_id(&self) -> CorrelationId {
        let seq = self.correlation_seq.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now().unix_nanos();
        CorrelationId::new(format!("req-{now:x}-{seq:x}")).expect("valid correlation id")
    }

    /// The provider for a credential kind.
    pub(crate) fn provider(
        &self,
        kind: CredentialKind,
    ) -> Result<&Arc<dyn CredentialProvider>, Error> {
        self.providers.get(&kind).ok_or(Error::NoProvider { kind })
    }
}

/// Collects the parts of a [`ControlPlane`].
pub struct ControlPlaneBuilder {
    clock: SharedClock,
    registry: Option<Registry>,
    providers: BTreeMap<CredentialKind, Arc<dyn CredentialProvider>>,
    revocations: Option<Arc<dyn RevocationList>>,
    policy: Option<Arc<dyn PolicyEngine>>,
    limiter: Option<Arc<dyn RateLimiter>>,
    audit: Option<Arc<dyn AuditSink>>,
    audit_mode: AuditFailureMode,
    abuse: AbusePolicy,
}

impl ControlPlaneBuilder {
    /// The identity registry (required).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// A credential provider, used for the credential kind it reports (at least one).
    pub fn provider(mut self, provider: Arc<dyn CredentialProvider>) -> Self {
        self.providers.insert(provider.kind(), provider);
        self
    }

    /// The revocation list shared with the providers (required), so that rotation and
    /// the kill switch can revoke single credentials.
    pub fn revocations(mut self, revocations: Arc<dyn RevocationList>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The policy engine (required).
    pub fn policy(mut self, policy: Arc<dyn PolicyEngine>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The limiter (required).
    pub fn limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The audit sink (required); combine several with a fan-out sink.
    pub fn audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// What to do when the audit sink fails (fail closed unless changed).
    pub fn audit_failure_mode(mut self, mode: AuditFailureMode) -> Self {
        self.audit_mode = mode;
        self
    }

    /// When abuse signals trip the kill switch.
    pub fn abuse_policy(mut self, abuse: AbusePolicy) -> Self {
        self.abuse = abuse;
        self
    }

    /// Builds the control plane.
    ///
    /// # Errors
    ///
    /// [`Error::MissingPart`] when a required part was not set.
    pub fn build(self) -> Result<ControlPlane, Error> {
        let missing = |part| Error::MissingPart { part };
        if self.providers.is_empty() {
            return Err(missing("at least one credential provider"));
        }
        let inner = Inner {
            clock: self.clock,
            registry: self.registry.ok_or_else(|| missing("a registry"))?,
            providers: self.providers,
            revocations: self
                .revocations
                .ok_or_else(|| missing("a revocation list"))?,
            policy: self.policy.ok_or_else(|| missing("a policy engine"))?,
            limiter: self.limiter.ok_or_else(|| missing("a limiter"))?,
            audit: self.audit.ok_or_else(|| missing("an audit sink"))?,
            audit_mode: self.audit_mode,
            abuse: self.abuse,
            ledger: CredentialLedger::default(),
            approvals: ApprovalLedger::default(),
            denials: DenialTracker::default(),
            counters: Counters::default(),
            correlation_seq: AtomicU64::new(1),
        };
        Ok(ControlPlane {
            inner: Arc::new(inner),
        })
    }
}

//! A small estate and a control plane on a manual clock, shared by the tests.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use nhi::audit::{AuditEvent, MemorySink};
use nhi::core::{
    Action, IdentityId, ManualClock, Resource, RiskTier, Severity, SharedClock, Timestamp,
};
use nhi::credentials::{CredentialSecret, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList};
use nhi::limiter::{Limiter, QuotaPlan};
use nhi::policy::RuleSet;
use nhi::registry::{MemoryStore, NewIdentity, Registry};
use nhi::{AbusePolicy, AccessOutcome, AccessRequest, ActionReport, ControlPlane};

pub const START: u64 = 1_800_000_000;

pub const POLICY: &str = r#"
[[rules]]
id = "agents-read-health"
effect = "allow"
reason = "agents may read health"
kinds = ["ai-agent"]
actions = ["health.read"]
resources = ["k8s:prod/**"]

[[rules]]
id = "restarts-need-approval"
effect = "require-approval"
reason = "restarts need the on-call"
actions = ["deployment.restart"]
resources = ["k8s:prod/**"]
[rules.when]
incident = true
[rules.approval]
approvers = ["sre-oncall"]
scope = "once-per-incident"

[[rules]]
id = "no-secret-reads"
effect = "deny"
reason = "agents never read secrets"
kinds = ["ai-agent"]
actions = ["secret.read"]
resources = ["**"]
"#;

pub const QUOTAS: &str = r#"
[costs]
read = 1
write = 2
destructive = 5
[breach]
rejections = 3
window = "60s"
[layers.identity]
rate = 10
per = "1s"
burst = 10
[layers.endpoint]
rate = 100
per = "1s"
burst = 100
"#;

pub struct Harness {
    pub plane: ControlPlane,
    pub clock: Arc<ManualClock>,
    pub sink: Arc<MemorySink>,
    pub tokens: Arc<JwtProvider>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_abuse(AbusePolicy::default()).await
    }

    pub async fn with_abuse(abuse: AbusePolicy) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(START)));
        let shared: SharedClock = clock.clone();
        let sink = Arc::new(MemorySink::new());
        let revocations = Arc::new(MemoryRevocationList::new());
        let keys = Arc::new(KeyRing::generate().unwrap());
        let config = JwtConfig::new("https://issuer.test", "platform");
        let tokens =
            Arc::new(JwtProvider::new(config, keys, revocations.clone(), shared.clone()).unwrap());
        let plane = ControlPlane::builder(shared.clone())
            .registry(Registry::new(Arc::new(MemoryStore::new()), shared.clone()))
            .provider(tokens.clone())
            .revocations(revocations)
            .policy(Arc::new(RuleSet::from_toml_str(POLICY).unwrap()))
            .limiter(Arc::new(Limiter::new(
                QuotaPlan::from_toml_str(QUOTAS).unwrap(),
                shared,
            )))
            .audit(sink.clone())
            .abuse_policy(abuse)
            .build()
            .unwrap();
        let harness = Self {
            plane,
            clock,
            sink,
            tokens,
        };
        harness
            .plane
            .provision(agent("restart-agent", RiskTier::Medium))
            .await
            .unwrap();
        harness
    }

    /// A fresh credential for the harness's `restart-agent`.
    pub async fn agent_token(&self) -> nhi::credentials::IssuedCredential {
        self.plane
            .issue_credential(&id("restart-agent"))
            .await
            .unwrap()
    }

    pub fn events(&self) -> Vec<AuditEvent> {
        self.sink.events()
    }

    pub async fn ask(
        &self,
        secret: &CredentialSecret,
        action: &str,
        resource: &str,
        severity: Severity,
    ) -> AccessOutcome {
        let request = AccessRequest::new(
            secret,
            Action::new(action).unwrap(),
            resource.parse().unwrap(),
            severity,
        );
        self.plane.authorize(request).await.unwrap()
    }

    pub async fn read_health(&self, secret: &CredentialSecret) -> AccessOutcome {
        self.ask(
            secret,
            "health.read",
            "k8s:prod/payments/api",
            Severity::Read,
        )
        .await
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A well-formed agent identity.
pub fn agent(id: &str, tier: RiskTier) -> NewIdentity {
    let text = format!(
        r#"
        id = "{id}"
        kind = "ai-agent"
        owner = {{ team = "sre", person = "maria" }}
        purpose = "Restarts unhealthy services during incidents."
        environment = "production"
        tenant = "acme"
        allowed_systems = ["k8s"]
        scopes = ["k8s:health.read", "k8s:deployment.restart", "k8s:secret.read"]
        credential = {{ kind = "jwt", lifetime = "5m" }}
        rotation_interval = "7d"
        risk_tier = "{tier}"
        expires_at = "2030-01-01T00:00:00Z"
        "#
    );
    toml::from_str(&text).unwrap()
}

pub fn id(text: &str) -> IdentityId {
    IdentityId::new(text).unwrap()
}

pub fn resource(text: &str) -> Resource {
    text.parse().unwrap()
}

/// Completes a permit, or fails the test with the denial.
pub async fn expect_granted(outcome: AccessOutcome) {
    match outcome {
        AccessOutcome::Granted(permit) => permit.complete(ActionReport::new("ok")).await.unwrap(),
        AccessOutcome::Denied(denial) => panic!("expected a grant, got {denial}"),
    }
}

/// The denial, or fails the test.
pub fn expect_denied(outcome: AccessOutcome) -> nhi::Denial {
    match outcome {
        AccessOutcome::Denied(denial) => denial,
        AccessOutcome::Granted(permit) => {
            panic!("expected a denial, got a permit for {}", permit.action)
        }
    }
}

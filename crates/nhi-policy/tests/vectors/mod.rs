//! The shared corpus of policy test vectors: each file holds one policy written twice
//! (nhi TOML and Cedar), and cases of a request with the decision both engines must give.
//! Run by the built-in engine's tests and by the Cedar adapter's tests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nhi_core::{Action, IdentityKind, RiskTier, Severity, Timestamp};
use nhi_policy::{
    ApprovalScope, ContextValue, Effect, PolicyEngine, PolicyRequest, RequestContext, Subject,
};
use serde::Deserialize;

/// One vector file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    /// What the file is about.
    pub about: String,
    /// The policy in the nhi TOML format.
    pub policy: String,
    /// The same policy in Cedar.
    pub cedar: String,
    /// The requests and what each must get.
    pub cases: Vec<Case>,
}

/// One request and its expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The request.
    #[serde(default)]
    pub request: RequestSpec,
    /// The expected decision.
    pub expect: Expect,
}

/// A request, with the defaults of an SRE AI agent of `acme` in production.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    identity: Option<String>,
    kind: Option<String>,
    team: Option<String>,
    no_team: Option<bool>,
    tenant: Option<String>,
    risk_tier: Option<String>,
    environment: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    action: Option<String>,
    resource: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    context: ContextSpec,
}

/// The request context as written in a vector.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    incident: Option<String>,
    workflow: Option<String>,
    change_ticket: Option<String>,
    time: Option<String>,
    token_age: Option<String>,
    workflow_state: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, ContextValue>,
}

/// The expected decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    effect: Effect,
    explicit: bool,
    #[serde(default)]
    deciding: Vec<String>,
    rule_id: Option<String>,
    approvers: Option<Vec<String>>,
    scope: Option<ApprovalScope>,
    reason: Option<String>,
}

/// Every vector file, sorted by name.
pub fn load_all() -> Vec<(PathBuf, VectorFile)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nhi-policy/tests/vectors");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 5,
        "the corpus is missing from {}",
        dir.display()
    );
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let file =
                toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (path, file)
        })
        .collect()
}

/// Runs every case of `file` against `engine`; returns one line per disagreement.
pub fn run(engine: &dyn PolicyEngine, path: &Path, file: &VectorFile) -> Vec<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    file.cases
        .iter()
        .filter_map(|case| {
            let decision = engine.decide(&case.request.build());
            let got = Outcome {
                effect: decision.effect,
                explicit: decision.explicit,
                deciding: decision.deciding.iter().map(|id| id.to_string()).collect(),
                rule_id: decision.rule_id.as_deref().map(str::to_owned),
                approvers: decision.approval.as_ref().map(|a| a.approvers.clone()),
                scope: decision.approval.as_ref().map(|a| a.scope),
                reason: decision.reason.to_string(),
            };
            let problem = case.expect.compare(&got)?;
            Some(format!(
                "{name} / {}: {problem}\n    got {got:?}",
                case.name
            ))
        })
        .collect()
}

/// What is compared.
#[derive(Debug)]
struct Outcome {
    effect: Effect,
    explicit: bool,
    deciding: Vec<String>,
    rule_id: Option<String>,
    approvers: Option<Vec<String>>,
    scope: Option<ApprovalScope>,
    reason: String,
}

impl Expect {
    fn compare(&self, got: &Outcome) -> Option<String> {
        if got.effect != self.effect {
            return Some(format!("expected {}", self.effect));
        }
        if got.explicit != self.explicit {
            return Some(format!("expected explicit = {}", self.explicit));
        }
        if got.deciding != self.deciding {
            return Some(format!("expected deciding rules {:?}", self.deciding));
        }
        let expected_rule = self
            .rule_id
            .clone()
            .or_else(|| self.deciding.first().cloned());
        if got.rule_id != expected_rule {
            return Some(format!("expected rule id {expected_rule:?}"));
        }
        if self.approvers.is_some() && got.approvers != self.approvers {
            return Some(format!("expected approvers {:?}", self.approvers));
        }
        if self.scope.is_some() && got.scope != self.scope {
            return Some(format!("expected scope {:?}", self.scope));
        }
        if let Some(reason) = &self.reason
            && &got.reason != reason
        {
            return Some(format!("expected reason {reason:?}"));
        }
        None
    }
}

impl RequestSpec {
    /// The request this spec describes.
    pub fn build(&self) -> PolicyRequest {
        let or = |value: &Option<String>, default: &str| {
            value.clone().unwrap_or_else(|| default.to_owned())
        };
        let team = match (self.no_team, &self.team) {
            (Some(true), _) => None,
            (_, Some(team)) => Some(team.parse().unwrap()),
            (_, None) => Some("sre".parse().unwrap()),
        };
        let subject = Subject {
            id: or(&self.identity, "restart-agent").parse().unwrap(),
            kind: or(&self.kind, "ai-agent").parse::<IdentityKind>().unwrap(),
            team,
            tenant: or(&self.tenant, "acme").parse().unwrap(),
            risk_tier: or(&self.risk_tier, "medium").parse::<RiskTier>().unwrap(),
            environment: or(&self.environment, "production").parse().unwrap(),
            labels: self.labels.clone(),
        };
        PolicyRequest::new(
            subject,
            Action::new(or(&self.action, "deployment.restart")).unwrap(),
            or(&self.resource, "k8s:prod/payments/api").parse().unwrap(),
            or(&self.severity, "destructive")
                .parse::<Severity>()
                .unwrap(),
        )
        .with_context(self.context.build())
    }
}

impl ContextSpec {
    fn build(&self) -> RequestContext {
        RequestContext {
            incident: self.incident.as_ref().map(|i| i.parse().unwrap()),
            workflow: self.workflow.as_ref().map(|w| w.parse().unwrap()),
            change_ticket: self.change_ticket.clone(),
            time: self.time.as_ref().map(|t| t.parse::<Timestamp>().unwrap()),
            token_age: self
                .token_age
                .as_ref()
                .map(|age| nhi_core::parse_duration(age).unwrap()),
            workflow_state: self.workflow_state.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

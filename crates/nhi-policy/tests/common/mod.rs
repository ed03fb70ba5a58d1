//! Builders shared by the integration tests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use nhi_core::{Action, IdentityKind, RiskTier, Severity};
use nhi_policy::{PolicyRequest, RequestContext, Subject};

/// An SRE AI agent of tenant `acme` in production, medium risk, no labels.
pub fn sre_agent() -> Subject {
    Subject {
        id: "restart-agent".parse().unwrap(),
        kind: IdentityKind::AiAgent,
        team: Some("sre".parse().unwrap()),
        tenant: "acme".parse().unwrap(),
        risk_tier: RiskTier::Medium,
        environment: "production".parse().unwrap(),
        labels: BTreeMap::new(),
    }
}

/// Rule ids of a decision as plain text, for comparisons.
pub fn ids(list: &[Arc<str>]) -> Vec<&str> {
    list.iter().map(|id| &**id).collect()
}

/// A request by `subject` with an empty context.
pub fn ask(subject: Subject, action: &str, resource: &str, severity: Severity) -> PolicyRequest {
    PolicyRequest::new(
        subject,
        Action::new(action).unwrap(),
        resource.parse().unwrap(),
        severity,
    )
}

/// The same request during incident `INC-1`.
pub fn in_incident(request: PolicyRequest) -> PolicyRequest {
    request.with_context(RequestContext {
        incident: Some("INC-1".parse().unwrap()),
        ..RequestContext::default()
    })
}

/// One rule in TOML, with an effect, actions, resources and extra lines.
pub fn rule_toml(id: &str, effect: &str, actions: &str, resources: &str, extra: &str) -> String {
    let approval = if effect == "require-approval" {
        "[rules.approval]\napprovers = [\"sre-oncall\"]\nscope = \"once\"\n"
    } else {
        ""
    };
    format!(
        "[[rules]]\nid = \"{id}\"\neffect = \"{effect}\"\nreason = \"reason of {id}\"\n\
         actions = {actions}\nresources = {resources}\n{extra}\n{approval}"
    )
}

//! Policy decisions against their anchor, Cedar, on the same policy set and request.
//!
//! - `10-rules/nhi`: the built-in engine deciding with ten rules;
//! - `10-rules/cedar`: Cedar's authorizer on the same ten rules written in Cedar, with the
//!   request and entities built beforehand (Cedar's own cost only);
//! - `10-rules/cedar-adapter`: the same through `nhi-policy-cedar`, which also builds the
//!   entities and context from the request, as a caller of the trait pays;
//! - `10000-rules/*`: the built-in engine with the same ten rules plus 10,000 generated
//!   ones, in four shapes: one rule per identity; rules spread over 1,000 exact action
//!   names; rules over 1,000 action namespaces (`svc7.*`); and rules about teams whose
//!   action pattern is `*`, which only the principal index (by team) narrows.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hint::black_box;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityUid, PolicySet, Request, RestrictedExpression,
};
use criterion::{Criterion, criterion_group, criterion_main};
use nhi_core::{Action, IdentityKind, RiskTier, Severity};
use nhi_policy::{Effect, PolicyEngine, PolicyRequest, RequestContext, RuleSet, Subject};
use nhi_policy_cedar::CedarPolicy;

const TEN_RULES: &str = r#"
[[rules]]
id = "allow-sre-prod"
effect = "allow"
reason = "sre identities may act on production"
teams = ["sre"]
actions = ["deployment.*", "health.read", "logs.read"]
resources = ["k8s:prod/**"]

[[rules]]
id = "allow-reads"
effect = "allow"
reason = "reads are harmless"
actions = ["*.read"]
resources = ["**"]
severities = ["read"]

[[rules]]
id = "restart-needs-oncall"
effect = "require-approval"
reason = "agents' restarts need the on-call"
kinds = ["ai-agent"]
actions = ["deployment.restart"]
resources = ["k8s:prod/**"]
[rules.when]
incident = true
[rules.approval]
approvers = ["sre-oncall"]
scope = "once-per-incident"

[[rules]]
id = "deny-payments-db"
effect = "deny"
reason = "no machine touches the payments database"
actions = ["*"]
resources = ["db:payments/**"]

[[rules]]
id = "deny-rogue"
effect = "deny"
reason = "this identity is blocked"
identities = ["rogue-bot"]
actions = ["*"]
resources = ["**"]

[[rules]]
id = "deny-critical-destroy"
effect = "deny"
reason = "critical identities never destroy"
risk_tiers = ["critical"]
actions = ["*"]
resources = ["**"]
severities = ["destructive"]

[[rules]]
id = "deny-globex"
effect = "deny"
reason = "this tenant has no access"
tenants = ["globex"]
actions = ["*"]
resources = ["**"]

[[rules]]
id = "ci-deploys"
effect = "allow"
reason = "ci deploys with a change ticket"
kinds = ["ci-runner"]
actions = ["deployment.update"]
resources = ["k8s:prod/**"]
[rules.when]
change_ticket = true

[[rules]]
id = "night-freeze"
effect = "deny"
reason = "production is frozen at night"
actions = ["deployment.update"]
resources = ["k8s:prod/**"]
[rules.when]
hours = "22:00-06:00"

[[rules]]
id = "remediation-scale"
effect = "allow"
reason = "remediation identities may scale"
labels = { purpose = "remediation" }
actions = ["deployment.scale"]
resources = ["k8s:**"]
"#;

const TEN_RULES_CEDAR: &str = r#"
@id("allow-sre-prod") permit(principal, action, resource)
when { principal has team && principal.team == "sre" && resource.id like "k8s:prod/*" &&
  (context.action like "deployment.*" || context.action == "health.read" || context.action == "logs.read") };
@id("allow-reads") permit(principal, action, resource)
when { context.action like "*.read" && context.severity == "read" };
@id("restart-needs-oncall") @approval("sre-oncall") @scope("once-per-incident")
forbid(principal, action == Nhi::Action::"deployment.restart", resource)
when { principal.kind == "ai-agent" && resource.id like "k8s:prod/*" && context has incident };
@id("deny-payments-db") forbid(principal, action, resource) when { resource.id like "db:payments/*" };
@id("deny-rogue") forbid(principal == Nhi::Identity::"rogue-bot", action, resource);
@id("deny-critical-destroy") forbid(principal, action, resource)
when { principal.risk_tier == "critical" && context.severity == "destructive" };
@id("deny-globex") forbid(principal, action, resource) when { principal.tenant == "globex" };
@id("ci-deploys") permit(principal, action == Nhi::Action::"deployment.update", resource)
when { principal.kind == "ci-runner" && resource.id like "k8s:prod/*" && context has change_ticket };
@id("night-freeze") forbid(principal, action == Nhi::Action::"deployment.update", resource)
when { resource.id like "k8s:prod/*" && (context has minute_of_day && (context.minute_of_day >= 1320 || context.minute_of_day < 360)) };
@id("remediation-scale") permit(principal, action == Nhi::Action::"deployment.scale", resource)
when { principal.labels has purpose && principal.labels.purpose == "remediation" && resource.id like "k8s:*" };
"#;

fn request(identity: &str) -> PolicyRequest {
    let subject = Subject {
        id: identity.parse().unwrap(),
        kind: IdentityKind::AiAgent,
        team: Some("sre".parse().unwrap()),
        tenant: "acme".parse().unwrap(),
        risk_tier: RiskTier::Medium,
        environment: "production".parse().unwrap(),
        labels: [("purpose".to_owned(), "remediation".to_owned())].into(),
    };
    PolicyRequest::new(
        subject,
        Action::new("deployment.restart").unwrap(),
        "k8s:prod/payments/api".parse().unwrap(),
        Severity::Destructive,
    )
    .with_context(RequestContext {
        incident: Some("INC-1".parse().unwrap()),
        ..RequestContext::default()
    })
}

/// The request as Cedar sees it through the adapter, built once.
fn cedar_request() -> (Request, Entities) {
    let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
    let principal: EntityUid = r#"Nhi::Identity::"restart-agent""#.parse().unwrap();
    let action: EntityUid = r#"Nhi::Action::"deployment.restart""#.parse().unwrap();
    let resource: EntityUid = r#"Nhi::Resource::"k8s:prod/payments/api""#.parse().unwrap();
    let labels = RestrictedExpression::new_record([("purpose".to_owned(), text("remediation"))]);
    let principal_attrs = HashMap::from([
        ("kind".to_owned(), text("ai-agent")),
        ("team".to_owned(), text("sre")),
        ("tenant".to_owned(), text("acme")),
        ("risk_tier".to_owned(), text("medium")),
        ("environment".to_owned(), text("production")),
        ("labels".to_owned(), labels.unwrap()),
    ]);
    let resource_attrs = HashMap::from([
        ("id".to_owned(), text("k8s:prod/payments/api")),
        ("system".to_owned(), text("k8s")),
        ("path".to_owned(), text("prod/payments/api")),
    ]);
    let entities = Entities::from_entities(
        [
            Entity::new(principal.clone(), principal_attrs, HashSet::new()).unwrap(),
            Entity::new(resource.clone(), resource_attrs, HashSet::new()).unwrap(),
        ],
        None,
    )
    .unwrap();
    let context = Context::from_pairs([
        ("action".to_owned(), text("deployment.restart")),
        ("severity".to_owned(), text("destructive")),
        ("incident".to_owned(), text("INC-1")),
        (
            "attributes".to_owned(),
            RestrictedExpression::new_record([]).unwrap(),
        ),
    ])
    .unwrap();
    let request = Request::new(principal, action, resource, context, None).unwrap();
    (request, entities)
}

/// 10,000 generated rules in one of three shapes, plus the ten shared rules.
fn ten_thousand(shape: &str) -> RuleSet {
    let mut text = TEN_RULES.to_owned();
    for i in 0..10_000 {
        let (who, action) = match shape {
            "per-identity" => (
                format!("identities = [\"agent-{i}\"]"),
                format!("svc{}.op", i % 40),
            ),
            "per-action" => (String::new(), format!("svc{}.op{}", i % 1000, i % 7)),
            "per-namespace" => (String::new(), format!("svc{}.*", i % 1000)),
            _ => (format!("teams = [\"team-{}\"]", i % 500), "*".to_owned()),
        };
        let effect = if i % 10 == 0 { "deny" } else { "allow" };
        write!(
            text,
            "[[rules]]\nid = \"gen-{i:05}\"\neffect = \"{effect}\"\nreason = \"generated\"\n\
             {who}\nactions = [\"{action}\"]\nresources = [\"k8s:prod/svc{}/**\"]\n",
            i % 100
        )
        .unwrap();
    }
    let set = RuleSet::from_toml_str(&text).unwrap();
    assert_eq!(set.len(), 10_010);
    set
}

fn decisions(c: &mut Criterion) {
    let ours = RuleSet::from_toml_str(TEN_RULES).unwrap();
    let adapter = CedarPolicy::from_cedar_str(TEN_RULES_CEDAR).unwrap();
    let cedar_set: PolicySet = TEN_RULES_CEDAR.parse().unwrap();
    let authorizer = Authorizer::new();
    let (cedar_req, cedar_entities) = cedar_request();
    let req = request("restart-agent");

    // the engines agree before they are timed
    let decision = ours.decide(&req);
    assert_eq!(decision.effect, Effect::RequireApproval);
    assert_eq!(adapter.decide(&req).deciding, decision.deciding);
    let raw = authorizer.is_authorized(&cedar_req, &cedar_set, &cedar_entities);
    assert_eq!(raw.decision(), cedar_policy::Decision::Deny);
    assert_eq!(raw.diagnostics().reason().count(), 1);

    let mut group = c.benchmark_group("policy/10-rules");
    group.bench_function("nhi", |b| b.iter(|| ours.decide(black_box(&req))));
    group.bench_function("cedar", |b| {
        b.iter(|| authorizer.is_authorized(black_box(&cedar_req), &cedar_set, &cedar_entities))
    });
    group.bench_function("cedar-adapter", |b| {
        b.iter(|| adapter.decide(black_box(&req)))
    });
    group.finish();

    let mut group = c.benchmark_group("policy/10000-rules");
    for shape in [
        "per-identity",
        "per-action",
        "per-namespace",
        "all-wildcard",
    ] {
        let set = ten_thousand(shape);
        let req = request("agent-42");
        assert_eq!(set.decide(&req).effect, Effect::RequireApproval);
        group.bench_function(shape, |b| b.iter(|| set.decide(black_box(&req))));
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);

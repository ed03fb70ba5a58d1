//! What a policy is asked: who ([`Subject`]) wants to do what, to which resource, and in
//! which circumstances ([`RequestContext`]).

use std::collections::BTreeMap;
use std::time::Duration;

use nhi_core::{
    Action, Environment, IdentityId, IdentityKind, IncidentId, Resource, RiskTier, Severity,
    TeamName, TenantId, Timestamp, WorkflowId,
};
use serde::{Deserialize, Serialize};

/// The identity asking, with every attribute a rule can match on.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The identity's stable id.
    pub id: IdentityId,
    /// What sort of identity it is.
    pub kind: IdentityKind,
    /// The owning team, when it has one.
    pub team: Option<TeamName>,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// How much damage it could do if misused.
    pub risk_tier: RiskTier,
    /// The environment it is bound to.
    pub environment: Environment,
    /// Free-form labels set on the identity, such as `purpose = remediation`.
    pub labels: BTreeMap<String, String>,
}

/// The circumstances of a request, which rule conditions (`[rules.when]`) look at.
///
/// Every field is optional. A condition that needs a value the context lacks cannot be
/// checked: a deny rule then counts against the request, an allow rule grants nothing.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The incident the action is taken for.
    pub incident: Option<IncidentId>,
    /// The workflow or run the action belongs to.
    pub workflow: Option<WorkflowId>,
    /// The change ticket that authorises the action. Blank text counts as no ticket.
    pub change_ticket: Option<String>,
    /// When the request is made, as the caller's clock says. Policy never reads a clock:
    /// time conditions look only at this.
    pub time: Option<Timestamp>,
    /// How long ago the presented credential was issued.
    pub token_age: Option<Duration>,
    /// The state of the workflow the action belongs to, such as `approved`.
    pub workflow_state: Option<String>,
    /// Further named facts about the request, for `[rules.when.attributes]`.
    pub attributes: BTreeMap<String, ContextValue>,
}

/// A typed value of a request attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// True or false.
    Bool(bool),
    /// A whole number.
    Number(i64),
    /// A piece of text.
    Text(String),
    /// A list of texts, such as the regions an action touches.
    List(Vec<String>),
}

impl RequestContext {
    /// The change ticket, unless it is missing or blank.
    pub fn present_change_ticket(&self) -> Option<&str> {
        self.change_ticket
            .as_deref()
            .filter(|ticket| !ticket.trim().is_empty())
    }
}

/// One question for a [`PolicyEngine`](crate::PolicyEngine): may this subject perform this
/// action on this resource now?
#[derive(Clone, Debug)]
pub struct PolicyRequest {
    /// Who asks.
    pub subject: Subject,
    /// What it wants to do.
    pub action: Action,
    /// What it wants to do it to.
    pub resource: Resource,
    /// How much harm the action can do.
    pub severity: Severity,
    /// The circumstances.
    pub context: RequestContext,
}

impl PolicyRequest {
    /// A request with an empty context: no incident, workflow or change ticket.
    pub fn new(subject: Subject, action: Action, resource: Resource, severity: Severity) -> Self {
        Self {
            subject,
            action,
            resource,
            severity,
            context: RequestContext::default(),
        }
    }

    /// The same request with the given context.
    #[must_use]
    pub fn with_context(mut self, context: RequestContext) -> Self {
        self.context = context;
        self
    }
}

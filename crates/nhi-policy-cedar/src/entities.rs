//! How a [`PolicyRequest`] is shown to Cedar: the principal and resource as entities
//! with attributes, the action as an entity id, and the request context as a record.

use std::collections::{HashMap, HashSet};

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
};
use nhi_core::Timestamp;
use nhi_policy::{ContextValue, PolicyRequest, RequestContext, Weekday};

/// The entity type of identities.
pub const PRINCIPAL_TYPE: &str = "Nhi::Identity";
/// The entity type of actions; the id is the lowercased action name.
pub const ACTION_TYPE: &str = "Nhi::Action";
/// The entity type of resources; the id is the whole `system:path` text.
pub const RESOURCE_TYPE: &str = "Nhi::Resource";

/// The Cedar request and the entities it refers to.
pub(crate) struct CedarInput {
    pub(crate) request: Request,
    pub(crate) entities: Entities,
}

/// Builds the Cedar view of a request; `None` when Cedar refuses it (which the caller
/// turns into a deny).
pub(crate) fn cedar_input(request: &PolicyRequest) -> Option<CedarInput> {
    let principal = uid(PRINCIPAL_TYPE, request.subject.id.as_str())?;
    let action = uid(ACTION_TYPE, request.action.as_str())?;
    let resource = uid(RESOURCE_TYPE, request.resource.as_str())?;

    let principal_entity =
        Entity::new(principal.clone(), subject_attrs(request)?, HashSet::new()).ok()?;
    let resource_entity =
        Entity::new(resource.clone(), resource_attrs(request), HashSet::new()).ok()?;
    let entities = Entities::from_entities([principal_entity, resource_entity], None).ok()?;

    let context = Context::from_pairs(context_pairs(request)?).ok()?;
    let request = Request::new(principal, action, resource, context, None).ok()?;
    Some(CedarInput { request, entities })
}

fn uid(entity_type: &str, id: &str) -> Option<EntityUid> {
    let name: EntityTypeName = entity_type.parse().ok()?;
    Some(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

/// `kind`, `team` (absent without one), `tenant`, `risk_tier`, `environment`, `labels`.
fn subject_attrs(request: &PolicyRequest) -> Option<HashMap<String, RestrictedExpression>> {
    let subject = &request.subject;
    let mut attrs = HashMap::from([
        ("kind".to_owned(), text(subject.kind.as_str())),
        ("tenant".to_owned(), text(subject.tenant.as_str())),
        ("risk_tier".to_owned(), text(subject.risk_tier.as_str())),
        ("environment".to_owned(), text(subject.environment.as_str())),
    ]);
    if let Some(team) = &subject.team {
        attrs.insert("team".to_owned(), text(team.as_str()));
    }
    let labels = subject
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), text(value)));
    attrs.insert(
        "labels".to_owned(),
        RestrictedExpression::new_record(labels).ok()?,
    );
    Some(attrs)
}

/// `id` (the whole text), `system` and `path`.
fn resource_attrs(request: &PolicyRequest) -> HashMap<String, RestrictedExpression> {
    let resource = &request.resource;
    HashMap::from([
        ("id".to_owned(), text(resource.as_str())),
        ("system".to_owned(), text(resource.system())),
        ("path".to_owned(), text(resource.path())),
    ])
}

/// The context record. Absent facts are absent keys, so a policy that reads one errors
/// (and an erroring `forbid` denies).
fn context_pairs(request: &PolicyRequest) -> Option<Vec<(String, RestrictedExpression)>> {
    let context: &RequestContext = &request.context;
    let mut pairs = vec![
        ("action".to_owned(), text(request.action.as_str())),
        ("severity".to_owned(), text(request.severity.as_str())),
    ];
    let mut put = |key: &str, value: RestrictedExpression| pairs.push((key.to_owned(), value));
    if let Some(incident) = &context.incident {
        put("incident", text(incident.as_str()));
    }
    if let Some(workflow) = &context.workflow {
        put("workflow", text(workflow.as_str()));
    }
    if let Some(ticket) = context.present_change_ticket() {
        put("change_ticket", text(ticket));
    }
    if let Some(time) = context.time {
        put_time(&mut put, time);
    }
    if let Some(age) = context.token_age {
        put("token_age_secs", long(age.as_secs()));
    }
    if let Some(state) = &context.workflow_state {
        put("workflow_state", text(state));
    }
    let attributes = context
        .attributes
        .iter()
        .map(|(key, value)| (key.clone(), attribute(value)));
    put(
        "attributes",
        RestrictedExpression::new_record(attributes).ok()?,
    );
    Some(pairs)
}

/// `time` (seconds since the epoch), `minute_of_day` and `weekday` (`mon`..`sun`), UTC.
fn put_time(put: &mut impl FnMut(&str, RestrictedExpression), time: Timestamp) {
    let secs = time.unix_secs();
    put("time", long(secs));
    put("minute_of_day", long(secs % 86_400 / 60));
    put("weekday", text(weekday_name(Weekday::of(time))));
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn attribute(value: &ContextValue) -> RestrictedExpression {
    match value {
        ContextValue::Bool(b) => RestrictedExpression::new_bool(*b),
        ContextValue::Number(n) => RestrictedExpression::new_long(*n),
        ContextValue::Text(t) => text(t),
        ContextValue::List(items) => RestrictedExpression::new_set(items.iter().map(|i| text(i))),
    }
}

fn text(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

fn long(value: u64) -> RestrictedExpression {
    RestrictedExpression::new_long(i64::try_from(value).unwrap_or(i64::MAX))
}

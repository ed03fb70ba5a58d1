//! Reading rules from TOML policy text, with line-numbered errors.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use nhi_core::{Environment, IdentityId, IdentityKind, RiskTier, Severity, TeamName, TenantId};
use serde::Deserialize;
use toml::Spanned;

use crate::condition::Conditions;
use crate::decision::{ApprovalRequirement, Effect};
use crate::error::{PolicyError, clip};
use crate::pattern::{ActionPattern, ResourcePattern};
use crate::rule::{PrincipalMatch, Rule};

/// A policy file: a list of `[[rules]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

/// One `[[rules]]` table as written, before the checks that span several keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    effect: Effect,
    reason: String,
    identities: Option<Spanned<Vec<IdentityId>>>,
    kinds: Option<Spanned<Vec<IdentityKind>>>,
    teams: Option<Spanned<Vec<TeamName>>>,
    tenants: Option<Spanned<Vec<TenantId>>>,
    risk_tiers: Option<Spanned<Vec<RiskTier>>>,
    environments: Option<Spanned<Vec<Environment>>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    actions: Spanned<Vec<ActionPattern>>,
    resources: Spanned<Vec<ResourcePattern>>,
    severities: Option<Spanned<Vec<Severity>>>,
    #[serde(default)]
    when: Conditions,
    approval: Option<ApprovalRequirement>,
}

/// Parses and validates policy text; `file` is named in errors when given.
pub(crate) fn parse(text: &str, file: Option<&Path>) -> Result<Vec<Rule>, PolicyError> {
    let at = |offset: usize, message: String| {
        let (line, column) = locate(text, offset);
        PolicyError::Parse {
            file: file.map(Path::to_owned),
            line,
            column,
            message,
        }
    };

    let policy: PolicyFile = toml::from_str(text).map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start);
        at(offset, explain(err.message().trim_end()))
    })?;

    let mut first_use: HashMap<String, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(policy.rules.len());
    for raw in policy.rules {
        let start = raw.span().start;
        let raw = raw.into_inner();
        let id_span = raw.id.span();
        let rule = raw
            .into_rule()
            .map_err(|(span, message)| at(span.start, message))?;

        rule.check()
            .map_err(|reason| at(start, format!("rule `{}`: {reason}", clip(&rule.id))))?;
        if let Some(earlier) = first_use.insert(rule.id.clone(), id_span.start) {
            let (line, _) = locate(text, earlier);
            let message = format!(
                "rule id `{}` is already used on line {line}: give each rule its own id",
                clip(&rule.id)
            );
            return Err(at(id_span.start, message));
        }
        rules.push(rule);
    }
    Ok(rules)
}

impl RawRule {
    /// Builds the rule, refusing explicit empty lists; errors carry the offending span.
    fn into_rule(self) -> Result<Rule, (Range<usize>, String)> {
        let principal = PrincipalMatch {
            identities: listed(self.identities, "identities")?,
            kinds: listed(self.kinds, "kinds")?,
            teams: listed(self.teams, "teams")?,
            tenants: listed(self.tenants, "tenants")?,
            risk_tiers: listed(self.risk_tiers, "risk_tiers")?,
            environments: listed(self.environments, "environments")?,
            labels: self.labels,
        };
        Ok(Rule {
            id: self.id.into_inner(),
            effect: self.effect,
            reason: self.reason,
            principal,
            actions: required(self.actions, "actions", "an action pattern such as `*`")?,
            resources: required(
                self.resources,
                "resources",
                "a resource pattern such as `**`",
            )?,
            severities: listed(self.severities, "severities")?,
            when: self.when,
            approval: self.approval,
        })
    }
}

/// Adds what to do to the parser's terser messages.
fn explain(message: &str) -> String {
    match message.strip_prefix("missing field ") {
        Some(field) => format!("the required key {field} is missing from this table: add it"),
        None => message.to_owned(),
    }
}

/// An optional list: a missing key matches everything, an empty one is a mistake (it
/// would match nothing, silently).
fn listed<T>(list: Option<Spanned<Vec<T>>>, key: &str) -> Result<Vec<T>, (Range<usize>, String)> {
    match list {
        None => Ok(Vec::new()),
        Some(list) if list.get_ref().is_empty() => Err((
            list.span(),
            format!("`{key}` is empty, so the rule could never match: remove the key to match all"),
        )),
        Some(list) => Ok(list.into_inner()),
    }
}

/// A list that must hold at least one pattern.
fn required<T>(
    list: Spanned<Vec<T>>,
    key: &str,
    example: &str,
) -> Result<Vec<T>, (Range<usize>, String)> {
    if list.get_ref().is_empty() {
        let message = format!("`{key}` is empty: list at least one, for example {example}");
        return Err((list.span(), message));
    }
    Ok(list.into_inner())
}

/// The line and column (both from 1, the column in characters) of a byte offset.
fn locate(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_lines_and_characters() {
        let text = "a\nbé\ncd";
        assert_eq!(locate(text, 0), (1, 1));
        assert_eq!(locate(text, 2), (2, 1));
        assert_eq!(locate(text, 5), (2, 3));
        assert_eq!(locate(text, 6), (3, 1));
        assert_eq!(locate(text, 999), (3, 3));
    }
}

//! An index of rules by action and by principal, so that deciding looks only at rules
//! that could match.
//!
//! Each action pattern of a rule is either a plain name (`deployment.restart`), a pattern
//! that fixes the action's namespace, its first dot-separated part (`deployment.*`), or a
//! wildcard (`*`, `*.read`). A rule with any wildcard pattern is filed under "any
//! action"; any other rule under each of its names and namespaces.
//!
//! Within each of those, a rule is filed by one principal attribute it constrains: its
//! identities if it names any, else its teams, else its tenants, else its kinds; a rule
//! that constrains none of them is filed under "anyone". A rule can only match a subject
//! whose value for that attribute is in the rule's list, so a request looks, for each of
//! its action, its namespace and any action, at the lists for its identity, its team,
//! its tenant, its kind and anyone: at most fifteen short lists. The index only narrows
//! which rules are tested: each candidate is still matched in full, so it can never
//! change a decision.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use nhi_core::IdentityKind;

use crate::pattern::ActionPattern;
use crate::request::Subject;
use crate::rule::Rule;

/// Maps from short, policy-chosen keys; a fast hash is enough, since requests only look
/// keys up.
type Map<V> = HashMap<String, V, RandomState>;

/// The most lists a request looks at: three action keys, five principal keys each.
const MAX_LISTS: usize = 15;

/// Rule positions by exact action name, by action namespace, and for wildcard actions.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    exact: Map<Bucket>,
    namespaced: Map<Bucket>,
    wildcard: Bucket,
}

/// Rule positions by the principal attribute they are filed under; each list ascending.
#[derive(Debug, Clone, Default)]
struct Bucket {
    by_identity: Map<Vec<usize>>,
    by_team: Map<Vec<usize>>,
    by_tenant: Map<Vec<usize>>,
    /// Few kinds exist, so a short list beats hashing.
    by_kind: Vec<(IdentityKind, Vec<usize>)>,
    anyone: Vec<usize>,
}

impl RuleIndex {
    /// Files every rule by its action patterns and principal.
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Self::default();
        for (position, rule) in rules.iter().enumerate() {
            let keys: Option<Vec<Key<'_>>> = rule.actions.iter().map(key_of).collect();
            let Some(keys) = keys else {
                index.wildcard.file(position, rule);
                continue;
            };
            for key in keys {
                let (map, key) = match key {
                    Key::Exact(name) => (&mut index.exact, name),
                    Key::Namespace(namespace) => (&mut index.namespaced, namespace),
                };
                map.entry(key.to_owned()).or_default().file(position, rule);
            }
        }
        index
    }

    /// The positions of every rule that could match the action by the subject,
    /// ascending, each once.
    pub(crate) fn candidates<'a>(
        &'a self,
        action: &str,
        subject: &Subject,
    ) -> impl Iterator<Item = usize> + 'a {
        // a byte loop: actions are short, shorter than a vectorised search pays off for
        let namespace = action
            .bytes()
            .position(|byte| byte == b'.')
            .and_then(|dot| action.get(..dot))
            .unwrap_or(action);
        let mut lists = Lists::default();
        if let Some(bucket) = self.exact.get(action) {
            bucket.collect(subject, &mut lists);
        }
        if let Some(bucket) = self.namespaced.get(namespace) {
            bucket.collect(subject, &mut lists);
        }
        self.wildcard.collect(subject, &mut lists);
        Merge::new(lists)
    }
}

/// Where an action pattern is filed; `None` for a wildcard.
enum Key<'a> {
    Exact(&'a str),
    Namespace(&'a str),
}

fn key_of(pattern: &ActionPattern) -> Option<Key<'_>> {
    pattern
        .exact()
        .map(Key::Exact)
        .or_else(|| pattern.namespace().map(Key::Namespace))
}

impl Bucket {
    /// Files the rule under the first principal attribute it constrains, most selective
    /// first.
    fn file(&mut self, position: usize, rule: &Rule) {
        let principal = &rule.principal;
        if !principal.identities.is_empty() {
            let names = principal.identities.iter().map(|name| name.as_str());
            file_by_name(&mut self.by_identity, names, position);
        } else if !principal.teams.is_empty() {
            let names = principal.teams.iter().map(|name| name.as_str());
            file_by_name(&mut self.by_team, names, position);
        } else if !principal.tenants.is_empty() {
            let names = principal.tenants.iter().map(|name| name.as_str());
            file_by_name(&mut self.by_tenant, names, position);
        } else if !principal.kinds.is_empty() {
            for kind in &principal.kinds {
                match self.by_kind.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, list)) => push_once(list, position),
                    None => self.by_kind.push((*kind, vec![position])),
                }
            }
        } else {
            push_once(&mut self.anyone, position);
        }
    }

    /// Adds the lists the subject could match to `lists`.
    fn collect<'a>(&'a self, subject: &Subject, lists: &mut Lists<'a>) {
        lists.push_from(&self.by_identity, subject.id.as_str());
        if let Some(team) = &subject.team {
            lists.push_from(&self.by_team, team.as_str());
        }
        lists.push_from(&self.by_tenant, subject.tenant.as_str());
        if let Some((_, list)) = self.by_kind.iter().find(|(k, _)| *k == subject.kind) {
            lists.push(list);
        }
        lists.push(&self.anyone);
    }
}

fn file_by_name<'a>(
    map: &mut Map<Vec<usize>>,
    names: impl Iterator<Item = &'a str>,
    position: usize,
) {
    for name in names {
        push_once(map.entry(name.to_owned()).or_default(), position);
    }
}

/// Positions are filed in ascending order, so a repeat can only be the last entry.
fn push_once(list: &mut Vec<usize>, position: usize) {
    if list.last() != Some(&position) {
        list.push(position);
    }
}

/// The non-empty lists a request looks at, gathered on the stack.
#[derive(Default)]
struct Lists<'a> {
    /// The first `live` entries hold the lists; the rest are empty.
    lists: [&'a [usize]; MAX_LISTS],
    live: usize,
}

impl<'a> Lists<'a> {
    /// Keeps a list unless it is empty (or, which cannot happen, there is no room).
    fn push(&mut self, list: &'a [usize]) {
        if list.is_empty() {
            return;
        }
        if let Some(slot) = self.lists.get_mut(self.live) {
            *slot = list;
            self.live += 1;
        }
    }

    fn push_from(&mut self, map: &'a Map<Vec<usize>>, key: &str) {
        // an empty map answers without hashing the key
        if let Some(list) = map.get(key) {
            self.push(list);
        }
    }
}

/// Merges ascending lists, yielding an element found in several once.
struct Merge<'a> {
    lists: Lists<'a>,
}

impl<'a> Merge<'a> {
    fn new(lists: Lists<'a>) -> Self {
        Self { lists }
    }
}

impl Iterator for Merge<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let live = self.lists.lists.get_mut(..self.lists.live)?;
        if let [only] = live {
            let (&head, rest) = only.split_first()?;
            *only = rest;
            return Some(head);
        }
        let smallest = live.iter().filter_map(|list| list.first()).min().copied()?;
        for list in live.iter_mut() {
            if let Some((&head, rest)) = list.split_first()
                && head == smallest
            {
                *list = rest;
            }
        }
        Some(smallest)
    }
}

#[cfg(test)]
mod tests {
    use nhi_core::RiskTier;

    use super::*;
    use crate::RuleSet;

    fn merged(lists: &[&[usize]]) -> Vec<usize> {
        let mut gathered = Lists::default();
        for list in lists {
            gathered.push(list);
        }
        Merge::new(gathered).collect()
    }

    #[test]
    fn merge_keeps_order() {
        assert_eq!(
            merged(&[&[0, 3, 4], &[1, 2, 5, 9]]),
            vec![0, 1, 2, 3, 4, 5, 9]
        );
        assert_eq!(merged(&[&[1, 2, 3], &[2, 3, 4], &[3]]), vec![1, 2, 3, 4]);
        assert_eq!(merged(&[&[], &[]]), Vec::<usize>::new());
        assert_eq!(merged(&[&[], &[7], &[]]), vec![7]);
    }

    fn subject(id: &str, team: Option<&str>, tenant: &str, kind: IdentityKind) -> Subject {
        Subject {
            id: id.parse().unwrap(),
            kind,
            team: team.map(|t| t.parse().unwrap()),
            tenant: tenant.parse().unwrap(),
            risk_tier: RiskTier::Low,
            environment: "production".parse().unwrap(),
            labels: Default::default(),
        }
    }

    #[test]
    fn rules_are_narrowed_by_principal() {
        let mut text = String::new();
        for (id, who) in [
            ("a-identity", "identities = [\"bot-1\"]\nteams = [\"sre\"]"),
            ("b-team", "teams = [\"sre\", \"payments\"]"),
            ("c-tenant", "tenants = [\"globex\"]"),
            ("d-kind", "kinds = [\"ci-runner\", \"bot\"]"),
            ("e-anyone", "risk_tiers = [\"low\"]"),
        ] {
            text.push_str(&format!(
                "[[rules]]\nid = \"{id}\"\neffect = \"allow\"\nreason = \"r\"\n{who}\n\
                 actions = [\"*\"]\nresources = [\"**\"]\n"
            ));
        }
        let set = RuleSet::from_toml_str(&text).unwrap();
        let index = RuleIndex::new(set.rules());
        let ids = |subject: &Subject| -> Vec<&str> {
            index
                .candidates("deployment.restart", subject)
                .map(|at| set.rules()[at].id.as_str())
                .collect()
        };

        let sre_bot = subject("bot-1", Some("sre"), "globex", IdentityKind::Bot);
        assert_eq!(
            ids(&sre_bot),
            ["a-identity", "b-team", "c-tenant", "d-kind", "e-anyone"]
        );
        let stranger = subject("agent-9", None, "acme", IdentityKind::AiAgent);
        assert_eq!(ids(&stranger), ["e-anyone"]);
        let payments_runner = subject("run-3", Some("payments"), "acme", IdentityKind::CiRunner);
        assert_eq!(ids(&payments_runner), ["b-team", "d-kind", "e-anyone"]);
    }
}

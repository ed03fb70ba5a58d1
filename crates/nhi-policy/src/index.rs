//! An index of rules by action and by identity, so that deciding looks only at rules
//! that could match.
//!
//! Each action pattern of a rule is either a plain name (`deployment.restart`), a pattern
//! that fixes the action's namespace, its first dot-separated part (`deployment.*`), or a
//! wildcard (`*`, `*.read`). A rule with any wildcard pattern is filed under "any
//! action"; any other rule under each of its names and namespaces. Within each, a rule
//! that names identities is filed under each identity, any other rule under "anyone". A
//! request looks at six short lists: its action, its namespace and any action, each for
//! its identity and for anyone. The index only narrows which rules are tested: each
//! candidate is still matched in full, so it can never change a decision.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::pattern::ActionPattern;
use crate::rule::Rule;

/// Maps from short, policy-chosen keys; a fast hash is enough, since requests only look
/// keys up.
type Map<V> = HashMap<String, V, RandomState>;

/// Rule positions by exact action name, plus the positions of wildcard-action rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    exact: Map<Bucket>,
    namespaced: Map<Bucket>,
    wildcard: Bucket,
}

/// Rule positions by identity, plus those of rules about anyone; each list ascending.
#[derive(Debug, Clone, Default)]
struct Bucket {
    by_identity: Map<Vec<usize>>,
    anyone: Vec<usize>,
}

impl RuleIndex {
    /// Files every rule by its action patterns and identities.
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

    /// The positions of every rule that could match the action by the identity,
    /// ascending, each once.
    pub(crate) fn candidates<'a>(
        &'a self,
        action: &str,
        identity: &str,
    ) -> impl Iterator<Item = usize> + 'a {
        let namespace = action
            .split_once('.')
            .map_or(action, |(namespace, _)| namespace);
        let exact = lookup(&self.exact, action, identity);
        let namespaced = lookup(&self.namespaced, namespace, identity);
        let wildcard = self.wildcard.lists(identity);
        Merge::new([
            exact.0,
            exact.1,
            namespaced.0,
            namespaced.1,
            wildcard.0,
            wildcard.1,
        ])
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

fn lookup<'a>(map: &'a Map<Bucket>, key: &str, identity: &str) -> (&'a [usize], &'a [usize]) {
    map.get(key)
        .map(|bucket| bucket.lists(identity))
        .unwrap_or_default()
}

impl Bucket {
    fn file(&mut self, position: usize, rule: &Rule) {
        if rule.principal.identities.is_empty() {
            push_once(&mut self.anyone, position);
            return;
        }
        for identity in &rule.principal.identities {
            let list = self
                .by_identity
                .entry(identity.as_str().to_owned())
                .or_default();
            push_once(list, position);
        }
    }

    fn lists(&self, identity: &str) -> (&[usize], &[usize]) {
        let named = self
            .by_identity
            .get(identity)
            .map(Vec::as_slice)
            .unwrap_or_default();
        (named, &self.anyone)
    }
}

/// Positions are filed in ascending order, so a repeat can only be the last entry.
fn push_once(list: &mut Vec<usize>, position: usize) {
    if list.last() != Some(&position) {
        list.push(position);
    }
}

/// Merges ascending lists, yielding an element found in several once.
struct Merge<'a, const N: usize> {
    /// The lists that still hold elements come first; `live` says how many.
    lists: [&'a [usize]; N],
    live: usize,
}

impl<'a, const N: usize> Merge<'a, N> {
    fn new(mut lists: [&'a [usize]; N]) -> Self {
        lists.sort_unstable_by_key(|list| list.is_empty());
        let live = lists.iter().take_while(|list| !list.is_empty()).count();
        Self { lists, live }
    }
}

impl<const N: usize> Iterator for Merge<'_, N> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let live = self.lists.get_mut(..self.live)?;
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
    use super::*;

    #[test]
    fn merge_keeps_order() {
        let merged: Vec<usize> = Merge::new([&[0, 3, 4][..], &[1, 2, 5, 9]]).collect();
        assert_eq!(merged, vec![0, 1, 2, 3, 4, 5, 9]);
        let overlapping: Vec<usize> = Merge::new([&[1, 2, 3][..], &[2, 3, 4], &[3]]).collect();
        assert_eq!(overlapping, vec![1, 2, 3, 4]);
        assert_eq!(Merge::new([&[][..], &[]]).count(), 0);
    }
}

//! An index of rules by action and by identity, so that deciding looks only at rules
//! that could match.
//!
//! A rule whose action patterns are all plain names is filed under each name; a rule with
//! any wildcard action pattern is filed under "any action". Within each, a rule that
//! names identities is filed under each identity, any other rule under "anyone". A
//! request looks at four lists: its action and any action, each for its identity and for
//! anyone. The index only narrows which rules are tested: each candidate is still matched
//! in full, so it can never change a decision.

use std::collections::HashMap;
use std::iter::Peekable;

use crate::rule::Rule;

/// Rule positions by exact action name, plus the positions of wildcard-action rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    exact: HashMap<String, Bucket>,
    wildcard: Bucket,
}

/// Rule positions by identity, plus those of rules about anyone; each list ascending.
#[derive(Debug, Clone, Default)]
struct Bucket {
    by_identity: HashMap<String, Vec<usize>>,
    anyone: Vec<usize>,
}

impl RuleIndex {
    /// Files every rule by its action patterns and identities.
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Self::default();
        for (position, rule) in rules.iter().enumerate() {
            let names: Option<Vec<&str>> = rule.actions.iter().map(|p| p.exact()).collect();
            match names {
                Some(names) => {
                    for name in names {
                        let bucket = index.exact.entry(name.to_owned()).or_default();
                        bucket.file(position, rule);
                    }
                }
                None => index.wildcard.file(position, rule),
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
        let (exact_named, exact_anyone) = self
            .exact
            .get(action)
            .map(|bucket| bucket.lists(identity))
            .unwrap_or_default();
        let (wild_named, wild_anyone) = self.wildcard.lists(identity);
        Merge::new(
            Merge::new(exact_named.iter().copied(), exact_anyone.iter().copied()),
            Merge::new(wild_named.iter().copied(), wild_anyone.iter().copied()),
        )
    }
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

/// Merges two ascending iterators that share no element.
struct Merge<L: Iterator<Item = usize>, R: Iterator<Item = usize>> {
    left: Peekable<L>,
    right: Peekable<R>,
}

impl<L: Iterator<Item = usize>, R: Iterator<Item = usize>> Merge<L, R> {
    fn new(left: L, right: R) -> Self {
        Self {
            left: left.peekable(),
            right: right.peekable(),
        }
    }
}

impl<L: Iterator<Item = usize>, R: Iterator<Item = usize>> Iterator for Merge<L, R> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match (self.left.peek(), self.right.peek()) {
            (Some(l), Some(r)) if l <= r => self.left.next(),
            (Some(_), Some(_)) => self.right.next(),
            (Some(_), None) => self.left.next(),
            (None, _) => self.right.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order() {
        let left = [0, 3, 4];
        let right = [1, 2, 5, 9];
        let merged: Vec<usize> = Merge::new(left.iter().copied(), right.iter().copied()).collect();
        assert_eq!(merged, vec![0, 1, 2, 3, 4, 5, 9]);
        assert_eq!(Merge::new(0..0, 0..0).count(), 0);
    }
}

//! An index of rules by action, so that deciding looks only at rules that could match.
//!
//! A rule whose action patterns are all plain names is filed under each name; a rule with
//! any wildcard pattern is kept in a list consulted for every action. The index only
//! narrows which rules are tested: each candidate is still matched in full, so it can
//! never change a decision.

use std::collections::HashMap;

use crate::rule::Rule;

/// Rule positions by exact action name, plus the positions of wildcard rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActionIndex {
    exact: HashMap<String, Vec<usize>>,
    wildcard: Vec<usize>,
}

impl ActionIndex {
    /// Files every rule by its action patterns.
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Self::default();
        for (position, rule) in rules.iter().enumerate() {
            let names: Option<Vec<&str>> = rule.actions.iter().map(|p| p.exact()).collect();
            match names {
                Some(names) => {
                    for name in names {
                        let slot = index.exact.entry(name.to_owned()).or_default();
                        if slot.last() != Some(&position) {
                            slot.push(position);
                        }
                    }
                }
                None => index.wildcard.push(position),
            }
        }
        index
    }

    /// The positions of every rule that could match the action, ascending, each once.
    pub(crate) fn candidates<'a>(&'a self, action: &str) -> impl Iterator<Item = usize> + 'a {
        let exact = self
            .exact
            .get(action)
            .map(Vec::as_slice)
            .unwrap_or_default();
        merge(exact, &self.wildcard)
    }
}

/// Merges two ascending lists that share no element.
fn merge<'a>(left: &'a [usize], right: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
    let mut left = left.iter().copied().peekable();
    let mut right = right.iter().copied().peekable();
    std::iter::from_fn(move || match (left.peek(), right.peek()) {
        (Some(l), Some(r)) if l <= r => left.next(),
        (Some(_), Some(_)) => right.next(),
        (Some(_), None) => left.next(),
        (None, _) => right.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order() {
        let merged: Vec<usize> = merge(&[0, 3, 4], &[1, 2, 5, 9]).collect();
        assert_eq!(merged, vec![0, 1, 2, 3, 4, 5, 9]);
        assert_eq!(merge(&[], &[]).count(), 0);
    }
}

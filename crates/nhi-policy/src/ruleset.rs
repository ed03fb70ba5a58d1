//! [`RuleSet`], the built-in [`PolicyEngine`]: rules loaded from TOML or built in code.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::decision::{Decision, Effect, PolicyEngine};
use crate::error::{PolicyError, clip};
use crate::index::ActionIndex;
use crate::load;
use crate::request::PolicyRequest;
use crate::rule::Rule;

/// The largest policy file accepted, in bytes.
const MAX_FILE_LEN: u64 = 8 * 1024 * 1024;

/// A validated set of rules, decided order-free: any matching deny wins, then any
/// matching require-approval, then any matching allow; nothing matching is a deny.
///
/// Among rules of the winning effect, the one with the smallest id decides, so the answer
/// never depends on the order rules were written in. The empty set denies everything.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Sorted by id.
    rules: Vec<Rule>,
    index: ActionIndex,
}

impl RuleSet {
    /// Loads rules from policy text in the TOML format described in the crate docs.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Parse`] with the line and column of the first problem: malformed
    /// TOML, an unknown key or keyword, a missing or duplicate id, an empty list, a bad
    /// pattern, or an approval table where it does not belong.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        load::parse(text, None).map(Self::build)
    }

    /// Loads rules from a policy file; errors name the file.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Read`] when the file cannot be read or is larger than 8 MiB, and
    /// the errors of [`from_toml_str`](Self::from_toml_str), naming the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let text = read_limited(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        load::parse(&text, Some(path)).map(Self::build)
    }

    /// Builds a rule set from rules made in code, checked as a policy file would be.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidRule`] when a rule fails [`Rule::validate`] or two rules
    /// share an id.
    pub fn from_rules(rules: Vec<Rule>) -> Result<Self, PolicyError> {
        let mut seen = HashSet::new();
        for rule in &rules {
            rule.validate()?;
            if !seen.insert(rule.id.as_str()) {
                return Err(PolicyError::InvalidRule {
                    rule: clip(&rule.id),
                    reason: "two rules share this id: give each rule its own id".into(),
                });
            }
        }
        Ok(Self::build(rules))
    }

    /// The rules, sorted by id.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (so every request is denied).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Sorts already-validated rules and indexes them.
    fn build(mut rules: Vec<Rule>) -> Self {
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        let index = ActionIndex::new(&rules);
        Self { rules, index }
    }

    /// Every rule that matches, in id order, found through the index.
    fn matching<'a>(&'a self, request: &'a PolicyRequest) -> impl Iterator<Item = &'a Rule> {
        self.index
            .candidates(request.action.as_str())
            .filter_map(|position| self.rules.get(position))
            .filter(|rule| rule.matches(request))
    }
}

impl PolicyEngine for RuleSet {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        combine(self.matching(request))
    }
}

/// Combines the matching rules, given in id order, into one decision.
pub(crate) fn combine<'a>(matching: impl Iterator<Item = &'a Rule>) -> Decision {
    let mut matched = Vec::new();
    let (mut deny, mut approval, mut allow) = (None, None, None);
    for rule in matching {
        matched.push(rule.id.clone());
        let first = match rule.effect {
            Effect::Deny => &mut deny,
            Effect::RequireApproval => &mut approval,
            Effect::Allow => &mut allow,
        };
        first.get_or_insert(rule);
    }

    let Some(decider) = deny.or(approval).or(allow) else {
        return Decision::default_deny();
    };
    Decision {
        effect: decider.effect,
        rule_id: Some(decider.id.clone()),
        matched,
        explicit: true,
        reason: decider.reason.clone(),
        approval: decider.approval.clone(),
    }
}

/// Reads a file, refusing one larger than [`MAX_FILE_LEN`].
fn read_limited(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    File::open(path)?
        .take(MAX_FILE_LEN + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is larger than 8 MiB",
        ));
    }
    Ok(text)
}

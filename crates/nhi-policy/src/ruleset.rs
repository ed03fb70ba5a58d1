//! [`RuleSet`], the built-in [`PolicyEngine`]: rules loaded from TOML or built in code.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::condition::Truth;
use crate::decision::{Decision, DecisionId, Effect, PolicyEngine};
use crate::error::{PolicyError, clip};
use crate::index::RuleIndex;
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
    index: RuleIndex,
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
        let index = RuleIndex::new(&rules);
        Self { rules, index }
    }

    /// Every rule that matches or cannot be checked, in id order, found through the
    /// index.
    fn matching<'a>(
        &'a self,
        request: &'a PolicyRequest,
    ) -> impl Iterator<Item = (&'a Rule, Truth)> {
        self.index
            .candidates(request.action.as_str(), request.subject.id.as_str())
            .filter_map(|position| self.rules.get(position))
            .map(|rule| (rule, rule.evaluate(request)))
            .filter(|(_, truth)| *truth != Truth::Fails)
    }
}

impl PolicyEngine for RuleSet {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        combine(self.matching(request))
    }
}

/// Combines the rules that match or cannot be checked, given in id order, into one
/// decision.
///
/// A deny or approval rule that cannot be checked counts as a deny; an allow rule that
/// cannot be checked grants nothing.
pub(crate) fn combine<'a>(matching: impl Iterator<Item = (&'a Rule, Truth)>) -> Decision {
    let mut matched = Vec::new();
    let (mut denying, mut approving, mut allowing) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sure_deny, mut unchecked, mut approval) = (None, None, None);
    for (rule, truth) in matching {
        match (rule.effect, truth) {
            (Effect::Allow, Truth::Unknown) => continue,
            (Effect::Allow, _) => allowing.push(rule),
            (Effect::Deny, Truth::Holds) => {
                sure_deny.get_or_insert(rule);
                denying.push(rule);
            }
            (_, Truth::Unknown) => {
                unchecked.get_or_insert(rule);
                denying.push(rule);
            }
            (_, _) => {
                approval.get_or_insert(rule);
                approving.push(rule);
            }
        }
        matched.push(rule.id.clone());
    }

    let (effect, decider, deciding, reason) = if let Some(rule) = sure_deny {
        (Effect::Deny, rule, denying, rule.reason.clone())
    } else if let Some(rule) = unchecked {
        (
            Effect::Deny,
            rule,
            denying,
            Decision::UNCHECKED_REASON.to_owned(),
        )
    } else if let Some(rule) = approval {
        (
            Effect::RequireApproval,
            rule,
            approving,
            rule.reason.clone(),
        )
    } else if let Some(&rule) = allowing.first() {
        (Effect::Allow, rule, allowing, rule.reason.clone())
    } else {
        return Decision::default_deny();
    };
    Decision {
        id: DecisionId::next(),
        effect,
        rule_id: Some(decider.id.clone()),
        deciding: deciding.iter().map(|rule| rule.id.clone()).collect(),
        matched,
        explicit: true,
        reason,
        approval: if effect == Effect::RequireApproval {
            decider.approval.clone()
        } else {
            None
        },
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

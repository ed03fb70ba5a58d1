//! [`RuleSet`], the built-in [`PolicyEngine`]: rules loaded from TOML or built in code.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::condition::Truth;
use crate::decision::{ApprovalRequirement, Decision, DecisionId, Effect, PolicyEngine};
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
    /// What decisions quote from each rule, at the same position, shared so that a
    /// decision copies no text.
    quoted: Vec<Quoted>,
    index: RuleIndex,
}

/// A rule's id, reason and approval requirement, as decisions hold them.
#[derive(Debug, Clone)]
struct Quoted {
    effect: Effect,
    id: Arc<str>,
    reason: Arc<str>,
    approval: Option<Arc<ApprovalRequirement>>,
}

impl Quoted {
    fn of(rule: &Rule) -> Self {
        Self {
            effect: rule.effect,
            id: Arc::from(rule.id.as_str()),
            reason: Arc::from(rule.reason.as_str()),
            approval: rule.approval.clone().map(Arc::new),
        }
    }
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
        let quoted = rules.iter().map(Quoted::of).collect();
        Self {
            rules,
            quoted,
            index,
        }
    }

    /// Every rule that matches or cannot be checked, in id order, found through the
    /// index.
    fn matching<'a>(
        &'a self,
        request: &'a PolicyRequest,
    ) -> impl Iterator<Item = (&'a Quoted, Truth)> {
        self.index
            .candidates(request.action.as_str(), &request.subject)
            .filter_map(|position| Some((self.rules.get(position)?, self.quoted.get(position)?)))
            .map(|(rule, quoted)| (quoted, rule.evaluate(request)))
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
fn combine<'a>(matching: impl Iterator<Item = (&'a Quoted, Truth)>) -> Decision {
    let mut hits = Hits::default();
    for (rule, truth) in matching {
        if let Some(class) = Class::of(rule.effect, truth) {
            hits.push(rule, class);
        }
    }
    let first = |class: Class| hits.iter().find(|(_, c)| *c == class).map(|(r, _)| r);

    let (effect, decider, winners): (_, _, fn(Class) -> bool) =
        if let Some(rule) = first(Class::SureDeny) {
            (Effect::Deny, rule, Class::denies)
        } else if let Some(rule) = first(Class::Unchecked) {
            (Effect::Deny, rule, Class::denies)
        } else if let Some(rule) = first(Class::Approval) {
            (Effect::RequireApproval, rule, |c| c == Class::Approval)
        } else if let Some(rule) = first(Class::Allow) {
            (Effect::Allow, rule, |c| c == Class::Allow)
        } else {
            return Decision::default_deny();
        };
    // a deny by a rule that could not be checked gives a fixed sentence, not its reason
    let reason = if effect == Effect::Deny && first(Class::SureDeny).is_none() {
        Decision::unchecked_reason()
    } else {
        Arc::clone(&decider.reason)
    };

    let ids = |keep: fn(Class) -> bool| -> Vec<Arc<str>> {
        let mut ids = Vec::with_capacity(hits.iter().filter(|(_, c)| keep(*c)).count());
        ids.extend(
            hits.iter()
                .filter(|(_, class)| keep(*class))
                .map(|(rule, _)| Arc::clone(&rule.id)),
        );
        ids
    };
    Decision {
        id: DecisionId::next(),
        effect,
        rule_id: Some(Arc::clone(&decider.id)),
        deciding: ids(winners),
        matched: ids(|_| true),
        explicit: true,
        reason,
        approval: if effect == Effect::RequireApproval {
            decider.approval.clone()
        } else {
            None
        },
    }
}

/// The rules that count, in id order: the first few on the stack, so that a typical
/// decision allocates only what it returns.
#[derive(Default)]
struct Hits<'a> {
    inline: [Option<(&'a Quoted, Class)>; 8],
    spill: Vec<(&'a Quoted, Class)>,
}

impl<'a> Hits<'a> {
    fn push(&mut self, rule: &'a Quoted, class: Class) {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some((rule, class)),
            None => self.spill.push((rule, class)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&'a Quoted, Class)> + '_ {
        self.inline
            .iter()
            .map_while(|slot| *slot)
            .chain(self.spill.iter().copied())
    }
}

/// How a rule that did not fail counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A deny rule that matched.
    SureDeny,
    /// A deny or approval rule that could not be checked: it counts as a deny.
    Unchecked,
    /// An approval rule that matched.
    Approval,
    /// An allow rule that matched.
    Allow,
}

impl Class {
    /// `None` for a rule that does not count: it failed, or it is an unchecked allow.
    fn of(effect: Effect, truth: Truth) -> Option<Self> {
        match (effect, truth) {
            (_, Truth::Fails) | (Effect::Allow, Truth::Unknown) => None,
            (_, Truth::Unknown) => Some(Self::Unchecked),
            (Effect::Deny, Truth::Holds) => Some(Self::SureDeny),
            (Effect::RequireApproval, Truth::Holds) => Some(Self::Approval),
            (Effect::Allow, Truth::Holds) => Some(Self::Allow),
        }
    }

    fn denies(self) -> bool {
        matches!(self, Self::SureDeny | Self::Unchecked)
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

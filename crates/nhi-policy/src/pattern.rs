//! Glob patterns for actions and resources, compiled once when rules are loaded.
//!
//! The dialect:
//! - `*` matches any run of characters except `/` (possibly empty);
//! - `**` (or any longer run of stars) matches any run of characters, `/` included;
//! - `?` matches exactly one character other than `/`;
//! - `\` makes the next character literal, so `\*` is a star; a trailing `\` is an error;
//! - everything else matches itself, and the pattern must match the whole text.
//!
//! Matching simulates the pattern as a small automaton, one step per character of the
//! text, so its cost is at most the text length times the pattern length: no pattern can
//! make it backtrack exponentially.

use std::fmt;
use std::str::FromStr;

use nhi_core::{Action, Resource};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{PolicyError, clip};

/// The longest pattern accepted, in bytes.
const MAX_PATTERN_LEN: usize = 2048;

/// A pattern over action names, such as `deployment.*` or `*`.
///
/// Actions compare case-insensitively, so the pattern is lowercased when it is compiled:
/// `Deployment.Restart` and `deployment.restart` are the same pattern. Actions never hold
/// `/`, so a lone `*` matches every action.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionPattern(Glob);

impl ActionPattern {
    /// Compiles an action pattern.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidPattern`] when the pattern is empty, too long, ends in a lone
    /// `\`, or holds a character that no action name can contain (actions use ASCII
    /// letters, digits, `.`, `_`, `-` and `:`).
    pub fn new(text: impl AsRef<str>) -> Result<Self, PolicyError> {
        let lowered = text.as_ref().to_lowercase();
        let glob = Glob::compile("action", &lowered)?;

        let fits_an_action = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | ':')
        };
        if !glob.literal_chars().all(fits_an_action) {
            return Err(PolicyError::InvalidPattern {
                what: "action",
                pattern: clip(text.as_ref()),
                reason: "no action could match it: actions use only ASCII letters, digits, \
                         `.`, `_`, `-` and `:`",
            });
        }
        Ok(Self(glob))
    }

    /// Whether the pattern matches the action.
    pub fn matches(&self, action: &Action) -> bool {
        self.0.matches(action.as_str())
    }

    /// The action this pattern names exactly, when it holds no wildcard.
    pub fn exact(&self) -> Option<&str> {
        self.0.literal.as_deref()
    }

    /// The pattern as written, lowercased.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }
}

/// A pattern over resources, such as `k8s:prod/**`, matched against the whole
/// `system:path` text, case-sensitively.
#[derive(Clone, PartialEq, Eq)]
pub struct ResourcePattern(Glob);

impl ResourcePattern {
    /// Compiles a resource pattern.
    ///
    /// # Errors
    ///
    /// [`PolicyError::InvalidPattern`] when the pattern is empty, too long, ends in a lone
    /// `\`, holds white space or control characters, or is plain text without the `:`
    /// that every resource has.
    pub fn new(text: impl AsRef<str>) -> Result<Self, PolicyError> {
        let text = text.as_ref();
        let fail = |reason| PolicyError::InvalidPattern {
            what: "resource",
            pattern: clip(text),
            reason,
        };

        let glob = Glob::compile("resource", text)?;
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("it holds white space or control characters"));
        }
        if glob
            .literal
            .as_deref()
            .is_some_and(|exact| !exact.contains(':'))
        {
            return Err(fail(
                "no resource could match it: write it as `system:path`, for example `k8s:prod/**`",
            ));
        }
        Ok(Self(glob))
    }

    /// Whether the pattern matches the resource.
    pub fn matches(&self, resource: &Resource) -> bool {
        self.0.matches(resource.as_str())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }
}

macro_rules! pattern_traits {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = PolicyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pattern_traits!(ActionPattern);
pattern_traits!(ResourcePattern);

/// One step of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// This exact character.
    Char(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    Globstar,
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    /// The pattern as written.
    text: String,
    tokens: Vec<Token>,
    /// The unescaped text when the pattern has no wildcard: matching is then equality.
    literal: Option<String>,
}

impl Glob {
    fn compile(what: &'static str, text: &str) -> Result<Self, PolicyError> {
        let fail = |reason| PolicyError::InvalidPattern {
            what,
            pattern: clip(text),
            reason,
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(fail("it is longer than 2048 bytes"));
        }

        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let token = match c {
                '\\' => match chars.next() {
                    Some(escaped) => Token::Char(escaped),
                    None => {
                        return Err(fail(
                            "it ends in a `\\` that escapes nothing: write `\\\\` for a backslash",
                        ));
                    }
                },
                '?' => Token::One,
                '*' if chars.peek() == Some(&'*') => {
                    while chars.next_if_eq(&'*').is_some() {}
                    Token::Globstar
                }
                '*' => Token::Star,
                other => Token::Char(other),
            };
            tokens.push(token);
        }

        let literal = tokens
            .iter()
            .map(|token| match token {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect::<Option<String>>();
        Ok(Self {
            text: text.to_owned(),
            tokens,
            literal,
        })
    }

    /// The characters the pattern requires literally.
    fn literal_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.tokens.iter().filter_map(|token| match token {
            Token::Char(c) => Some(*c),
            _ => None,
        })
    }

    /// Whether the pattern matches the whole text.
    fn matches(&self, text: &str) -> bool {
        if let Some(literal) = &self.literal {
            return literal == text;
        }

        // `active[i]` means: the text read so far can be matched by the first `i` tokens.
        let mut active = vec![false; self.tokens.len() + 1];
        let mut next = active.clone();
        mark(&mut active, 0);
        self.follow_stars(&mut active);

        for c in text.chars() {
            next.fill(false);
            self.step(&active, &mut next, c);
            self.follow_stars(&mut next);
            if !next.contains(&true) {
                return false;
            }
            std::mem::swap(&mut active, &mut next);
        }
        active.last().copied().unwrap_or(false)
    }

    /// Advances every active state over one character of the text.
    fn step(&self, active: &[bool], next: &mut [bool], c: char) {
        let states = self.tokens.iter().zip(active).enumerate();
        for (i, (token, _)) in states.filter(|(_, (_, on))| **on) {
            match token {
                Token::Char(expected) if *expected == c => mark(next, i + 1),
                Token::One if c != '/' => mark(next, i + 1),
                Token::Star if c != '/' => mark(next, i),
                Token::Globstar => mark(next, i),
                _ => {}
            }
        }
    }

    /// A star may match nothing: whoever stands before a star also stands after it.
    fn follow_stars(&self, states: &mut [bool]) {
        for (i, token) in self.tokens.iter().enumerate() {
            let here = states.get(i).copied().unwrap_or(false);
            if here && matches!(token, Token::Star | Token::Globstar) {
                mark(states, i + 1);
            }
        }
    }
}

fn mark(states: &mut [bool], i: usize) {
    if let Some(state) = states.get_mut(i) {
        *state = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn glob(text: &str) -> Glob {
        Glob::compile("resource", text).unwrap()
    }

    /// A direct recursive reading of the dialect, slow but obviously right.
    fn reference(tokens: &[Token], text: &[char]) -> bool {
        match (tokens.first(), text.first()) {
            (None, _) => text.is_empty(),
            (Some(Token::Star), _) => {
                reference(&tokens[1..], text)
                    || (text.first().is_some_and(|c| *c != '/') && reference(tokens, &text[1..]))
            }
            (Some(Token::Globstar), _) => {
                reference(&tokens[1..], text) || (!text.is_empty() && reference(tokens, &text[1..]))
            }
            (Some(_), None) => false,
            (Some(Token::One), Some(c)) => *c != '/' && reference(&tokens[1..], &text[1..]),
            (Some(Token::Char(p)), Some(c)) => p == c && reference(&tokens[1..], &text[1..]),
        }
    }

    #[test]
    fn single_star_stays_inside_one_segment() {
        let g = glob("k8s:prod/*");
        assert!(g.matches("k8s:prod/api"));
        assert!(g.matches("k8s:prod/"));
        assert!(!g.matches("k8s:prod/payments/api"));
    }

    #[test]
    fn double_star_crosses_segments() {
        let g = glob("k8s:prod/**");
        assert!(g.matches("k8s:prod/payments/api"));
        assert!(!g.matches("k8s:staging/api"));
        assert!(glob("**").matches("anything:at/all"));
        assert!(glob("k8s:***").matches("k8s:a/b"));
    }

    #[test]
    fn question_mark_is_one_non_slash_character() {
        let g = glob("db:orders-?");
        assert!(g.matches("db:orders-1"));
        assert!(!g.matches("db:orders-12"));
        assert!(!g.matches("db:orders-/"));
    }

    #[test]
    fn escapes_make_wildcards_literal() {
        let g = glob(r"db:a\*b");
        assert!(g.matches("db:a*b"));
        assert!(!g.matches("db:axb"));
        assert!(glob(r"db:a\\b").matches(r"db:a\b"));
        assert!(Glob::compile("resource", r"db:a\").is_err());
    }

    #[test]
    fn a_wildcard_in_the_middle_does_not_match_everything() {
        let g = glob("k8s:prod/*/api");
        assert!(g.matches("k8s:prod/payments/api"));
        assert!(!g.matches("k8s:prod/payments/db"));
        assert!(!g.matches("k8s:prod/a/b/api"));
        assert!(!g.matches("k8s:staging/payments/api"));
    }

    #[test]
    fn hostile_patterns_finish_without_backtracking() {
        let pattern = "*a".repeat(1000) + "b";
        let g = glob(&pattern);
        let text = "a".repeat(1000);
        assert!(!g.matches(&text));
        let g = glob(&"**a".repeat(600));
        assert!(g.matches(&"a".repeat(700)));
    }

    #[test]
    fn action_patterns_are_lowercased_and_checked() {
        let p = ActionPattern::new("Deployment.*").unwrap();
        assert_eq!(p.as_str(), "deployment.*");
        assert!(p.matches(&Action::new("DEPLOYMENT.RESTART").unwrap()));
        assert_eq!(
            ActionPattern::new("Health.Read").unwrap().exact(),
            Some("health.read")
        );
        assert!(ActionPattern::new("deployment restart").is_err());
        assert!(ActionPattern::new("").is_err());
    }

    #[test]
    fn resource_patterns_are_case_sensitive_and_checked() {
        let p = ResourcePattern::new("db:Orders").unwrap();
        assert!(!p.matches(&"db:orders".parse().unwrap()));
        assert!(ResourcePattern::new("prod/payments").is_err());
        assert!(ResourcePattern::new("k8s:prod api").is_err());
        assert!(ResourcePattern::new("k8s*").is_ok());
    }

    proptest! {
        #[test]
        fn automaton_agrees_with_the_reference(
            pattern in "[ab/*?]{0,8}",
            text in "[ab/]{0,10}",
        ) {
            prop_assume!(!pattern.is_empty());
            let g = glob(&pattern);
            let chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(g.matches(&text), reference(&g.tokens, &chars));
        }

        #[test]
        fn compiling_never_panics(pattern in "\\PC{0,40}") {
            let _ = ActionPattern::new(&pattern);
            let _ = ResourcePattern::new(&pattern);
        }
    }
}

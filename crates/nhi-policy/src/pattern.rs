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
        let glob = Glob::compile("action", &lowered)?.without_segments();

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
        match &self.0.shape {
            Shape::Literal(literal) => Some(literal),
            _ => None,
        }
    }

    /// The first dot-separated part of every action this pattern can match, when the
    /// pattern fixes it: `deployment` for `deployment.*`, none for `*.read` or `deploy*`.
    pub fn namespace(&self) -> Option<&str> {
        self.0
            .prefix
            .split_once('.')
            .map(|(namespace, _)| namespace)
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
        if let Shape::Literal(exact) = &glob.shape
            && !exact.contains(':')
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

/// Common pattern shapes that match without running the automaton.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No wildcard: matching is equality.
    Literal(String),
    /// One `*` or `**` between two literal texts (either may be empty): the text starts
    /// with `prefix`, ends with `suffix`, and what lies between holds no `/` unless
    /// `crosses`.
    Affix {
        /// The literal text before the wildcard.
        prefix: String,
        /// The literal text after the wildcard.
        suffix: String,
        /// Whether the wildcard is `**`.
        crosses: bool,
    },
    /// Anything else: run the automaton.
    General,
}

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    /// The pattern as written.
    text: String,
    tokens: Vec<Token>,
    shape: Shape,
    /// The unescaped literal text before the first wildcard.
    prefix: String,
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

        let prefix: String = tokens
            .iter()
            .map_while(|token| match token {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect();
        let shape = shape_of(&tokens, &prefix);
        Ok(Self {
            text: text.to_owned(),
            tokens,
            shape,
            prefix,
        })
    }

    /// The same pattern with every `*` read as `**`: for texts that never hold `/`, where
    /// both mean the same, this lets more patterns take a fast shape.
    fn without_segments(mut self) -> Self {
        for token in &mut self.tokens {
            if *token == Token::Star {
                *token = Token::Globstar;
            }
        }
        self.shape = shape_of(&self.tokens, &self.prefix);
        self
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
        match &self.shape {
            Shape::Literal(literal) => literal == text,
            Shape::Affix {
                prefix,
                suffix,
                crosses,
            } => affix_matches(
                text.as_bytes(),
                prefix.as_bytes(),
                suffix.as_bytes(),
                *crosses,
            ),
            Shape::General if self.tokens.len() < SMALL => self.matches_small(text),
            Shape::General => self.matches_large(text),
        }
    }

    /// The automaton with its states in the bits of one integer, for short patterns.
    fn matches_small(&self, text: &str) -> bool {
        // bit `i` means: the text read so far can be matched by the first `i` tokens.
        let mut active = self.close(1);
        for c in text.chars() {
            let mut next = 0_u128;
            for (i, token) in self.tokens.iter().enumerate() {
                if active & (1 << i) == 0 {
                    continue;
                }
                match token {
                    Token::Char(expected) if *expected == c => next |= 1 << (i + 1),
                    Token::One if c != '/' => next |= 1 << (i + 1),
                    Token::Star if c != '/' => next |= 1 << i,
                    Token::Globstar => next |= 1 << i,
                    _ => {}
                }
            }
            active = self.close(next);
            if active == 0 {
                return false;
            }
        }
        active & (1 << self.tokens.len()) != 0
    }

    /// A star may match nothing: whoever stands before a star also stands after it.
    fn close(&self, mut states: u128) -> u128 {
        for (i, token) in self.tokens.iter().enumerate() {
            if states & (1 << i) != 0 && matches!(token, Token::Star | Token::Globstar) {
                states |= 1 << (i + 1);
            }
        }
        states
    }

    /// The automaton with a state vector, for patterns too long for [`matches_small`].
    fn matches_large(&self, text: &str) -> bool {
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

/// Byte comparisons only: `str::strip_suffix` would build a substring searcher per call.
fn affix_matches(text: &[u8], prefix: &[u8], suffix: &[u8], crosses: bool) -> bool {
    let Some(end) = text.len().checked_sub(suffix.len()) else {
        return false;
    };
    let middle = text.get(prefix.len()..end);
    text.starts_with(prefix)
        && text.ends_with(suffix)
        && middle.is_some_and(|middle| crosses || !middle.contains(&b'/'))
}

/// Patterns with fewer tokens than this match with [`Glob::matches_small`].
const SMALL: usize = 127;

/// Recognises the shapes that match without the automaton.
fn shape_of(tokens: &[Token], prefix: &str) -> Shape {
    let literal_len = prefix.chars().count();
    let Some((wildcard, rest)) = tokens.get(literal_len..).and_then(<[Token]>::split_first) else {
        return Shape::Literal(prefix.to_owned());
    };
    let crosses = match wildcard {
        Token::Star => false,
        Token::Globstar => true,
        _ => return Shape::General,
    };
    let suffix: Option<String> = rest
        .iter()
        .map(|token| match token {
            Token::Char(c) => Some(*c),
            _ => None,
        })
        .collect();
    match suffix {
        Some(suffix) => Shape::Affix {
            prefix: prefix.to_owned(),
            suffix,
            crosses,
        },
        None => Shape::General,
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
    fn shapes_are_recognised() {
        let affix = |prefix: &str, suffix: &str, crosses| Shape::Affix {
            prefix: prefix.into(),
            suffix: suffix.into(),
            crosses,
        };
        assert_eq!(glob("**").shape, affix("", "", true));
        assert_eq!(glob("k8s:prod/**").shape, affix("k8s:prod/", "", true));
        assert_eq!(glob("k8s:prod/*").shape, affix("k8s:prod/", "", false));
        assert_eq!(glob("k8s:*/api").shape, affix("k8s:", "/api", false));
        assert_eq!(glob(r"db:a\*").shape, Shape::Literal("db:a*".into()));
        assert_eq!(glob("k8s:*/*").shape, Shape::General);
        assert_eq!(glob("db:?").shape, Shape::General);
        assert!(!glob("k8s:*/api").matches("k8s:a/b/api"));
        assert!(
            !glob("ab:*ba").matches("ab:a"),
            "prefix and suffix may not overlap"
        );
        let star = ActionPattern::new("*.read").unwrap();
        assert_eq!(star.0.shape, affix("", ".read", true));
        let action = ActionPattern::new("deployment.*").unwrap();
        assert_eq!(action.namespace(), Some("deployment"));
        assert_eq!(ActionPattern::new("*.read").unwrap().namespace(), None);
        assert_eq!(ActionPattern::new("deploy*").unwrap().namespace(), None);
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
            let expected = reference(&g.tokens, &chars);
            prop_assert_eq!(g.matches(&text), expected);
            prop_assert_eq!(g.matches_small(&text), expected);
            prop_assert_eq!(g.matches_large(&text), expected);
        }

        #[test]
        fn compiling_never_panics(pattern in "\\PC{0,40}") {
            let _ = ActionPattern::new(&pattern);
            let _ = ResourcePattern::new(&pattern);
        }
    }
}

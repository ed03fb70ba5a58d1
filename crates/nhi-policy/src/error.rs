//! The error type of this crate.

use std::io;
use std::path::{Path, PathBuf};

/// Why a policy could not be loaded.
///
/// Deciding never fails: a deny is a [`Decision`](crate::Decision), not an error. These
/// errors come only from loading rules, and each one says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy text is not valid TOML, or a rule in it is malformed.
    #[error("{}line {line}, column {column}: {message}", file_prefix(file.as_deref()))]
    Parse {
        /// The file the text came from, when it came from a file.
        file: Option<PathBuf>,
        /// The line of the offending text, counted from 1.
        line: usize,
        /// The column of the offending text, in characters, counted from 1.
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A rule built in code breaks the rules of the model.
    #[error("rule `{rule}`: {reason}")]
    InvalidRule {
        /// The id of the rule, shortened when very long.
        rule: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A glob pattern for actions or resources cannot be compiled.
    #[error("invalid {what} pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// Whether an action or a resource pattern was being compiled.
        what: &'static str,
        /// The rejected pattern, shortened when very long.
        pattern: String,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The policy file could not be read.
    #[error("cannot read policy file `{}`: {source}", path.display())]
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },
}

/// `policy file `x` ` when the text came from a file, `policy text ` otherwise.
fn file_prefix(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("policy file `{}`, ", path.display()),
        None => "policy text, ".to_owned(),
    }
}

/// Shortens user input kept in an error so that a hostile megabyte does not end up in logs.
pub(crate) fn clip(value: &str) -> String {
    nhi_core::shorten(value, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_file_when_there_is_one() {
        let err = PolicyError::Parse {
            file: Some(PathBuf::from("policy.toml")),
            line: 3,
            column: 9,
            message: "unknown field `efect`".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            "policy file `policy.toml`, line 3, column 9: unknown field `efect`"
        );
    }

    #[test]
    fn clip_keeps_char_boundaries() {
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.len() < 90);
        assert!(clipped.ends_with('…'));
    }
}

//! The error type of this crate.

use std::io;
use std::path::{Path, PathBuf};

/// Why a Cedar policy set could not be loaded.
///
/// Deciding never fails: a deny (including one caused by an evaluation error) is a
/// [`Decision`](nhi_policy::Decision). These errors come only from loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CedarPolicyError {
    /// The text is not valid Cedar.
    #[error("{}line {line}, column {column}: {message}", file_prefix(file.as_deref()))]
    Parse {
        /// The file the text came from, when it came from a file.
        file: Option<PathBuf>,
        /// The line of the first problem, counted from 1.
        line: usize,
        /// The column of the first problem, in characters, counted from 1.
        column: usize,
        /// What Cedar reported.
        message: String,
    },
    /// A policy's annotations do not say what this crate needs to know.
    #[error("{}policy number {position}: {message}", file_prefix(file.as_deref()))]
    Annotation {
        /// The file the text came from, when it came from a file.
        file: Option<PathBuf>,
        /// Which policy, counted from 1 in the order written.
        position: usize,
        /// What is wrong and how to fix it.
        message: String,
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

/// `policy file `x`, ` when the text came from a file, `cedar text, ` otherwise.
fn file_prefix(file: Option<&Path>) -> String {
    match file {
        Some(path) => format!("policy file `{}`, ", path.display()),
        None => "cedar text, ".to_owned(),
    }
}

//! The error type of this crate.

/// Why a value of the shared vocabulary could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A name or id did not follow the allowed form.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// Which kind of name was being parsed (for example "identity id").
        what: &'static str,
        /// The rejected input, shortened when very long.
        value: String,
        /// What is wrong and what form is expected.
        reason: &'static str,
    },
    /// A keyword (severity, risk tier, kind) was not one of the known values.
    #[error("unknown {what} `{value}`: expected one of {expected}")]
    UnknownKeyword {
        /// Which kind of keyword was being parsed.
        what: &'static str,
        /// The rejected input, shortened when very long.
        value: String,
        /// The accepted spellings.
        expected: &'static str,
    },
    /// A timestamp could not be read.
    #[error("invalid timestamp `{value}`: use RFC 3339, for example `2026-01-31T09:30:00Z`")]
    InvalidTimestamp {
        /// The rejected input, shortened when very long.
        value: String,
    },
    /// A duration could not be read.
    #[error(
        "invalid duration `{value}`: use a number and a unit, for example `5m`, `12h` or `90d`"
    )]
    InvalidDuration {
        /// The rejected input, shortened when very long.
        value: String,
    },
}

/// Shortens user input kept in an error so that a hostile megabyte does not end up in logs.
pub(crate) fn clip(value: &str) -> String {
    shorten(value, 80)
}

/// Shortens text to at most `max_bytes` (cut on a character boundary, with `…` added)
/// so that hostile input quoted in an error message or a log line stays small.
///
/// ```
/// assert_eq!(nhi_core::shorten("restart-agent", 80), "restart-agent");
/// assert_eq!(nhi_core::shorten("ééé", 3), "é…");
/// ```
pub fn shorten(value: &str, max_bytes: usize) -> String {
    if value.len() <= max_bytes {
        return value.to_owned();
    }
    let mut end = max_bytes;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", value.get(..end).unwrap_or_default())
}

//! Reading a [`QuotaPlan`] from TOML.
//!
//! Values are checked while they are read, so every error points at the line and
//! column of the value that is wrong.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::Deserialize;

use crate::breach::BreachPolicy;
use crate::error::LimitError;
use crate::plan::QuotaPlan;
use crate::quota::{Layer, Quota, SeverityCosts};

/// Reads a plan, turning any problem into [`LimitError::Config`].
pub(crate) fn parse(text: &str) -> Result<QuotaPlan, LimitError> {
    let file: PlanFile = toml::from_str(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| line_and_column(text, span.start));
        LimitError::Config {
            line,
            column,
            message: err.message().to_owned(),
        }
    })?;

    Ok(QuotaPlan {
        costs: file.costs,
        layers: file
            .layers
            .into_iter()
            .map(|(layer, entry)| (layer, entry.0))
            .collect(),
        breach: file.breach,
    })
}

/// The document as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    costs: SeverityCosts,
    #[serde(default)]
    breach: BreachPolicy,
    #[serde(default)]
    layers: BTreeMap<Layer, LayerEntry>,
}

/// A `[layers.NAME]` table, validated into a quota as it is read.
#[derive(Deserialize)]
#[serde(try_from = "LayerFile")]
struct LayerEntry(Quota);

/// A `[layers.NAME]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    rate: NonZeroU32,
    #[serde(with = "nhi_core::duration_text")]
    per: Duration,
    burst: Option<NonZeroU32>,
}

impl TryFrom<LayerFile> for LayerEntry {
    type Error = String;

    fn try_from(file: LayerFile) -> Result<Self, Self::Error> {
        let burst = file.burst.unwrap_or(file.rate);
        Quota::new(file.rate, file.per, burst)
            .map(LayerEntry)
            .map_err(|err| err.to_string())
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "ab\ncdé\nfg";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 4), (2, 2));
        assert_eq!(line_and_column(text, 8), (3, 1));
        assert_eq!(line_and_column(text, 6), (2, 3));
        assert_eq!(line_and_column(text, 7), (2, 4));
        assert_eq!(line_and_column(text, 999), (3, 3));
    }
}

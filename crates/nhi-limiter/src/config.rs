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

    let plan = QuotaPlan {
        costs: file.costs,
        layers: file
            .layers
            .into_iter()
            .map(|(layer, entry)| (layer, entry.0))
            .collect(),
        breach: file.breach,
        shadow: file.shadow,
    };
    check_costs_fit(&plan, text)?;
    Ok(plan)
}

/// Refuses a plan in which some severity costs more than a layer's burst: such a
/// request could never be allowed, and it is better said once at load than on every
/// request later.
fn check_costs_fit(plan: &QuotaPlan, text: &str) -> Result<(), LimitError> {
    let costs = &plan.costs;
    let severities = [
        ("read", costs.read),
        ("write", costs.write),
        ("destructive", costs.destructive),
    ];
    // the incident layer counts destructive actions one unit each, whatever they cost
    let charged = plan
        .layers
        .iter()
        .filter(|(layer, _)| **layer != Layer::Incident);
    for (layer, quota) in charged {
        let Some((name, cost)) = severities.iter().find(|(_, cost)| *cost > quota.burst()) else {
            continue;
        };
        let header = format!("[layers.{layer}]");
        let (line, column) = line_and_column(text, text.find(&header).unwrap_or(0));
        return Err(LimitError::Config {
            line,
            column,
            message: format!(
                "a {name} action costs {cost} units but the {layer} layer's burst is {}, so it \
                 could never be allowed: lower the cost or raise the burst",
                quota.burst()
            ),
        });
    }
    Ok(())
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
    #[serde(default)]
    shadow: bool,
}

/// A `[layers.NAME]` table, validated into a quota as it is read.
#[derive(Deserialize)]
#[serde(try_from = "LayerFile")]
struct LayerEntry(Quota);

/// A `[layers.NAME]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    rate: Option<NonZeroU32>,
    #[serde(default, with = "optional_duration")]
    per: Option<Duration>,
    burst: Option<NonZeroU32>,
    #[serde(default)]
    once: bool,
}

impl TryFrom<LayerFile> for LayerEntry {
    type Error = String;

    fn try_from(file: LayerFile) -> Result<Self, Self::Error> {
        match file {
            LayerFile {
                once: true,
                rate: None,
                per: None,
                burst: None,
            } => Ok(LayerEntry(Quota::once())),
            LayerFile { once: true, .. } => {
                Err("`once = true` stands alone: remove `rate`, `per` and `burst`".into())
            }
            LayerFile {
                rate: Some(rate),
                per: Some(per),
                burst,
                ..
            } => Quota::new(rate, per, burst.unwrap_or(rate))
                .map(LayerEntry)
                .map_err(|err| err.to_string()),
            _ => Err("a layer needs `rate` and `per` (and optionally `burst`), \
                      or `once = true`"
                .into()),
        }
    }
}

/// An optional duration written as text, such as `"1s"`.
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(deserializer)?;
        nhi_core::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
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
    fn a_cost_above_a_burst_is_refused_at_load() {
        let text = "[costs]\ndestructive = 1000\n\n[layers.identity]\nrate = 20\nper = \"1s\"\nburst = 40\n";
        let err = parse(text).unwrap_err();
        match err {
            LimitError::Config { line, message, .. } => {
                assert_eq!(line, 4, "points at the layer");
                assert!(
                    message.contains("destructive") && message.contains("40"),
                    "{message}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            parse("[costs]\ndestructive = 40\n[layers.identity]\nrate = 20\nper = \"1s\"\nburst = 40\n").is_ok()
        );
    }

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

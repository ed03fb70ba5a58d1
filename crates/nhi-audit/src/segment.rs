//! Segment files of a rotated log: `audit.jsonl` is the first, `audit.jsonl.000002` the
//! second, and so on.

use std::path::{Path, PathBuf};

use crate::chain::io_error;
use crate::error::AuditError;

/// The path of segment `index` (1-based) of the log whose first segment is `base`.
pub(crate) fn segment_path(base: &Path, index: u32) -> PathBuf {
    if index <= 1 {
        return base.to_owned();
    }
    let mut name = base.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{index:06}"));
    base.with_file_name(name)
}

/// The segments after the first that exist beside `base`, in order, with their index.
pub(crate) fn later_segments(base: &Path) -> Result<Vec<(u32, PathBuf)>, AuditError> {
    let Some(name) = base.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match base.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|source| io_error("list", &dir, source))?;

    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| io_error("list", &dir, source))?;
        let file_name = entry.file_name();
        let Some(index) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|digits| digits.len() >= 6 && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|&index| index >= 2)
        else {
            continue;
        };
        found.push((index, entry.path()));
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_named_and_listed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("audit.jsonl");
        assert_eq!(segment_path(&base, 1), base);
        assert_eq!(
            segment_path(&base, 12),
            dir.path().join("audit.jsonl.000012")
        );
        for name in [
            "audit.jsonl",
            "audit.jsonl.000010",
            "audit.jsonl.000002",
            "audit.jsonl.bak",
            "audit.jsonl.12",
            "other.jsonl.000003",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let listed: Vec<u32> = later_segments(&base)
            .unwrap()
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(listed, vec![2, 10]);
    }
}

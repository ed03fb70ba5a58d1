//! The shared corpus of test vectors, run against the built-in engine. The Cedar adapter
//! runs the same files with their Cedar text; both must give the expected decisions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "vectors/mod.rs"]
mod vectors;

use nhi_policy::RuleSet;

#[test]
fn the_built_in_engine_gives_every_expected_decision() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for (path, file) in vectors::load_all() {
        let engine = RuleSet::from_toml_str(&file.policy)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        cases += file.cases.len();
        failures.extend(vectors::run(&engine, &path, &file));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 30, "only {cases} cases");
}

//! The shared corpus of test vectors (kept with the built-in engine), run with each
//! file's Cedar text through the adapter. Both engines must give the expected decisions,
//! so they agree with each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../nhi-policy/tests/vectors/mod.rs"]
mod vectors;

use nhi_policy::{PolicyEngine, RuleSet};
use nhi_policy_cedar::CedarPolicy;

#[test]
fn the_cedar_adapter_gives_every_expected_decision() {
    let mut failures = Vec::new();
    for (path, file) in vectors::load_all() {
        let engine = CedarPolicy::from_cedar_str(&file.cedar)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        failures.extend(vectors::run(&engine, &path, &file));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn both_engines_name_the_same_rules() {
    for (path, file) in vectors::load_all() {
        let cedar = CedarPolicy::from_cedar_str(&file.cedar).unwrap();
        let ours = RuleSet::from_toml_str(&file.policy).unwrap();
        let mut cedar_ids: Vec<&str> = cedar.rule_ids().collect();
        cedar_ids.sort_unstable();
        let our_ids: Vec<&str> = ours.rules().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(cedar_ids, our_ids, "{}", path.display());
        for case in &file.cases {
            let request = case.request.build();
            let (a, b) = (ours.decide(&request), cedar.decide(&request));
            assert_eq!(
                (
                    a.effect,
                    a.explicit,
                    &a.deciding,
                    &a.rule_id,
                    &a.approval,
                    &a.reason
                ),
                (
                    b.effect,
                    b.explicit,
                    &b.deciding,
                    &b.rule_id,
                    &b.approval,
                    &b.reason
                ),
                "{} / {}",
                path.display(),
                case.name
            );
        }
    }
}

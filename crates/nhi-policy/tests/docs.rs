//! Every policy example in `docs/policy.md` loads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nhi_policy::RuleSet;

#[test]
fn the_guide_examples_load() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md");
    let Ok(guide) = std::fs::read_to_string(path) else {
        println!("skipped: {path} is not present");
        return;
    };
    let mut examples = 0;
    for block in guide.split("```toml").skip(1) {
        let text = block.split("```").next().unwrap();
        if text.contains("[[rules]]") {
            RuleSet::from_toml_str(text).unwrap_or_else(|err| panic!("{err}\n{text}"));
            examples += 1;
        }
    }
    assert!(examples >= 8, "only {examples} examples found");
}

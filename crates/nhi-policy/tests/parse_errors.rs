//! Malformed policy text is refused at load, with the line and column of the problem.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use nhi_policy::{PolicyError, RuleSet};

const GOOD: &str = r#"
[[rules]]
id = "ok"
effect = "allow"
reason = "fine"
actions = ["health.read"]
resources = ["k8s:prod/**"]
"#;

/// Loads `GOOD` followed by `bad`, expecting an error on `line` that mentions `needle`.
fn refused(bad: &str, line: usize, needle: &str) -> PolicyError {
    let text = format!("{GOOD}{bad}");
    let err = RuleSet::from_toml_str(&text).expect_err("the policy should be refused");
    let PolicyError::Parse {
        line: got,
        column,
        ref message,
        ref file,
    } = err
    else {
        panic!("expected a parse error, got {err:?}");
    };
    assert!(file.is_none());
    assert!(column >= 1);
    assert!(message.contains(needle), "`{needle}` not in: {message}");
    assert_eq!(got, line, "wrong line for: {message}");
    err
}

#[test]
fn unknown_keys_are_refused() {
    let bad = "[[rules]]\nid = \"x\"\neffect = \"allow\"\nreason = \"r\"\n\
               actions = [\"*\"]\nresources = [\"**\"]\nteam = [\"sre\"]\n";
    // `GOOD` takes lines 1-7; the new rule starts on line 8 and `team` is on line 14.
    refused(bad, 14, "team");
}

#[test]
fn unknown_effects_are_refused() {
    let bad = "[[rules]]\nid = \"x\"\neffect = \"permit\"\nreason = \"r\"\n\
               actions = [\"*\"]\nresources = [\"**\"]\n";
    refused(bad, 10, "permit");
}

#[test]
fn a_missing_id_is_refused() {
    let bad =
        "[[rules]]\neffect = \"allow\"\nreason = \"r\"\nactions = [\"*\"]\nresources = [\"**\"]\n";
    let err = RuleSet::from_toml_str(&format!("{GOOD}{bad}")).unwrap_err();
    assert!(
        err.to_string().contains("required key `id` is missing"),
        "{err}"
    );
}

#[test]
fn duplicate_ids_are_refused_with_both_places() {
    let err = refused(GOOD, 10, "already used on line 3");
    assert!(
        err.to_string().starts_with("policy text, line 10, column"),
        "{err}"
    );
}

#[test]
fn empty_pattern_lists_are_refused() {
    let bad = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
               actions = []\nresources = [\"**\"]\n";
    refused(bad, 12, "`actions` is empty");
    let bad = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
               actions = [\"*\"]\nresources = []\n";
    refused(bad, 13, "`resources` is empty");
}

#[test]
fn empty_principal_lists_are_refused() {
    let bad = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
               actions = [\"*\"]\nresources = [\"**\"]\nteams = []\n";
    refused(bad, 14, "`teams` is empty");
}

#[test]
fn approval_tables_must_match_the_effect() {
    let needs = "[[rules]]\nid = \"x\"\neffect = \"require-approval\"\nreason = \"r\"\n\
                 actions = [\"*\"]\nresources = [\"**\"]\n";
    refused(needs, 8, "needs a `[rules.approval]`");

    let stray = "[[rules]]\nid = \"x\"\neffect = \"allow\"\nreason = \"r\"\n\
                 actions = [\"*\"]\nresources = [\"**\"]\n\
                 [rules.approval]\napprovers = [\"sre\"]\nscope = \"once\"\n";
    refused(stray, 8, "only `require-approval` rules");

    let bad_scope = "[[rules]]\nid = \"x\"\neffect = \"require-approval\"\nreason = \"r\"\n\
                     actions = [\"*\"]\nresources = [\"**\"]\n\
                     [rules.approval]\napprovers = [\"sre\"]\nscope = \"forever\"\n";
    refused(bad_scope, 16, "forever");
}

#[test]
fn bad_keywords_are_refused() {
    let kind = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                actions = [\"*\"]\nresources = [\"**\"]\nkinds = [\"robot\"]\n";
    refused(kind, 14, "robot");
    let tier = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                actions = [\"*\"]\nresources = [\"**\"]\nrisk_tiers = [\"extreme\"]\n";
    refused(tier, 14, "extreme");
    let team = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                actions = [\"*\"]\nresources = [\"**\"]\nteams = [\"SRE\"]\n";
    refused(team, 14, "lowercase");
}

#[test]
fn bad_patterns_are_refused() {
    let dangling = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                    actions = [\"*\"]\nresources = ['k8s:prod\\']\n";
    refused(dangling, 13, "escapes nothing");
    let spaced = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                  actions = [\"deployment restart\"]\nresources = [\"**\"]\n";
    refused(spaced, 12, "no action could match");
    let no_system = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \"r\"\n\
                     actions = [\"*\"]\nresources = [\"prod/payments\"]\n";
    refused(no_system, 13, "system:path");
}

#[test]
fn bad_ids_and_blank_reasons_are_refused() {
    let id = "[[rules]]\nid = \"has space\"\neffect = \"deny\"\nreason = \"r\"\n\
              actions = [\"*\"]\nresources = [\"**\"]\n";
    refused(id, 8, "rule id");
    let reason = "[[rules]]\nid = \"x\"\neffect = \"deny\"\nreason = \" \"\n\
                  actions = [\"*\"]\nresources = [\"**\"]\n";
    refused(reason, 8, "`reason` is empty");
}

#[test]
fn broken_toml_is_refused_with_its_position() {
    refused("[[rules]\nid = 1\n", 8, "");
    refused("[[rules]]\nid = \"x\"\neffect = allow\n", 10, "");
}

#[test]
fn unknown_top_level_keys_are_refused() {
    refused("version = 2\n", 8, "version");
}

#[test]
fn an_empty_policy_denies_everything() {
    assert!(RuleSet::from_toml_str("").unwrap().is_empty());
    assert!(
        RuleSet::from_toml_str("# nothing yet\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken-policy.toml");
    std::fs::write(&path, format!("{GOOD}{GOOD}")).unwrap();

    let err = RuleSet::from_file(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken-policy.toml"), "{text}");
    assert!(text.contains("line 10"), "{text}");

    std::fs::write(&path, GOOD).unwrap();
    assert_eq!(RuleSet::from_file(&path).unwrap().len(), 1);

    let missing = RuleSet::from_file(dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(missing, PolicyError::Read { .. }));
    assert!(missing.to_string().contains("absent.toml"), "{missing}");
}

#[test]
fn hostile_text_is_refused_without_panicking() {
    for text in [
        "[[rules]]\n".repeat(10_000),
        "[".repeat(100_000),
        "a = ".to_owned() + &"[".repeat(10_000),
        "\u{0}\u{feff}💥".to_owned(),
        format!("{GOOD}labels = {{ a = {{ b = 1 }} }}"),
    ] {
        assert!(RuleSet::from_toml_str(&text).is_err());
    }
}

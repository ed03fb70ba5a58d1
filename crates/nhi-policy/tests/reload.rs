//! Reloading a policy while it serves: a good file replaces the rules atomically, a bad
//! one keeps the old rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use nhi_core::Severity;
use nhi_policy::{Effect, PolicyEngine, ReloadablePolicy, RuleSet};

use common::{ask, rule_toml, sre_agent};

fn restart() -> nhi_policy::PolicyRequest {
    ask(
        sre_agent(),
        "deployment.restart",
        "k8s:prod/api",
        Severity::Destructive,
    )
}

fn write(path: &std::path::Path, effect: &str) {
    let text = rule_toml(
        "restarts",
        effect,
        r#"["deployment.restart"]"#,
        r#"["**"]"#,
        "",
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_good_file_replaces_the_rules_and_a_bad_one_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    write(&path, "allow");
    let policy = ReloadablePolicy::new(RuleSet::from_file(&path).unwrap());
    assert!(policy.decide(&restart()).is_allowed());

    write(&path, "deny");
    assert_eq!(policy.reload_file(&path).unwrap(), 1);
    assert_eq!(policy.decide(&restart()).effect, Effect::Deny);

    std::fs::write(&path, "[[rules]]\nid = \"half written").unwrap();
    let err = policy.reload_file(&path).unwrap_err().to_string();
    assert!(err.contains("policy.toml"), "{err}");
    assert_eq!(policy.generation(), 1);
    assert_eq!(
        policy.decide(&restart()).rule_id.as_deref(),
        Some("restarts")
    );
    assert_eq!(
        policy.decide(&restart()).effect,
        Effect::Deny,
        "old rules stay"
    );

    assert!(policy.reload_file(dir.path().join("missing.toml")).is_err());
    assert_eq!(policy.generation(), 1);
}

#[test]
fn a_decision_in_flight_keeps_the_rules_it_started_with() {
    let policy = ReloadablePolicy::new(
        RuleSet::from_toml_str(&rule_toml(
            "restarts",
            "allow",
            r#"["deployment.restart"]"#,
            r#"["**"]"#,
            "",
        ))
        .unwrap(),
    );
    let held = policy.current();
    policy.replace(RuleSet::default());
    assert!(held.decide(&restart()).is_allowed());
    assert!(!policy.decide(&restart()).is_allowed());
}

#[test]
fn readers_see_one_whole_policy_or_the_other_while_it_is_swapped() {
    let allow = rule_toml(
        "a-allow",
        "allow",
        r#"["deployment.restart"]"#,
        r#"["**"]"#,
        "",
    );
    let deny = rule_toml(
        "b-deny",
        "deny",
        r#"["deployment.restart"]"#,
        r#"["**"]"#,
        "",
    );
    let both = RuleSet::from_toml_str(&format!("{allow}{deny}")).unwrap();
    let only_allow = RuleSet::from_toml_str(&allow).unwrap();
    let policy = Arc::new(ReloadablePolicy::new(only_allow.clone()));

    let reader = {
        let policy = Arc::clone(&policy);
        std::thread::spawn(move || {
            for _ in 0..2000 {
                let decision = policy.decide(&restart());
                let whole = match decision.effect {
                    Effect::Allow => common::ids(&decision.matched) == ["a-allow"],
                    Effect::Deny => common::ids(&decision.matched) == ["a-allow", "b-deny"],
                    Effect::RequireApproval => false,
                };
                assert!(whole, "{decision:?}");
            }
        })
    };
    for i in 0..200 {
        let next = if i % 2 == 0 {
            both.clone()
        } else {
            only_allow.clone()
        };
        policy.replace(next);
    }
    reader.join().unwrap();
    assert_eq!(policy.generation(), 200);
}

//! Reading quota plans from TOML, and refusing bad ones with a line and column.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::num::NonZeroU32;
use std::time::Duration;

use nhi_limiter::{BreachPolicy, Layer, LimitError, Quota, QuotaPlan, SeverityCosts};

const FULL: &str = r#"
[costs]
read = 1
write = 5
destructive = 20

[breach]
rejections = 5
window = "60s"

[layers.identity]
rate = 10        # units
per = "1s"
burst = 20

[layers.endpoint]
rate = 100
per = "1s"
burst = 100

[layers.incident-class]
rate = 60
per = "1m"
"#;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// The line and column of a config error, or a panic naming what came back.
fn position(text: &str) -> (usize, usize, String) {
    match QuotaPlan::from_toml_str(text) {
        Err(LimitError::Config {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn the_documented_format_is_read() {
    let plan = QuotaPlan::from_toml_str(FULL).unwrap();
    assert_eq!(plan.costs, SeverityCosts::default());
    assert_eq!(plan.breach, BreachPolicy::default());

    let identity = plan.layers[&Layer::Identity];
    assert_eq!(identity.interval(), Duration::from_millis(100));
    assert_eq!(identity.burst(), 20);
    assert_eq!(plan.layers[&Layer::Endpoint], Quota::per_second(nz(100)));
    assert_eq!(
        plan.layers[&Layer::IncidentClass],
        Quota::per_minute(nz(60))
    );
    assert_eq!(plan.layers.len(), 3);
}

#[test]
fn sections_may_be_left_out() {
    let plan = QuotaPlan::from_toml_str("").unwrap();
    assert_eq!(plan, QuotaPlan::new());

    let plan = QuotaPlan::from_toml_str("[costs]\nwrite = 2\n").unwrap();
    assert_eq!(plan.costs.write, 2);
    assert_eq!(plan.costs.read, 1);
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let (line, column, message) =
        position("[layers.identity]\nrate = 1\nper = \"1s\"\nbrust = 2\n");
    assert_eq!((line, column), (4, 1));
    assert!(message.contains("brust"), "{message}");

    let (line, _, message) = position("[costs]\nread = 1\nexecute = 9\n");
    assert_eq!(line, 3);
    assert!(message.contains("execute"), "{message}");

    let (line, _, _) = position("[breach]\nrejections = 2\nwindow = \"1s\"\nsilent = true\n");
    assert_eq!(line, 4);

    let (line, _, message) = position("[limits]\nrate = 1\n");
    assert_eq!(line, 1);
    assert!(message.contains("limits"), "{message}");
}

#[test]
fn an_unknown_layer_is_refused() {
    let (line, _, message) = position("\n\n[layers.region]\nrate = 1\nper = \"1s\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("region"), "{message}");
}

#[test]
fn out_of_range_values_are_refused_where_they_are_written() {
    let (line, _, _) = position("[layers.identity]\nrate = 0\nper = \"1s\"\n");
    assert_eq!(line, 2);

    let (line, _, _) = position("[layers.identity]\nrate = 1\nper = \"1s\"\nburst = 0\n");
    assert_eq!(line, 4);

    let (line, _, _) = position("[layers.identity]\nrate = -5\nper = \"1s\"\n");
    assert_eq!(line, 2);

    let (line, _, message) = position("[layers.identity]\nrate = 1\nper = \"soon\"\n");
    assert_eq!(line, 3);
    assert!(message.contains("soon"), "{message}");

    let (line, _, _) = position("[breach]\nrejections = 0\nwindow = \"1s\"\n");
    assert_eq!(line, 2);

    let (line, _, _) = position("[costs]\nread = 99999999999\n");
    assert_eq!(line, 2);
}

#[test]
fn quotas_that_cannot_be_enforced_are_refused() {
    let (line, _, message) = position("\n[layers.tenant]\nrate = 5\nper = \"0s\"\n");
    assert!((2..=4).contains(&line), "line {line}");
    assert!(message.contains("zero"), "{message}");

    let (_, _, message) = position("[layers.tenant]\nrate = 4000000000\nper = \"1s\"\n");
    assert!(message.contains("nanosecond"), "{message}");
}

#[test]
fn missing_fields_are_named() {
    let (_, _, message) = position("[layers.identity]\nrate = 10\n");
    assert!(message.contains("per"), "{message}");
}

#[test]
fn malformed_toml_is_refused_with_a_position() {
    let (line, column, _) = position("[costs]\nread = = 1\n");
    assert_eq!(line, 2);
    assert!(column > 1);

    let (line, _, _) = position("[costs\n");
    assert_eq!(line, 1);

    let err = QuotaPlan::from_toml_str("[costs]\nread = \"one\"\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid quota plan at line 2, column"),
        "{err}"
    );
}

#[test]
fn hostile_input_does_not_panic() {
    let inputs = [
        "\u{0}",
        "[layers.identity]\nrate = 1\nper = \"99999999999999999999999s\"\n",
        "[layers]\nidentity = 3\n",
        "layers = []",
        &"[".repeat(10_000),
        "[breach]\nwindow = \"1s\"\n",
        "é = 1",
    ];
    for input in inputs {
        assert!(
            QuotaPlan::from_toml_str(input).is_err(),
            "accepted {input:?}"
        );
    }
}

//! Conditions on a request's context (`[rules.when]`), decided in three-valued logic: a
//! condition holds, fails, or cannot be checked because the context lacks (or mistypes)
//! what it needs.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use nhi_core::Timestamp;
use serde::{Deserialize, Deserializer};

use crate::request::{ContextValue, RequestContext};

/// Seconds in a day.
const DAY_SECS: u64 = 86_400;

/// The answer of a condition, or of a whole rule, for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// It holds.
    Holds,
    /// It does not hold.
    Fails,
    /// It cannot be checked: the context lacks a value it needs, or holds one of the
    /// wrong type. A deny rule counts this against the request; an allow rule grants
    /// nothing on it.
    Unknown,
}

impl Truth {
    /// Both at once: any failure fails; otherwise any unknown is unknown.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Fails, _) | (_, Self::Fails) => Self::Fails,
            (Self::Unknown, _) | (_, Self::Unknown) => Self::Unknown,
            (Self::Holds, Self::Holds) => Self::Holds,
        }
    }

    /// `Holds` for true, `Fails` for false.
    pub fn from_bool(value: bool) -> Self {
        if value { Self::Holds } else { Self::Fails }
    }
}

/// Conditions on a request's context (`[rules.when]` in a policy file). Every condition
/// left at its default does not look at the context; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// `Some(true)`: an incident id must be present; `Some(false)`: it must be absent.
    pub incident: Option<bool>,
    /// The same for a workflow id.
    pub workflow: Option<bool>,
    /// The same for a (non-blank) change ticket.
    pub change_ticket: Option<bool>,
    /// A daily window of UTC time, such as `08:00-18:00`, that the request time must fall in.
    pub hours: Option<DailyWindow>,
    /// The UTC weekdays the request time must fall on; empty does not look.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// The request time must not be earlier than this.
    pub not_before: Option<Timestamp>,
    /// The request time must not be later than this.
    pub not_after: Option<Timestamp>,
    /// The credential must have been issued at most this long ago, such as `15m`.
    #[serde(default, deserialize_with = "optional_duration")]
    pub max_token_age: Option<Duration>,
    /// The workflow's state must be one of these; empty does not look.
    #[serde(default)]
    pub workflow_states: Vec<String>,
    /// Tests on the request's named attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeTest>,
}

impl Conditions {
    /// Whether the context satisfies every condition, unknowns counting as failures.
    pub fn holds(&self, context: &RequestContext) -> bool {
        self.evaluate(context) == Truth::Holds
    }

    /// The three-valued answer for the context.
    pub fn evaluate(&self, context: &RequestContext) -> Truth {
        let mut truth = presence(self.incident, context.incident.is_some())
            .and(presence(self.workflow, context.workflow.is_some()))
            .and(presence(
                self.change_ticket,
                context.present_change_ticket().is_some(),
            ));
        if truth == Truth::Fails {
            return truth;
        }
        truth = truth.and(self.time_truth(context.time));
        truth = truth.and(self.token_age_truth(context.token_age));
        if !self.workflow_states.is_empty() {
            truth = truth.and(match &context.workflow_state {
                Some(state) => Truth::from_bool(self.workflow_states.contains(state)),
                None => Truth::Unknown,
            });
        }
        for (key, test) in &self.attributes {
            truth = truth.and(test.evaluate(context.attributes.get(key)));
        }
        truth
    }

    /// Checks what serde cannot: non-empty lists, an ordered time range, attribute names.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let (Some(from), Some(until)) = (self.not_before, self.not_after)
            && from > until
        {
            return Err("`not_before` is later than `not_after`, so the rule never matches".into());
        }
        if self.workflow_states.iter().any(|s| s.trim().is_empty()) {
            return Err("a workflow state in `workflow_states` is blank".into());
        }
        for (key, test) in &self.attributes {
            check_attribute_name(key)?;
            test.check(key)?;
        }
        Ok(())
    }

    fn time_truth(&self, time: Option<Timestamp>) -> Truth {
        let looks = self.hours.is_some()
            || !self.weekdays.is_empty()
            || self.not_before.is_some()
            || self.not_after.is_some();
        if !looks {
            return Truth::Holds;
        }
        let Some(time) = time else {
            return Truth::Unknown;
        };
        let in_hours = self.hours.is_none_or(|window| window.contains(time));
        let on_day = self.weekdays.is_empty() || self.weekdays.contains(&Weekday::of(time));
        let after = self.not_before.is_none_or(|from| time >= from);
        let before = self.not_after.is_none_or(|until| time <= until);
        Truth::from_bool(in_hours && on_day && after && before)
    }

    fn token_age_truth(&self, age: Option<Duration>) -> Truth {
        match (self.max_token_age, age) {
            (None, _) => Truth::Holds,
            (Some(_), None) => Truth::Unknown,
            (Some(max), Some(age)) => Truth::from_bool(age <= max),
        }
    }
}

/// A daily window of UTC time, written `HH:MM-HH:MM`: the start is included, the end is
/// not. A window whose end is earlier than its start runs past midnight (`22:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyWindow {
    /// Minutes after midnight when the window opens.
    pub start_minute: u16,
    /// Minutes after midnight when the window closes.
    pub end_minute: u16,
}

impl DailyWindow {
    /// Whether the time of day of `time` (UTC) falls inside the window.
    pub fn contains(self, time: Timestamp) -> bool {
        let minute = minute_of_day(time);
        let (start, end) = (self.start_minute, self.end_minute);
        if start < end {
            start <= minute && minute < end
        } else {
            minute >= start || minute < end
        }
    }
}

impl FromStr for DailyWindow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!("`{text}` is not a daily window: write `HH:MM-HH:MM`, such as `08:00-18:00`")
        };
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start_minute = parse_clock(start.trim()).ok_or_else(bad)?;
        let end_minute = parse_clock(end.trim()).ok_or_else(bad)?;
        if start_minute == end_minute {
            return Err(format!(
                "the window `{text}` is empty: its start equals its end"
            ));
        }
        Ok(Self {
            start_minute,
            end_minute,
        })
    }
}

impl fmt::Display for DailyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.start_minute, self.end_minute);
        write!(f, "{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

impl<'de> Deserialize<'de> for DailyWindow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A day of the week, written `mon` to `sun` in policy files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// The UTC weekday of a time.
    pub fn of(time: Timestamp) -> Self {
        // 1970-01-01 was a Thursday.
        match (time.unix_secs() / DAY_SECS + 3) % 7 {
            0 => Self::Mon,
            1 => Self::Tue,
            2 => Self::Wed,
            3 => Self::Thu,
            4 => Self::Fri,
            5 => Self::Sat,
            _ => Self::Sun,
        }
    }
}

/// A test on one named attribute of the request (`[rules.when.attributes]`). A missing
/// attribute, or one of another type than the test expects, makes the test unknown.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributeTest {
    /// The attribute equals this value, of the same type.
    Equals(ContextValue),
    /// The text attribute is one of these.
    OneOf(Vec<String>),
    /// Every value of the list attribute is one of these ("for all values").
    AllIn(Vec<String>),
    /// Some value of the list attribute is one of these ("for any value").
    AnyIn(Vec<String>),
    /// The number attribute is at least this.
    AtLeast(i64),
    /// The number attribute is at most this.
    AtMost(i64),
}

impl AttributeTest {
    /// The test's answer for the attribute's value, if there is one.
    pub fn evaluate(&self, value: Option<&ContextValue>) -> Truth {
        use ContextValue as V;
        let Some(value) = value else {
            return Truth::Unknown;
        };
        let answer = match (self, value) {
            (Self::Equals(expected), actual) if same_type(expected, actual) => expected == actual,
            (Self::OneOf(set), V::Text(text)) => set.contains(text),
            (Self::AllIn(set), V::List(items)) => items.iter().all(|item| set.contains(item)),
            (Self::AnyIn(set), V::List(items)) => items.iter().any(|item| set.contains(item)),
            (Self::AtLeast(bound), V::Number(n)) => n >= bound,
            (Self::AtMost(bound), V::Number(n)) => n <= bound,
            _ => return Truth::Unknown,
        };
        Truth::from_bool(answer)
    }

    fn check(&self, key: &str) -> Result<(), String> {
        match self {
            Self::OneOf(set) | Self::AnyIn(set) if set.is_empty() => Err(format!(
                "the test on attribute `{key}` has an empty list, so it never holds"
            )),
            Self::Equals(ContextValue::List(_)) => Err(format!(
                "attribute `{key}`: `equals` takes a text, number or boolean; use `all_in` \
                 or `any_in` for lists"
            )),
            _ => Ok(()),
        }
    }
}

/// Presence conditions: `Some(true)` wants it present, `Some(false)` absent.
fn presence(condition: Option<bool>, present: bool) -> Truth {
    Truth::from_bool(condition.is_none_or(|wanted| wanted == present))
}

fn same_type(a: &ContextValue, b: &ContextValue) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Minutes after midnight, UTC.
fn minute_of_day(time: Timestamp) -> u16 {
    u16::try_from(time.unix_secs() % DAY_SECS / 60).unwrap_or(0)
}

/// `HH:MM` as minutes after midnight.
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let all_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Attribute names are what a Cedar record key can be without quoting.
fn check_attribute_name(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && key.len() <= 64 {
        return Ok(());
    }
    Err(format!(
        "attribute name `{}` must start with a letter and hold only ASCII letters, digits \
         and `_` (at most 64)",
        crate::error::clip(key)
    ))
}

fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    nhi_core::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn windows_parse_and_wrap_past_midnight() {
        let day: DailyWindow = "08:00-18:00".parse().unwrap();
        assert!(day.contains(at("2026-03-02T08:00:00Z")));
        assert!(!day.contains(at("2026-03-02T18:00:00Z")));
        let night: DailyWindow = "22:00-06:00".parse().unwrap();
        assert!(night.contains(at("2026-03-02T23:30:00Z")));
        assert!(night.contains(at("2026-03-02T05:59:00Z")));
        assert!(!night.contains(at("2026-03-02T12:00:00Z")));
        assert_eq!(night.to_string(), "22:00-06:00");
        for bad in [
            "8:00-18:00",
            "08:00",
            "24:00-01:00",
            "08:00-08:00",
            "aa:bb-cc:dd",
            "",
        ] {
            assert!(bad.parse::<DailyWindow>().is_err(), "{bad}");
        }
    }

    #[test]
    fn weekdays_follow_the_calendar() {
        assert_eq!(Weekday::of(Timestamp::EPOCH), Weekday::Thu);
        assert_eq!(Weekday::of(at("2026-03-02T10:00:00Z")), Weekday::Mon);
        assert_eq!(Weekday::of(at("2026-03-08T23:59:59Z")), Weekday::Sun);
    }

    #[test]
    fn missing_context_is_unknown_not_false() {
        let needs_time = Conditions {
            hours: Some("08:00-18:00".parse().unwrap()),
            ..Conditions::default()
        };
        assert_eq!(
            needs_time.evaluate(&RequestContext::default()),
            Truth::Unknown
        );

        let needs_fresh_token = Conditions {
            max_token_age: Some(Duration::from_secs(900)),
            ..Conditions::default()
        };
        assert_eq!(
            needs_fresh_token.evaluate(&RequestContext::default()),
            Truth::Unknown
        );
    }

    #[test]
    fn a_definite_failure_beats_an_unknown() {
        let both = Conditions {
            incident: Some(true),
            hours: Some("08:00-18:00".parse().unwrap()),
            ..Conditions::default()
        };
        assert_eq!(both.evaluate(&RequestContext::default()), Truth::Fails);
    }

    #[test]
    fn attribute_tests_are_unknown_on_missing_or_mistyped_values() {
        let all_eu = AttributeTest::AllIn(vec!["eu-west-1".into()]);
        assert_eq!(all_eu.evaluate(None), Truth::Unknown);
        assert_eq!(
            all_eu.evaluate(Some(&ContextValue::Number(3))),
            Truth::Unknown
        );
        let regions = ContextValue::List(vec!["eu-west-1".into(), "us-east-1".into()]);
        assert_eq!(all_eu.evaluate(Some(&regions)), Truth::Fails);
        let any_eu = AttributeTest::AnyIn(vec!["eu-west-1".into()]);
        assert_eq!(any_eu.evaluate(Some(&regions)), Truth::Holds);

        let equals = AttributeTest::Equals(ContextValue::Number(2));
        assert_eq!(
            equals.evaluate(Some(&ContextValue::Text("2".into()))),
            Truth::Unknown
        );
        assert_eq!(
            equals.evaluate(Some(&ContextValue::Number(2))),
            Truth::Holds
        );
        assert_eq!(
            AttributeTest::AtMost(5).evaluate(Some(&ContextValue::Number(6))),
            Truth::Fails
        );
    }

    #[test]
    fn checks_refuse_rules_that_never_match() {
        let inverted = Conditions {
            not_before: Some(at("2026-02-01T00:00:00Z")),
            not_after: Some(at("2026-01-01T00:00:00Z")),
            ..Conditions::default()
        };
        assert!(inverted.check().is_err());
        let mut odd_name = Conditions::default();
        odd_name
            .attributes
            .insert("bad name".into(), AttributeTest::AtLeast(1));
        assert!(odd_name.check().is_err());
    }
}

//! Points in time and human-readable durations.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{CoreError, clip};

/// A point in time: whole nanoseconds since the Unix epoch, UTC.
///
/// It covers 1970 to 2554, is `Copy`, orders naturally, and is written as RFC 3339
/// (`2026-01-31T09:30:00Z`) in text, logs and serialized records. Display shows the
/// fraction of a second when there is one; the alternate form (`{:#}`) rounds down to
/// whole seconds, for reports people read.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// A timestamp from whole seconds since the epoch (saturating far in the future).
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }

    /// A timestamp from a system time; times before the epoch become the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn unix_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down.
    pub const fn unix_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    /// This time as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }

    /// This time plus `duration`, or `None` past the year 2554.
    pub fn checked_add(self, duration: Duration) -> Option<Self> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Self)
    }

    /// This time plus `duration`, stopping at the largest representable time.
    pub fn saturating_add(self, duration: Duration) -> Self {
        self.checked_add(duration).unwrap_or(Self(u64::MAX))
    }

    /// This time minus `duration`, stopping at the epoch.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(nanos))
    }

    /// How long after `earlier` this time is; zero when it is not later.
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = self.to_system_time();
        if f.alternate() || self.0.is_multiple_of(1_000_000_000) {
            write!(f, "{}", humantime::format_rfc3339_seconds(time))
        } else {
            write!(f, "{}", humantime::format_rfc3339_nanos(time))
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339_weak(s)
            .map(Self::from_system_time)
            .map_err(|_| CoreError::InvalidTimestamp { value: clip(s) })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads a duration such as `300s`, `5m`, `12h` or `90d`.
///
/// # Errors
///
/// [`CoreError::InvalidDuration`] when the text is not a number followed by a unit.
pub fn parse_duration(text: &str) -> Result<Duration, CoreError> {
    humantime::parse_duration(text.trim())
        .map_err(|_| CoreError::InvalidDuration { value: clip(text) })
}

/// Writes a duration the way [`parse_duration`] reads it, such as `1h 30m`.
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Writes a duration rounded for people: `3 days`, `2h 15m`, `42s`, `27ms`, `950us`.
///
/// Unlike [`format_duration`] it loses precision on purpose; use it for reports and
/// messages, never for values read back.
pub fn format_duration_rounded(duration: Duration) -> String {
    const DAY: u64 = 86_400;
    let secs = duration.as_secs();
    match secs {
        s if s >= 2 * DAY => format!("{} days", s / DAY),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s if s >= 1 => format!("{s}s"),
        _ if duration.as_millis() >= 1 => format!("{}ms", duration.as_millis()),
        _ => format!("{}us", duration.as_micros()),
    }
}

/// Serde helpers that write a [`Duration`] as human-readable text (`5m`, `90d`).
///
/// Use with `#[serde(with = "nhi_core::duration_text")]`.
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration as text.
    ///
    /// # Errors
    ///
    /// Only those of the serializer.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }

    /// Reads a duration written as text.
    ///
    /// # Errors
    ///
    /// When the text is not a number followed by a unit.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_rfc3339() {
        let t = Timestamp::from_unix_secs(1_767_225_600);
        assert_eq!(t.to_string(), "2026-01-01T00:00:00Z");
        assert_eq!("2026-01-01T00:00:00Z".parse::<Timestamp>().unwrap(), t);
        let fraction = Timestamp::from_unix_nanos(t.unix_nanos() + 1_500);
        assert_eq!(fraction.to_string(), "2026-01-01T00:00:00.000001500Z");
        assert_eq!(format!("{fraction:#}"), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Timestamp::from_unix_nanos(u64::MAX - 1);
        assert_eq!(t.checked_add(Duration::from_secs(1)), None);
        assert_eq!(t.saturating_add(Duration::MAX).unix_nanos(), u64::MAX);
        assert_eq!(
            Timestamp::EPOCH.saturating_sub(Duration::from_secs(5)),
            Timestamp::EPOCH
        );
        assert_eq!(Timestamp::EPOCH.duration_since(t), Duration::ZERO);
    }

    #[test]
    fn durations_read_human_units() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert!(parse_duration("five minutes").is_err());
    }

    #[test]
    fn rounded_durations_read_well() {
        assert_eq!(
            format_duration_rounded(Duration::from_secs(50 * 86_400 + 7)),
            "50 days"
        );
        assert_eq!(format_duration_rounded(Duration::from_secs(8100)), "2h 15m");
        assert_eq!(format_duration_rounded(Duration::from_secs(150)), "2m 30s");
        assert_eq!(
            format_duration_rounded(Duration::from_millis(26_714)),
            "26s"
        );
        assert_eq!(
            format_duration_rounded(Duration::from_micros(26_714)),
            "26ms"
        );
        assert_eq!(
            format_duration_rounded(Duration::from_nanos(950_400)),
            "950us"
        );
    }

    #[test]
    fn serde_uses_text() {
        let t = Timestamp::from_unix_secs(1_767_225_600);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-01-01T00:00:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}

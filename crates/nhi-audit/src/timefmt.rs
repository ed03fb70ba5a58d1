//! A fast writer of event times, byte for byte the RFC 3339 text of
//! [`Timestamp`]'s own `Display` (seconds when whole, else nine fraction digits).
//!
//! Writing events is the hot path of the audit trail, and the general formatter costs a
//! large share of it.

use nhi_core::Timestamp;
use serde::Serializer;

/// Serializes `time` as its RFC 3339 text.
pub(crate) fn serialize<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*time))
}

/// The RFC 3339 text of `time`, in UTC.
pub(crate) fn rfc3339(time: Timestamp) -> String {
    let mut bytes = Vec::with_capacity(30);
    push_rfc3339(&mut bytes, time);
    String::from_utf8(bytes).unwrap_or_default()
}

/// Appends the RFC 3339 text of `time` (ASCII only) to `out`.
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, time: Timestamp) {
    let nanos = time.unix_nanos();
    let secs = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;

    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, month, 2);
    out.push(b'-');
    push_digits(out, day, 2);
    out.push(b'T');
    push_digits(out, of_day / 3600, 2);
    out.push(b':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(b':');
    push_digits(out, of_day % 60, 2);
    if fraction != 0 {
        out.push(b'.');
        push_digits(out, fraction, 9);
    }
    out.push(b'Z');
}

/// Year, month and day of a count of days since 1970-01-01 (the proleptic Gregorian
/// calendar; days are never negative here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Appends `value` as exactly `width` decimal digits (zero-padded).
fn push_digits(out: &mut Vec<u8>, value: u64, width: u32) {
    let mut divisor = 10u64.pow(width.saturating_sub(1));
    while divisor > 0 {
        out.push(b'0' + u8::try_from(value / divisor % 10).unwrap_or(0));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_timestamp_display_everywhere() {
        let mut nanos: u64 = 0;
        let mut samples = vec![
            0,
            1_700_000_000_000_000_000,
            951_782_400_000_000_000,   // 2000-02-29
            4_102_444_799_999_999_999, // 2099-12-31T23:59:59.999999999
            u64::MAX,
        ];
        for _ in 0..20_000 {
            // A cheap walk over the range, with fractions and leap days.
            nanos = nanos
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            samples.push(nanos);
            samples.push(nanos / 1_000_000_000 * 1_000_000_000);
        }
        for sample in samples {
            let time = Timestamp::from_unix_nanos(sample);
            assert_eq!(rfc3339(time), time.to_string(), "{sample}");
        }
    }
}

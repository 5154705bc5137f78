//! Go duration strings (`"24h0m0s"`, `"6.01s"`, `"250ms"`), which OpenBao uses for autopilot
//! settings and state, to and from [`std::time::Duration`].

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses what Go's `time.Duration.String()` and `time.ParseDuration` produce: one or more
/// `<number>[.<fraction>]<unit>` groups, units `h m s ms us µs ns`. Negative durations are
/// rejected (no OpenBao field we read can be negative). A bare number is read as seconds,
/// which is how OpenBao's `parseutil` treats integers.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" | "μs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        total_nanos = total_nanos.checked_add(whole.checked_mul(unit_nanos)?)?;
        // The fraction is scaled digit by digit so "6.010041776s" stays exact in nanoseconds.
        let mut scale = unit_nanos;
        for digit in fraction.chars() {
            let digit = u128::from(digit.to_digit(10)?);
            scale /= 10;
            total_nanos = total_nanos.checked_add(digit * scale)?;
        }
        rest = after;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).ok()?;
    let nanos = u32::try_from(total_nanos % 1_000_000_000).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Formats a duration so `time.ParseDuration` reads it back exactly: whole seconds as `"Ns"`,
/// whole milliseconds as `"Nms"`, anything finer in nanoseconds.
pub(crate) fn format_go_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}ns", duration.as_nanos())
    }
}

/// serde adapter for an optional Go duration string (absent, null or empty is `None`).
pub(crate) mod go_option {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => parse_go_duration(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expected a Go duration such as \"10s\"")),
        }
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_str(&format_go_duration(*duration)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings_parse_exactly() {
        let cases = [
            ("0s", Duration::ZERO),
            ("24h0m0s", Duration::from_secs(86_400)),
            ("6.010041776s", Duration::new(6, 10_041_776)),
            ("1m30.5s", Duration::from_millis(90_500)),
            ("250ms", Duration::from_millis(250)),
            ("3us", Duration::from_micros(3)),
            ("3µs", Duration::from_micros(3)),
            ("7ns", Duration::from_nanos(7)),
            ("10", Duration::from_secs(10)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text), Some(expected), "{text}");
        }
        for bad in ["", "-1s", "1x", "s", "1.2.3s", "."] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatted_durations_parse_back_to_the_same_value() {
        for duration in [
            Duration::from_secs(2),
            Duration::from_millis(1500),
            Duration::new(1, 7),
        ] {
            let text = format_go_duration(duration);
            assert_eq!(parse_go_duration(&text), Some(duration), "{text}");
        }
        assert_eq!(format_go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1500ms");
    }
}

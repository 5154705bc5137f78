//! Go durations (`time.ParseDuration`) such as `720h` or `1h30m`.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parse a Go duration (`time.ParseDuration`) such as `720h`, `1h30m`, `90m`, `1.5h` or
/// `500ms`: a sequence of numbers with units ns, us (µs), ms, s, m, h. Signs are refused
/// because every duration in the spec is a positive span.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("must not be empty".to_string());
    }
    if s.starts_with('-') || s.starts_with('+') {
        return Err("must be positive, without a sign".to_string());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after) = rest.strip_prefix('.') {
            let frac_len = after.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after[..frac_len];
            rest = &after[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err("expected a number before each unit".to_string());
        }
        let units: [(&str, u128); 8] = [
            ("ns", 1),
            ("us", 1_000),
            ("µs", 1_000),
            ("μs", 1_000),
            ("ms", 1_000_000),
            ("h", 3_600 * NANOS_PER_SEC),
            ("m", 60 * NANOS_PER_SEC),
            ("s", NANOS_PER_SEC),
        ];
        let Some((unit, per)) = units.iter().find(|(u, _)| rest.starts_with(u)) else {
            return Err("each number needs a unit: h, m, s, ms, us or ns".to_string());
        };
        rest = &rest[unit.len()..];
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse::<u128>()
                .map_err(|_| "is too large".to_string())?
        };
        // Fraction digits beyond 18 are below a nanosecond of any unit up to hours.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        for d in frac_digits.bytes() {
            frac = frac * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        let part = int
            .checked_mul(*per)
            .and_then(|v| v.checked_add(frac * per / scale))
            .ok_or_else(|| "is too large".to_string())?;
        total = total
            .checked_add(part)
            .ok_or_else(|| "is too large".to_string())?;
        if total > i64::MAX as u128 {
            return Err("is too large (at most about 2562047h)".to_string());
        }
    }
    let nanos = u64::try_from(total).map_err(|_| "is too large".to_string())?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_sum_their_parts() {
        let h = 3600;
        assert_eq!(parse_go_duration("720h"), Ok(Duration::from_secs(720 * h)));
        assert_eq!(
            parse_go_duration("1h30m"),
            Ok(Duration::from_secs(h + 1800))
        );
        assert_eq!(parse_go_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_go_duration("1ms2us3ns"),
            Ok(Duration::from_nanos(1_002_003))
        );
        assert_eq!(parse_go_duration("1µs"), Ok(Duration::from_micros(1)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "1",
            "h",
            "1d",
            "-1h",
            "+1h",
            "1h 30m",
            "1.h.5",
            "99999999999999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}

//! 5-field cron schedules and the `@daily`-style macros Kubernetes CronJobs accept.

/// A parsed 5-field cron schedule. Each field is a bit set: bit `n` set means value `n`
/// matches. Day-of-week bit 0 is Sunday (7 is folded into 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    /// Minutes 0-59.
    pub minutes: u64,
    /// Hours 0-23.
    pub hours: u32,
    /// Days of the month 1-31.
    pub days_of_month: u32,
    /// Months 1-12.
    pub months: u16,
    /// Days of the week 0-6 (Sunday = 0).
    pub days_of_week: u8,
    /// Day-of-month was restricted (did not start with `*`).
    pub day_of_month_restricted: bool,
    /// Day-of-week was restricted (did not start with `*`).
    pub day_of_week_restricted: bool,
}

impl CronSchedule {
    /// Whether the schedule fires on this day at all (day of the month, month, weekday).
    pub fn day_matches(&self, day: u32, month: u32, weekday: u32) -> bool {
        let bit = |set: u64, n: u32| n < 64 && set & (1u64 << n) != 0;
        let dom = bit(u64::from(self.days_of_month), day);
        let dow = bit(u64::from(self.days_of_week), weekday % 7);
        let day_ok = if self.day_of_month_restricted && self.day_of_week_restricted {
            dom || dow
        } else {
            dom && dow
        };
        bit(u64::from(self.months), month) && day_ok
    }

    /// Whether the schedule fires in this hour of a matching day.
    pub fn hour_matches(&self, hour: u32) -> bool {
        hour < 32 && self.hours & (1u32 << hour) != 0
    }

    /// The shortest time between two firings within a day, in minutes, counting the gap from a
    /// day's last firing to the next day's first as if the next day fired too (the worst case).
    pub fn shortest_interval_minutes(&self) -> u32 {
        let fires: Vec<u32> = (0..24u32)
            .filter(|h| self.hour_matches(*h))
            .flat_map(|h| {
                (0..60u32)
                    .filter(|m| self.minutes & (1u64 << m) != 0)
                    .map(move |m| h * 60 + m)
            })
            .collect();
        let mut shortest = match (fires.first(), fires.last()) {
            (Some(first), Some(last)) => first + 24 * 60 - last,
            _ => return u32::MAX,
        };
        for pair in fires.windows(2) {
            shortest = shortest.min(pair[1] - pair[0]);
        }
        shortest
    }

    /// Whether the schedule fires at this minute. As in classic cron, when both the day of
    /// the month and the day of the week are restricted, either one matching is enough.
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        minute < 64
            && self.minutes & (1u64 << minute) != 0
            && self.hour_matches(hour)
            && self.day_matches(day, month, weekday)
    }
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ...
    names: &'static [&'static str],
    allowed: &'static str,
}

const CRON_FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        allowed: "0-59",
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        allowed: "0-23",
    },
    CronField {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        allowed: "1-31",
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
        allowed: "1-12 or JAN-DEC",
    },
    CronField {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &DAY_NAMES,
        allowed: "0-7 or SUN-SAT (0 and 7 are Sunday)",
    },
];

fn cron_value(field: &CronField, s: &str) -> Result<u32, String> {
    if let Some(i) = field.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(field.min + i as u32);
    }
    let out_of_range = || {
        format!(
            "{} field: {s:?} is not allowed; use {}",
            field.name, field.allowed
        )
    };
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(out_of_range());
    }
    let n: u32 = s.parse().map_err(|_| out_of_range())?;
    if n < field.min || n > field.max {
        return Err(out_of_range());
    }
    Ok(n)
}

fn cron_field(field: &CronField, s: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for item in s.split(',') {
        if item.is_empty() {
            return Err(format!("{} field: empty list element", field.name));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = match step.parse() {
                    Ok(n) if n >= 1 && n <= field.max && !step.starts_with('+') => n,
                    _ => {
                        return Err(format!(
                            "{} field: step {step:?} must be a number from 1 to {}",
                            field.name, field.max
                        ));
                    }
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (cron_value(field, a)?, cron_value(field, b)?);
            if a > b {
                return Err(format!(
                    "{} field: range {range:?} runs backwards (wrap-around ranges are not \
                     supported)",
                    field.name
                ));
            }
            (a, b)
        } else {
            let a = cron_value(field, range)?;
            // `5/15` means "from 5 to the end, every 15", as in most cron implementations.
            (a, if step.is_some() { field.max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            set |= 1u64 << v;
            v += step;
        }
    }
    Ok(set)
}

/// Parse a standard 5-field cron schedule (minute hour day-of-month month day-of-week, in
/// UTC) with `*`, lists, ranges, steps and month/day names, or one of the macros
/// `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`), which
/// Kubernetes CronJobs also accept. Seconds, `?`, `L`, `W`, `#` and time zones are refused.
pub fn parse_cron(s: &str) -> Result<CronSchedule, String> {
    let s = s.trim();
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err("time zones are not supported: the schedule is in UTC".to_string());
    }
    let expanded = match s {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => {
            return Err(format!(
                "unknown macro {other:?}: use @hourly, @daily, @weekly, @monthly or @yearly"
            ));
        }
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        let hint = if fields.len() == 6 {
            " (a seconds field is not supported)"
        } else {
            ""
        };
        return Err(format!(
            "must have 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
            fields.len()
        ));
    }
    let mut sets = [0u64; 5];
    for (i, (field, text)) in CRON_FIELDS.iter().zip(&fields).enumerate() {
        sets[i] = cron_field(field, text)?;
    }
    // Day-of-week 7 is Sunday.
    let mut dow = sets[4];
    if dow & (1 << 7) != 0 {
        dow = (dow & !(1 << 7)) | 1;
    }
    let schedule = CronSchedule {
        minutes: sets[0],
        hours: sets[1] as u32,
        days_of_month: sets[2] as u32,
        months: sets[3] as u16,
        days_of_week: dow as u8,
        day_of_month_restricted: !fields[2].starts_with('*'),
        day_of_week_restricted: !fields[4].starts_with('*'),
    };
    // A day-of-month that no selected month has (such as 30 2) never fires.
    if schedule.day_of_month_restricted && !schedule.day_of_week_restricted {
        const DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let possible = (1..=12u32).any(|m| {
            schedule.months & (1 << m) != 0
                && (1..=DAYS_IN_MONTH[(m - 1) as usize])
                    .any(|d| schedule.days_of_month & (1 << d) != 0)
        });
        if !possible {
            return Err(
                "never fires: no selected month has the selected day of the month".to_string(),
            );
        }
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules_have_five_fields_with_ranges_lists_steps_and_names() {
        let s = parse_cron("0 */6 * * *").expect("valid");
        assert_eq!(s.hours, 1 | 1 << 6 | 1 << 12 | 1 << 18);
        assert!(s.matches(0, 6, 15, 3, 2));
        assert!(!s.matches(1, 6, 15, 3, 2));
        let s = parse_cron("30 2 * JAN-MAR mon-fri,7").expect("valid");
        assert_eq!(s.months, 0b1110);
        assert_eq!(s.days_of_week, 0b0111111);
        let s = parse_cron("5/20 * * * *").expect("valid");
        assert_eq!(s.minutes, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(parse_cron("@daily"), parse_cron("0 0 * * *"));
        // Both day fields restricted: either matches.
        let s = parse_cron("0 0 1 * 1").expect("valid");
        assert!(s.matches(0, 0, 1, 5, 3));
        assert!(s.matches(0, 0, 9, 5, 1));
        assert!(!s.matches(0, 0, 9, 5, 3));
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "1,,2 * * * *",
            "0 0 30 2 *",
            "@every 1h",
            "TZ=UTC 0 * * * *",
            "? * * * *",
            "* * * FOO *",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }
}

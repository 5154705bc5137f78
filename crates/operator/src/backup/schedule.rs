//! When a backup is due: the next minute after a given time that a `spec.backup.schedule`
//! (5-field cron, UTC) selects.

use api::validate::rules::CronSchedule;
use time::{Duration, OffsetDateTime, Time, UtcOffset};

/// How far ahead [`next_run`] looks: every valid schedule fires within four years (February
/// 29th on a given weekday takes the longest).
const HORIZON_DAYS: i64 = 4 * 366 + 7;

/// The first whole minute strictly after `after` that `schedule` selects (UTC), or `None` when
/// it never fires within [`HORIZON_DAYS`] (validation refuses such schedules).
pub fn next_run(schedule: &CronSchedule, after: OffsetDateTime) -> Option<OffsetDateTime> {
    let after = after.to_offset(UtcOffset::UTC);
    // The next whole minute.
    let mut t = after.replace_time(Time::from_hms(after.hour(), after.minute(), 0).ok()?)
        + Duration::minutes(1);
    let end = after + Duration::days(HORIZON_DAYS);
    while t <= end {
        let (month, day, weekday) = (
            u32::from(u8::from(t.month())),
            u32::from(t.day()),
            u32::from(t.weekday().number_days_from_sunday()),
        );
        // Skip whole days, then whole hours, that cannot match.
        if !schedule.day_matches(day, month, weekday) {
            t = t.replace_time(Time::MIDNIGHT) + Duration::days(1);
            continue;
        }
        if !schedule.hour_matches(u32::from(t.hour())) {
            t = t.replace_time(Time::from_hms(t.hour(), 0, 0).ok()?) + Duration::hours(1);
            continue;
        }
        if schedule.matches(
            u32::from(t.minute()),
            u32::from(t.hour()),
            day,
            month,
            weekday,
        ) {
            return Some(t);
        }
        t += Duration::minutes(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::validate::rules::parse_cron;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).expect("time")
    }

    // 2026-12-02T09:05:07Z, a Wednesday.
    const NOW: i64 = 1_796_202_307;

    #[test]
    fn the_next_run_is_the_next_selected_minute_strictly_after_now() {
        let daily = parse_cron("0 3 * * *").expect("cron");
        // Tomorrow 03:00.
        assert_eq!(next_run(&daily, at(NOW)), Some(at(1_796_266_800)));
        let every_quarter = parse_cron("*/15 * * * *").expect("cron");
        // 09:15 today.
        assert_eq!(next_run(&every_quarter, at(NOW)), Some(at(1_796_202_900)));
        // Exactly on a firing minute: the next one, not this one.
        assert_eq!(
            next_run(&every_quarter, at(1_796_202_900)),
            Some(at(1_796_203_800))
        );
        let sundays = parse_cron("30 1 * * 0").expect("cron");
        // Sunday 2026-12-06 01:30.
        assert_eq!(next_run(&sundays, at(NOW)), Some(at(1_796_520_600)));
        let leap = parse_cron("0 0 29 2 *").expect("cron");
        let next = next_run(&leap, at(NOW)).expect("fires in 2028");
        assert_eq!(
            (next.year(), u8::from(next.month()), next.day()),
            (2028, 2, 29)
        );
    }
}
